"""A compacted graph for an imported weight-sparse model (issue 18): what is dead, and a GPT without it.

Dead nodes per layer of a model folder: python -m training.bench_openai --dead-only (training/bench_openai.py).

Two kinds of dead, and only the first may be dropped from a graph with AbsTopK at that location:
- unwritten: every weight into the node and its bias are zero (training/alive.py), so it is exactly 0 on
  every input. AbsTopK over the location keeps the same set without it: with k ≤ alive count the k-th
  largest |x| of the alive entries is the k-th largest of all of them (the rest are 0 and sort last);
  with k > alive count every alive entry is kept either way. Mean and zero ablation leave it 0.
- unread: every weight out of it is zero (an MLP neuron no c_proj column reads, a v channel no c_proj
  column reads, a q/k channel whose partner in the same head is unwritten, so its score term q_c·k_c is 0).
  It does not reach the output directly, but it still takes a value the editor can show, and where
  AbsTopK runs over its location it competes for the k kept slots, so dropping it would change which
  others are kept.
A head is dead when none of its v channels is both written and read: its output is 0 whatever it attends to.

compact_gpt drops unwritten MLP neurons and heads with no q, k or v channel written (each layer its own
widths; a layer with none alive keeps one dead one, as a width of 0 would not export; a layer's MLP or
attention that would lose less than MIN_DROPPED of its width stays whole) and keeps the model's outside as
it was: its config, node layout, node-mask inputs and records name the ORIGINAL nodes.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from . import model as model_mod
from .alive import alive_masks
from .model import GPT, Block, GPTConfig, NodeHooks, k_for, site_dims

# A compacted location's record is spread back to its full width (a Gather over every position), which
# costs about what dropping an eighth of it saves: in a 256-token yolo1-shaped window the spread of the MLP
# neurons took 3.6 % and the MLP's products, GELU and AbsTopK ~30 %, and with 1.8 % of the neurons dead
# the compacted graph ran at 1.02× the full graph's CPU time (docs/BENCHMARKS.md, session 10).
MIN_DROPPED = 1 / 8


def _read(weight: torch.Tensor) -> torch.Tensor:
    """Inputs of a Linear that some weight reads [in] (bool)."""
    return (weight != 0).any(dim=0)


@torch.no_grad()
def dead_per_layer(gpt: GPT) -> list[dict]:
    """Per layer, how many nodes of each location are dead, of how many (the kinds above)."""
    cfg = gpt.cfg
    nh, dh = cfg.n_head, cfg.d_head
    masks = alive_masks(gpt)
    rows = []
    for L, block in enumerate(gpt.transformer.h):
        q, k, v = (masks[f"{L}.attn.{s}"] for s in "qkv")  # [nh*dh] each: written
        v_read = _read(block.attn.c_proj.weight)  # [nh*dh]
        heads_live = (v & v_read).view(nh, dh).any(dim=1)  # [nh]
        post = masks[f"{L}.mlp.post_act"]  # [d_mlp]
        post_read = _read(block.mlp.c_proj.weight)
        rows.append(
            {
                "layer": L,
                "resid_unwritten": [int((~masks[f"{L}.attn.act_in"]).sum()), cfg.d_model],
                "q_unwritten": [int((~q).sum()), nh * dh],
                "k_unwritten": [int((~k).sum()), nh * dh],
                "v_unwritten": [int((~v).sum()), nh * dh],
                "qk_pair_dead": [int((~(q & k)).sum()), nh * dh],
                "v_unread": [int((v & ~v_read).sum()), nh * dh],
                "heads_dead": [int((~heads_live).sum()), nh],
                "mlp_unwritten": [int((~post).sum()), cfg.d_mlp],
                "mlp_unread": [int((post & ~post_read).sum()), cfg.d_mlp],
            }
        )
    return rows


def dead_totals(rows: list[dict]) -> dict[str, list[int]]:
    """The per-layer counts summed over layers: {kind: [dead, total]}."""
    kinds = [key for key in rows[0] if key != "layer"]
    return {key: [sum(r[key][0] for r in rows), sum(r[key][1] for r in rows)] for key in kinds}


def _kept(alive: torch.Tensor) -> torch.Tensor:
    """The alive indices in original order, or index 0 alone where none is alive [n ≥ 1] (long); every index
    where dropping the rest would drop less than MIN_DROPPED of them."""
    width, idx = len(alive), alive.nonzero().squeeze(1)
    if width - len(idx) < MIN_DROPPED * width:
        return torch.arange(width)
    return idx if len(idx) else torch.zeros(1, dtype=torch.long)


class CompactHooks(NodeHooks):
    """NodeHooks of the full model for a forward at compact widths. A compacted location takes its mask and
    fill at the kept indices (a dead node's fill is its mean, 0, so it is 0 in the full model too) and is
    recorded at full width, dead entries 0, by gathering rather than scattering (a Gather in the graph,
    cheaper than ScatterElements). AbsTopK keeps k of the ORIGINAL width: the dropped entries are exactly 0,
    so the k-th largest |x| is the same (module docstring)."""

    def __init__(self, cfg, gpt: CompactGPT, *args, **kwargs):
        super().__init__(cfg, *args, **kwargs)
        self.gpt, self.widths = gpt, site_dims(cfg)

    def topk(self, x: torch.Tensor, site: str) -> torch.Tensor:
        if self.afrac is None or site not in self.topk_sites:
            return x
        # looked up at call time, as NodeHooks.topk does, so that the export's formulation
        # (export.exported_abs_topk: the k largest at widths ≥ 512) is traced here too
        return model_mod.abs_topk(x, k_for(self.widths[site], self.afrac))

    def __call__(self, name: str, x: torch.Tensor) -> torch.Tensor:
        keep = self.gpt.keep.get(name)
        if keep is None:
            return super().__call__(name, x)
        lo, hi = self.slices[name]
        if self.node_mask is not None:
            x = x * self.node_mask[..., lo:hi].index_select(-1, keep) + self.fill_term[..., lo:hi].index_select(-1, keep)
        if self.record:
            at, present = self.gpt.spread[name]
            self.recorded[name] = x.index_select(-1, at) * present  # [..., original width]
        return x


class CompactGPT(GPT):
    """A GPT whose blocks run at their own compact widths (`layers`: one config per block) while `cfg` stays
    the full model's (NodeInterface, the node layout and the bundle see the original nodes); `keep` names
    each compacted location's original indices."""

    def __init__(self, full: GPTConfig, layers: list[GPTConfig], keep: dict[str, torch.Tensor]):
        super().__init__(replace(full, n_layer=0))  # no full-width blocks to build and throw away
        self.transformer.h = torch.nn.ModuleList([Block(c) for c in layers])
        self.cfg, self.keep = full, keep
        # per compacted location, for each original index: where it is in the compact vector (dead: 0) and
        # whether it is there at all (1/0) → ([original width] long, [original width] float)
        self.spread = {}
        for name, idx in keep.items():
            width = site_dims(full)[name.split(".", 1)[1]]
            at, present = torch.zeros(width, dtype=torch.long), torch.zeros(width)
            at[idx], present[idx] = torch.arange(len(idx)), 1.0
            self.spread[name] = (at, present)

    def hooks(self, node_mask=None, node_fill=None, record: bool = False, norm_scales: dict | None = None) -> NodeHooks:
        return CompactHooks(self.cfg, self, node_mask, node_fill, record, norm_scales, afrac=self.afrac_now)


@torch.no_grad()
def compact_gpt(gpt: GPT) -> CompactGPT:
    """The same model without its unwritten MLP neurons and its heads with nothing written (module docstring)."""
    cfg, masks = gpt.cfg, alive_masks(gpt)
    nh, dh, hd = cfg.n_head, cfg.d_head, cfg.n_head * cfg.d_head
    heads = [(masks[f"{L}.attn.q"] | masks[f"{L}.attn.k"] | masks[f"{L}.attn.v"]).view(nh, dh).any(1) for L in range(cfg.n_layer)]  # [nh] each
    neurons = [masks[f"{L}.mlp.post_act"] for L in range(cfg.n_layer)]  # [d_mlp] each
    keep, state, layers = {}, dict(gpt.state_dict()), []
    for L in range(cfg.n_layer):
        p = f"transformer.h.{L}."
        kept_heads, neur = _kept(heads[L]), _kept(neurons[L])
        layers.append(replace(cfg, n_head=len(kept_heads), d_mlp=len(neur)))
        chans = (kept_heads[:, None] * dh + torch.arange(dh)).reshape(-1)  # [nh' * dh] original q/k/v channels
        rows = torch.cat([chans + i * hd for i in range(3)])
        state[p + "attn.c_attn.weight"] = state[p + "attn.c_attn.weight"][rows]
        state[p + "attn.c_proj.weight"] = state[p + "attn.c_proj.weight"][:, chans]
        if cfg.bias:
            state[p + "attn.c_attn.bias"] = state[p + "attn.c_attn.bias"][rows]
        if cfg.sink:
            state[p + "attn.sink_logit"] = state[p + "attn.sink_logit"][kept_heads]
        state[p + "mlp.c_fc.weight"] = state[p + "mlp.c_fc.weight"][neur]
        state[p + "mlp.c_proj.weight"] = state[p + "mlp.c_proj.weight"][:, neur]
        if cfg.bias:
            state[p + "mlp.c_fc.bias"] = state[p + "mlp.c_fc.bias"][neur]
        # only locations that lose something: a kept-everything one would pay gathers for nothing
        if len(kept_heads) < nh:
            keep.update({f"{L}.attn.{s}": chans for s in "qkv"})
        if len(neur) < cfg.d_mlp:
            keep[f"{L}.mlp.post_act"] = neur
    out = CompactGPT(cfg, layers, keep)
    out.load_state_dict(state)
    out.afrac_now, out.bigram_on = gpt.afrac_now, gpt.bigram_on
    out.chunk_queries(gpt.transformer.h[0].attn.query_chunks)
    return out.eval()
