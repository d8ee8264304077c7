"""Whether an imported OpenAI circuit carries its task, measured as our own circuits are (training/prune.py).

The circuit alone — its nodes live, every other node at its mean over our validation corpus (the bundle's
node means) — runs on the task prompts of the viz file, each scored at its last token on the task's two class
tokens; training/evidence.py `faithfulness` then gives the circuit's contrast loss, the share of the full
model's logit difference it keeps, a calibrated loss and random node sets of the same size as a control.
Per-node necessity is skipped: upstream's file already holds each node's ablation loss, and two passes per
node over hundreds of nodes cost minutes at csp_yolo1's size.
"""

from __future__ import annotations

import torch

from . import tasks as tasks_mod
from .evidence import faithfulness
from .model import GPT


def task_examples(docs: torch.Tensor, ends: torch.Tensor, class_ids: tuple[int, int]) -> list[tasks_mod.Example]:
    """The task prompts as our examples: prompt i of the first half asks for class 0's token, of the second
    half for class 1's. docs [D, T] zero-padded, ends [D] each prompt's last position."""
    half = len(docs) // 2
    return [tasks_mod.Example(docs[i, : int(ends[i]) + 1].tolist(), class_ids[int(i >= half)], class_ids[int(i < half)], "openai") for i in range(len(docs))]


def circuit_evidence(gpt: GPT, docs: torch.Tensor, ends: torch.Tensor, classes: list[dict], flats: list[int], fill: torch.Tensor) -> dict:
    """Metrics of the circuit `flats` (flat node indices) alone on the task prompts, in the keys our own
    circuit files use (task_loss_circuit, logit_diff_recovered, model, circuit, calibrated, random_same_size,
    test_examples). fill [N]: the node means."""
    class_ids = (classes[0]["tokens"][0]["id"], classes[1]["tokens"][0]["id"])
    task = tasks_mod.Task("openai", "", "", classes, {}, test=task_examples(docs, ends, class_ids))
    faith = faithfulness(gpt, task, flats, fill, None, necessity=False)
    return {
        "task_loss_circuit": faith["circuit"]["task_loss"],
        **{k: v for k, v in faith.items() if k not in ("per_node", "nonsense_task_nodes")},
    }
