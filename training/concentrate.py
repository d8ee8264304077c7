"""A circuit-concentrating fine-tune (EXPERIMENTS.md, session 39): the language-model loss plus, for each
task asked, the pruning objective of masks.py on a node mask learned together with the weights.

Pruning (prune.py) only reads a trained model: it finds the smallest set of nodes whose computation, with
every other node mean-ablated, still does the task. Trained on the language-model loss alone, our models
spread each task over many small paths (EXPERIMENTS.md, sessions 20–25: 31 quote nodes, bracket circuits
in which only ~18 nodes carry ≥ 5 % each). Here each task has a mask logit τ per node, and each step adds
`weight` × (the masked model's task loss + λ·open nodes + the logit-difference shortfall) to the loss: the
gradient shuts the nodes a task can do without (through τ) while the weights learn to do the task through
the nodes left open. The mask is not the circuit: after training, prune.py searches the model again from
fresh masks with its usual settings, and the card reports what it finds there and on real code.

That objective makes a small circuit *sufficient*; it does not make it *necessary*: `concentrate-gpu`'s
9-node bracket circuit, mean-ablated, still leaves 65.8 % of the task's test examples right (and 61.2 %
of networkx's list closes; EXPERIMENTS.md, session 41), because other nodes hold a weaker copy of the
same count. With `exclusive` > 0 each step also runs the task with the mask's open nodes ablated and the
rest of the model intact, and adds `exclusive` × the share of the model's logit difference that this rest
still keeps (its positive part: the rest is asked to be at chance, not to prefer the wrong answer). The
weights learn to drop the copies, and τ learns to open the nodes that hold one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .masks import mask_objective, masked_diff, straight_through_mask, task_eval
from .model import GPT, n_nodes
from .tasks import Example

INIT_BIAS, INIT_SCALE = 0.3, 0.01  # τ starts open with a little noise, as masks.PruneConfig's
MASK_LR, MASK_LR_END = 1e-2, 1e-3  # τ's learning rate, decayed linearly over the run
TEMPERATURE = 0.5
FULL_EXAMPLES = 256  # examples for the unablated model's mean logit difference (the shortfall term's reference)


@dataclass(frozen=True)
class ConcentrateSpec:
    """What a run concentrates: {task name: λ per open node}, the objectives' weight beside the LM loss,
    the share of the model's logit difference each mask is pushed to keep, the task batch, the share of
    steps with the mask's logistic noise (settled after, as prune.py's --settle), how often the node
    means the masks ablate to are measured again (the weights move them), and the weight of the term that
    asks the rest of the model, with each mask's nodes ablated, to be at chance on its task (0: none)."""

    tasks: dict[str, float]
    weight: float = 1.0
    recover: float = 0.9
    batch: int = 32
    noisy: float = 0.75
    refresh_every: int = 50
    exclusive: float = 0.0

    def to_dict(self) -> dict:
        return {
            "tasks": dict(self.tasks),
            "weight": self.weight,
            "recover": self.recover,
            "batch": self.batch,
            "noisy": self.noisy,
            "refresh_every": self.refresh_every,
            "exclusive": self.exclusive,
        }


@dataclass
class TaskMask:
    examples: list[Example]
    coef: float
    tau: torch.Tensor  # [N] mask logits, learned
    opt: torch.optim.Optimizer
    rng: random.Random
    full_diff: float = 0.0
    last_task_loss: float = float("nan")
    last_rest_share: float | None = None  # with `exclusive`: the share of full_diff the rest kept at the last step


class Concentrator:
    """Owns the per-task masks of one run, their optimizers and the node means they ablate to."""

    def __init__(
        self,
        spec: ConcentrateSpec,
        model: GPT,
        examples: dict[str, list[Example]],
        node_means: Callable[[GPT], torch.Tensor],
        total_steps: int,
        seed: int = 0,
        taus: dict[str, list[float]] | None = None,
    ):
        self.spec, self.total, self.node_means = spec, total_steps, node_means
        N = n_nodes(model.cfg)
        device = next(model.parameters()).device  # τ lives with the weights; the noise is drawn on the CPU (straight_through_mask)
        self.generator = torch.Generator().manual_seed(seed)
        self.masks: dict[str, TaskMask] = {}
        for i, (name, coef) in enumerate(spec.tasks.items()):
            if taus and name in taus:
                tau = torch.tensor(taus[name], dtype=torch.float32)
            else:
                tau = (INIT_BIAS + INIT_SCALE * torch.randn(N, generator=self.generator)).clamp(-1, 1)
            tau = tau.to(device).requires_grad_(True)
            opt = torch.optim.AdamW([tau], lr=MASK_LR, weight_decay=0.0)
            self.masks[name] = TaskMask(examples[name], coef, tau, opt, random.Random(seed + i))
        self.refresh(model)

    @torch.no_grad()
    def refresh(self, model: GPT) -> None:
        """Measure the node means and each task's unablated logit difference again for the current weights."""
        was = model.training
        model.eval()
        self.fill = self.node_means(model)  # [N]
        for m in self.masks.values():
            m.full_diff = task_eval(model, m.examples[:FULL_EXAMPLES], None, self.fill)["logit_diff"]
        model.train(was)

    def loss(self, model: GPT, step: int) -> torch.Tensor:
        """The weighted sum of every task's mask objective at this step (its gradient reaches the weights and τ)."""
        noise = self.generator if step < self.spec.noisy * self.total else None
        total = 0.0
        for m in self.masks.values():
            batch = m.rng.sample(m.examples, min(self.spec.batch, len(m.examples)))
            mask = straight_through_mask(m.tau, TEMPERATURE, noise)
            # a model that no longer does a task gets no shortfall term (it would divide by ≤ 0)
            full = m.full_diff if m.full_diff > 0 else None
            objective, task_loss = mask_objective(model, batch, mask, self.fill, m.coef, self.spec.recover, full)
            if self.spec.exclusive and full:
                rest = masked_diff(model, batch, 1.0 - mask, self.fill)  # [B] the mask's open nodes ablated
                rest_share = F.relu(rest).mean() / full
                objective = objective + self.spec.exclusive * rest_share
                m.last_rest_share = rest_share.item()
            total = total + objective
            m.last_task_loss = task_loss.item()
        return self.spec.weight * total

    def zero_grad(self) -> None:
        for m in self.masks.values():
            m.opt.zero_grad(set_to_none=True)

    def step(self, model: GPT, step: int) -> None:
        """τ's update after the weights' (the gradient of loss() is in place), then the means every refresh_every steps."""
        lr = MASK_LR_END + (MASK_LR - MASK_LR_END) * (1 - step / self.total)
        for m in self.masks.values():
            for group in m.opt.param_groups:
                group["lr"] = lr
            m.opt.step()
            with torch.no_grad():
                m.tau.clamp_(-1, 1)
        if (step + 1) % self.spec.refresh_every == 0:
            self.refresh(model)

    def curve(self) -> dict:
        """Each task's masked task loss at the last step, its open nodes after it and (with `exclusive`) the
        share of the logit difference the rest of the model kept, for curve.jsonl."""
        rows = {}
        for name, m in self.masks.items():
            rows[name] = {"task_loss": round(m.last_task_loss, 4), "open": int((m.tau > 0).sum())}
            if m.last_rest_share is not None:
                rows[name]["rest_keeps"] = round(m.last_rest_share, 4)
        return rows

    def taus(self) -> dict[str, list[float]]:
        """The masks to save with a checkpoint (2 × N floats: small enough for the compact resume file's meta)."""
        return {name: [round(x, 5) for x in m.tau.detach().cpu().tolist()] for name, m in self.masks.items()}
