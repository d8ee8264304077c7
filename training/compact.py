"""How much of an imported weight-sparse model a compacted graph could drop: dead nodes per layer (issue 18).

    python -m training.compact --model DIR        (one of OpenAI's model folders, or a fixture of it)

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
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from .alive import alive_masks
from .import_openai import load_model
from .model import GPT


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="folder with beeg_config.json and final_model.pt")
    args = ap.parse_args()
    gpt, _ = load_model(args.model)
    rows = dead_per_layer(gpt)
    print(json.dumps({"per_layer": rows, "total": dead_totals(rows)}))


if __name__ == "__main__":
    main()
