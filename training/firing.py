"""The firing rule of a circuit file: where the editor says "the circuit fires" and which class it points to.

The editor (src/core/analysis.ts) computes value = Σ coef·activation over the rule's terms at every token
of the task's scope; the circuit fires where |value| ≥ threshold, and the sign gives the class (value > 0:
`positive_class`, else the other one). The rule used to be one node scaled to a mean |value| of 1; the
shipped quote circuit's most class-selective node is a residual channel that is large before a double
quote and near zero before a single one, so the editor marked double-quoted strings only.

Two-sided rule (this module): a logistic regression of the class on the circuit's most class-selective
nodes (up to KEY_TERMS, chosen by |r| with the class), without an intercept, so that value is the log-odds
of `positive_class` that those nodes' activations give, and a token where they are all silent reads 0
(never fires). Why no intercept: with one, silence itself would point to a class and the rule would fire on
every in-scope token whose key nodes are quiet; without one, each class has to be carried by nodes that
are active for it (the quote circuit has channels of both signs: r = +0.70 / −0.70 / +0.68 / −0.63).
The threshold is a log-odds of 1 (odds e:1, 73 %). Old single-term rules keep loading unchanged: the
format is the same, only the fit differs.

    python -m training.firing --run training/runs/depth --bundle models/pysparse-depth --task single_double_quote

rewrites only the `firing` field of circuits/<task>.json (no pruning) and prints how often the new rule
fires, right and wrong, per class on the task's test examples.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from . import tasks as tasks_mod
from .circuit_search import BISECT_EXAMPLES
from .corpus import read_jsonl
from .evidence import class_correlations, last_token_acts
from .export import load_checkpoint, round_bigram_fp16_

KEY_TERMS = 4
THRESHOLD = 1.0
L2 = 1e-3


def fit_firing_rule(acts: torch.Tensor, class_of: torch.Tensor, ids: list[str]) -> dict:
    """The two-sided firing rule (module docstring) from acts [n_examples, k] at the task's prediction points in
    the full model and class_of [n_examples] (0 or 1): terms on the up to KEY_TERMS nodes most correlated with
    the class, coefs of a logistic regression without intercept, threshold THRESHOLD."""
    corr = class_correlations(acts, class_of)
    order = sorted(range(len(ids)), key=lambda i: -abs(corr[i]))[:KEY_TERMS]
    x = acts[:, order].double()  # [n, t]
    # scale each column to unit mean |value| so that one L2 penalty suits channels of any size
    scale = x.abs().mean(0).clamp_min(1e-6)  # [t]
    y = (class_of == 0).double()  # [n]
    w = torch.zeros(len(order), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        opt.zero_grad()
        out = torch.nn.functional.binary_cross_entropy_with_logits((x / scale) @ w, y) + L2 * (w**2).sum()
        out.backward()
        return out

    opt.step(loss)
    coefs = (w.detach() / scale).tolist()
    terms = [{"node": ids[j], "coef": round(c, 6)} for j, c in zip(order, coefs, strict=True) if round(c, 6) != 0]
    return {"terms": terms, "threshold": THRESHOLD, "positive_class": 0}


def rule_outcomes(rule: dict, acts: torch.Tensor, class_of: torch.Tensor, ids: list[str]) -> dict[str, dict[str, float]]:
    """Per class: the share of examples where the rule fires for that class (right), for the other (wrong), or not at all."""
    col = {n: i for i, n in enumerate(ids)}
    value = sum(t["coef"] * acts[:, col[t["node"]]].double() for t in rule["terms"])  # [n]
    fires = value.abs() >= rule["threshold"]
    says = torch.where(value > 0, rule["positive_class"], 1 - rule["positive_class"])
    out = {}
    for c in (0, 1):
        here = class_of == c
        n = max(int(here.sum()), 1)
        out[str(c)] = {
            "right": int((fires & here & (says == c)).sum()) / n,
            "wrong": int((fires & here & (says != c)).sum()) / n,
            "quiet": int((~fires & here).sum()) / n,
        }
    return out


def class_labels(task) -> torch.Tensor:
    """class_of [n] for the task's first BISECT_EXAMPLES test examples (prune.py's choice of examples)."""
    first = {t["id"] for t in task.classes[0]["tokens"]}
    return torch.tensor([0 if e.correct in first else 1 for e in task.test[:BISECT_EXAMPLES]])


def refit(gpt, task, circuit: dict, fill: torch.Tensor) -> tuple[dict, dict]:
    """The circuit's new firing rule and its outcomes (rule_outcomes) on the task's test examples."""
    kept = [n["flat"] for n in circuit["nodes"]]
    ids = [n["id"] for n in circuit["nodes"]]
    acts = last_token_acts(gpt, task.test[:BISECT_EXAMPLES], None, fill)[:, kept]  # [n, k]
    class_of = class_labels(task)
    rule = fit_firing_rule(acts, class_of, ids)
    return rule, rule_outcomes(rule, acts, class_of, ids)


def write_firing(path: Path, rule: dict, out_dir: Path) -> Path:
    """The circuit file at `path` with only its `firing` replaced, written to out_dir (prune.py's JSON layout, so nothing else changes)."""
    circuit = json.loads(path.read_text())
    circuit["firing"] = rule
    out = out_dir / path.name
    out_dir.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(circuit, indent=1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="Recompute the firing rule of existing circuit files (only their `firing` field changes).")
    ap.add_argument("--run", type=Path, required=True, help="the training run the bundle was exported from")
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=Path("training/data"))
    ap.add_argument("--task", action="append", required=True)
    ap.add_argument("--out", type=Path, default=None, help="write the circuit files here instead of into the bundle")
    args = ap.parse_args()
    torch.set_num_threads(2)
    tok = Tokenizer.from_file(str(args.bundle / "tokenizer.json"))
    gpt = load_checkpoint(args.run)
    round_bigram_fp16_(gpt)  # the exact model the bundle ships
    fill = torch.from_numpy(np.fromfile(args.bundle / "node_means.bin", dtype="<f4"))
    all_tasks = tasks_mod.build_tasks(tok, read_jsonl(args.data / "corpus_val.jsonl"))
    for name in args.task:
        path = args.bundle / "circuits" / f"{name}.json"
        rule, outcomes = refit(gpt, all_tasks[name], json.loads(path.read_text()), fill)
        write_firing(path, rule, args.out or path.parent)
        print(json.dumps({"task": name, "firing": rule, "on_test_examples": outcomes}))


if __name__ == "__main__":
    main()
