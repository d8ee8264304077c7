"""The weight-sparsity constraint: per-matrix top-k magnitude projection with a per-neuron floor.

After every optimizer step each sparse matrix W [out, in] keeps exactly k = round(density · numel)
nonzeros: first, for every row and every column, its MIN_PER_NEURON largest-|w| entries (so no neuron,
residual channel or attention channel is left with fewer than 4 connections), then the largest
remaining entries up to k. A matrix whose floor alone needs more than k keeps its floor (the `wide`
run's 256 × 256 matrices at 1/45: 1,456 asked, ~1,900 forced) — more nonzeros than the density says, so
that no neuron is cut off. The density is annealed linearly from 1 to the target between two fractions
of training (from the start to the half, in the original recipe).
"""

from __future__ import annotations

import torch

MIN_PER_NEURON = 4


def ramp(step: int, total_steps: int, begin_frac: float, end_frac: float) -> float:
    """0 until `begin_frac` of training, 1 from `end_frac` on, linear in between."""
    begin, end = begin_frac * total_steps, max(begin_frac * total_steps + 1, end_frac * total_steps)
    return min(1.0, max(0.0, (step - begin) / (end - begin)))


def density_at(step: int, total_steps: int, target: float, anneal_frac: float = 0.5, begin_frac: float = 0.0) -> float:
    """Dense until `begin_frac` of training, `target` from `anneal_frac` on, linear in between."""
    if anneal_frac <= 0:  # already sparse (a fine-tune of a trained run): the target from the first step
        return target
    return 1.0 + (target - 1.0) * ramp(step, total_steps, begin_frac, anneal_frac)


def nonzeros_for(numel: int, density: float) -> int:
    return max(1, int(round(density * numel)))


def floor_mask(w: torch.Tensor) -> torch.Tensor:
    """Bool mask [out, in] of each row's and each column's MIN_PER_NEURON largest-|w| entries."""
    a = w.abs()
    mask = torch.zeros_like(w, dtype=torch.bool)
    kr = min(MIN_PER_NEURON, w.shape[1])
    kc = min(MIN_PER_NEURON, w.shape[0])
    mask.scatter_(1, a.topk(kr, dim=1).indices, True)
    mask.scatter_(0, a.topk(kc, dim=0).indices, True)
    return mask


@torch.no_grad()
def project_(w: torch.Tensor, k: int) -> int:
    """Zero all but k entries of w in place (the floor first, then largest magnitude); where the floor alone
    needs more than k, keep the floor. Returns the entries kept."""
    if k >= w.numel():
        return w.numel()
    forced = floor_mask(w)
    n_forced = int(forced.sum())
    if n_forced >= k:
        w.mul_(forced)
        return n_forced
    # rank the non-forced entries by magnitude; forced ones get +inf so they are always in the top k
    score = torch.where(forced, torch.full_like(w, float("inf")), w.abs()).flatten()
    keep = torch.zeros(w.numel(), dtype=torch.bool, device=w.device)
    keep[score.topk(k, sorted=False).indices] = True
    w.mul_(keep.view_as(w))
    return k


@torch.no_grad()
def project_model_(params: dict[str, torch.nn.Parameter], density: float) -> dict[str, int]:
    """Project every sparse parameter; returns {name: entries kept}."""
    return {name: project_(p.data, nonzeros_for(p.numel(), density)) for name, p in params.items()}
