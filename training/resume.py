"""A run's compact resume file: small enough to commit, so training continues in the next session.

checkpoint.pt (weights + AdamW moments, ~60 MB) stays out of git; resume.pt holds the weights only:
matrices that are sparse as indices (int32) + fp32 values, everything else (norms, sinks, the bigram
table, matrices still dense early in a run) in fp16. `train.py` resumes from it when checkpoint.pt
is missing, with fresh optimizer moments.
"""

from __future__ import annotations

from pathlib import Path

import torch

COMPACT_NAME = "resume.pt"
# Store a matrix as indices + values when fewer than this share of it is nonzero: int32 index + fp32 value
# take 8 bytes a nonzero, fp16 takes 2 an entry, so the sparse form is the smaller one below a quarter. (At
# the half this was before, a d_model 256 run halfway through its density annealing, with the bigram table
# switched on, would have written ~19 MB, over the 15 MB a commit may carry; now at most ~14 MB.)
SPARSE_BELOW = 0.25


def save_compact(model: torch.nn.Module, meta: dict, path: Path) -> None:
    tensors = {}
    for name, t in model.state_dict().items():
        t = t.detach().cpu()
        nz = t.flatten().nonzero().flatten()
        if t.ndim == 2 and nz.numel() < SPARSE_BELOW * t.numel():
            tensors[name] = {"shape": list(t.shape), "index": nz.to(torch.int32), "value": t.flatten()[nz].float()}
        else:
            tensors[name] = {"shape": list(t.shape), "dense": t.half()}
    tmp = path.with_suffix(".tmp")
    torch.save({"meta": meta, "tensors": tensors}, tmp)
    tmp.replace(path)  # never leave a half-written file where a resume would read it


def load_compact(path: Path, device: torch.device | str = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """→ (state dict in fp32, meta {step, tokens, total_steps, config, model_config, finetune})."""
    saved = torch.load(path, weights_only=True, map_location="cpu")
    state = {}
    for name, t in saved["tensors"].items():
        if "dense" in t:
            state[name] = t["dense"].float()
        else:
            flat = torch.zeros(int(torch.tensor(t["shape"]).prod()))
            flat[t["index"].long()] = t["value"]
            state[name] = flat.view(t["shape"])
    return {k: v.to(device) for k, v in state.items()}, saved["meta"]
