"""Which nodes of a weight-sparse GPT can ever be nonzero: the room a compacted graph would have.

A node is dead when nothing writes it: every weight into it and its bias are zero (a q/k/v channel, an
MLP neuron — GELU(0) = ReLU(0) = 0 — or a residual write), or, for a residual channel read by a norm
(act_in), when no embedding, bias or residual write ever puts anything in that channel, or its norm
gain is zero. Dead nodes are 0 on every input, so under mean or zero ablation they stay 0 and AbsTopK
never prefers them; a graph may drop them. Released models are trained sparse and lose many neurons;
random fixtures lose almost none.
"""

from __future__ import annotations

import torch

from .model import GPT, node_layout


def _written(weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Outputs of a Linear with any nonzero weight or bias [out] (bool)."""
    out = (weight != 0).any(dim=1)
    return out if bias is None else out | (bias != 0)


@torch.no_grad()
def alive_masks(gpt: GPT) -> dict[str, torch.Tensor]:
    """Per node location (node_layout's names), which entries can be nonzero [width] (bool)."""
    cfg, t = gpt.cfg, gpt.transformer
    hd = cfg.n_head * cfg.d_head
    resid = (t.wte.weight != 0).any(dim=0)  # [d]: channels the token embedding writes
    if t.wpe is not None:
        resid |= (t.wpe.weight != 0).any(dim=0)
    masks = {}
    for L, block in enumerate(t.h):
        a, m = block.attn, block.mlp
        masks[f"{L}.attn.act_in"] = resid & (block.ln_1.weight != 0)
        qkv = _written(a.c_attn.weight, a.c_attn.bias)
        for i, s in enumerate(("q", "k", "v")):
            masks[f"{L}.attn.{s}"] = qkv[i * hd : (i + 1) * hd]
        masks[f"{L}.attn.resid_delta"] = _written(a.c_proj.weight, a.c_proj.bias)
        resid = resid | masks[f"{L}.attn.resid_delta"]
        masks[f"{L}.mlp.act_in"] = resid & (block.ln_2.weight != 0)
        masks[f"{L}.mlp.post_act"] = _written(m.c_fc.weight, m.c_fc.bias)
        masks[f"{L}.mlp.resid_delta"] = _written(m.c_proj.weight, m.c_proj.bias)
        resid = resid | masks[f"{L}.mlp.resid_delta"]
    return masks


def alive_summary(gpt: GPT) -> dict:
    """Alive nodes in all and per site kind (e.g. "mlp.post_act": [alive, total] over every layer)."""
    masks = alive_masks(gpt)
    per_site: dict[str, list[int]] = {}
    for e in node_layout(gpt.cfg):
        site = e["name"].split(".", 1)[1]
        counts = per_site.setdefault(site, [0, 0])
        counts[0] += int(masks[e["name"]].sum())
        counts[1] += e["length"]
    alive = sum(c[0] for c in per_site.values())
    total = sum(c[1] for c in per_site.values())
    return {"alive_nodes": alive, "total_nodes": total, "alive_by_site": per_site}
