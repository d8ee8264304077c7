"""Mask learning for pruning (Gao et al. 2025 §2.2): one mask logit τ per node (every node location).

Forward: hard step mask = [τ > 0]; backward: the derivative of sigmoid(τ / temp) (a straight-through
surrogate). Pruned nodes are mean-ablated at their mean over validation text. Objective: task loss +
λ · (open nodes), plus, when asked, the shortfall of the mean logit difference below a share of the
model's. τ is clamped to [−1, 1]. circuit_search.py turns the learned τ into a circuit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import tasks as tasks_mod
from .model import GPT, n_nodes


@dataclass
class PruneConfig:
    steps: int = 200
    batch: int = 32
    lr: float = 1e-2
    k_coef: float = 1e-3  # λ per open node
    temp: float = 0.5
    init_bias: float = 0.3
    init_scale: float = 0.01
    seed: int = 0
    # share of the last steps run without the logistic noise: the noise opens nodes just below τ = 0 at
    # random, so a mask trained with it to the end can rely on nodes that the τ-ordered circuit lacks
    settle: float = 0.0
    # share of the unablated model's mean logit difference the mask is pushed to keep (0: none). The
    # contrast loss flattens once a difference is large and right in sign, so a mask trained on it alone
    # settles on circuits that are right but weak (depth-half-quotes' bracket: 14 nodes keeping 69 %, and
    # its whole open set 84 %); this term adds max(0, recover − kept share) to the objective.
    recover: float = 0.0


def straight_through_mask(tau: torch.Tensor, temp: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Hard 0/1 mask forward, sigmoid-derivative gradient backward.

    Logistic noise on the logit (a Gumbel-sigmoid straight-through estimator) makes nodes near the
    threshold open and close at random: without it, nodes that only matter together (a read → neuron →
    write chain) all fall below 0 at once and no gradient can ever reopen them.
    """
    logit = tau / temp
    if generator is not None:
        u = torch.rand(tau.shape, generator=generator).clamp(1e-6, 1 - 1e-6).to(tau.device)  # a CPU generator's draws
        logit = logit + (u.log() - (1 - u).log())
    soft = torch.sigmoid(logit)
    hard = (logit > 0).float()
    return hard + soft - soft.detach()


def circuit_mask(N: int, keep: list[int] | torch.Tensor) -> torch.Tensor:
    m = torch.zeros(N)
    m[torch.as_tensor(keep, dtype=torch.long)] = 1.0
    return m


@torch.no_grad()
def task_eval(gpt: GPT, examples, mask: torch.Tensor | None, fill: torch.Tensor) -> dict:
    kw = {} if mask is None else {"node_mask": mask, "node_fill": fill}
    return tasks_mod.evaluate(gpt, examples, **kw)


def mask_objective(
    gpt: GPT, batch, mask: torch.Tensor, fill: torch.Tensor, k_coef: float, recover: float, full_diff: float | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The pruning objective on one batch of task examples with `mask` [N] applied: task loss + λ·(open
    nodes), plus the shortfall of the mean logit difference below `recover` × `full_diff` (the unablated
    model's) when `full_diff` is given. → (objective, task loss)."""
    diff = masked_diff(gpt, batch, mask, fill)  # [B]
    task_loss = tasks_mod.contrast_loss(diff)
    loss = task_loss + k_coef * mask.sum()
    if full_diff is not None:
        loss = loss + F.relu(recover - diff.mean() / full_diff)
    return loss, task_loss


def masked_diff(gpt: GPT, batch, mask: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """Each example's logit difference (right − wrong answer) with `mask` [N] applied → [B]."""
    ids, last, c, w = (t.to(mask.device) for t in tasks_mod.collate(batch))
    logits, _, _ = gpt(ids, node_mask=mask, node_fill=fill, positions=last)
    return tasks_mod.contrast(logits, last, c, w)


def learn_mask_logits(gpt: GPT, examples, fill: torch.Tensor, cfg: PruneConfig, log=print) -> torch.Tensor:
    """Optimise τ [N] for task loss + λ·(open nodes) (+ the logit-difference shortfall when cfg.recover); returns τ."""
    for p in gpt.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(cfg.seed)
    N = n_nodes(gpt.cfg)
    tau = (cfg.init_bias + cfg.init_scale * torch.randn(N, generator=g)).clamp(-1, 1).requires_grad_(True)
    opt = torch.optim.AdamW([tau], lr=cfg.lr, weight_decay=0.0)
    rng = random.Random(cfg.seed)
    full_diff = task_eval(gpt, examples, None, fill)["logit_diff"] if cfg.recover else None
    if full_diff is not None and full_diff <= 0:
        raise ValueError(f"--mask-recover needs a model that does the task: its mean logit difference is {full_diff:.3f}")
    for step in range(cfg.steps):
        batch = rng.sample(examples, min(cfg.batch, len(examples)))
        mask = straight_through_mask(tau, cfg.temp, g if step < cfg.steps * (1 - cfg.settle) else None)
        loss, task_loss = mask_objective(gpt, batch, mask, fill, cfg.k_coef, cfg.recover, full_diff)
        lr = cfg.lr * (1 - step / cfg.steps)  # linear decay, no warmup
        for grp in opt.param_groups:
            grp["lr"] = lr
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            tau.clamp_(-1, 1)
        if step % 100 == 0 or step == cfg.steps - 1:
            log(f"  step {step}: task loss {task_loss.item():.3f}, open nodes {int((tau > 0).sum())}")
    return tau.detach()


class FrozenNorms(torch.nn.Module):
    """The model with every RMSNorm dividing by its scale in the unablated model on the same input
    (GPT.forward's freeze_norms): pruning through it gives the circuit size the paper reports as the
    control for circuits that work by rescaling the residual stream through the norms."""

    def __init__(self, gpt: GPT):
        super().__init__()
        self.gpt = gpt
        self.cfg = gpt.cfg

    def forward(self, *args, **kwargs):
        return self.gpt(*args, freeze_norms=True, **kwargs)
