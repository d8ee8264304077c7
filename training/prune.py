"""Step 4: prune the model into a task circuit (Gao et al. 2025 §2.2) and write circuits/<task>.json.

    python -m training.prune --run training/runs/depth --bundle models/pysparse-depth --task single_double_quote
    python -m training.prune --bundle models/pysparse-depth --task single_double_quote   # the bundle's own weights

masks.py learns one mask logit τ per node; circuit_search.py finds the smallest circuit along the τ order
that reaches the target task loss; evidence.py measures and describes it. This module writes the circuit
file (nodes, edges, firing rule, metrics) and adds it to the bundle's manifest.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from . import tasks as tasks_mod
from .circuit_search import BISECT_EXAMPLES, TARGET_LOSS, prune_task, pruning_target
from .corpus import read_jsonl
from .evidence import circuit_edges, class_correlations, describe_node, faithfulness, last_token_acts, node_id_parts, nonsense_task, top_tokens
from .export import load_checkpoint, load_from_bundle, round_bigram_fp16_
from .firing import fit_firing_rule
from .masks import FrozenNorms, PruneConfig, task_eval
from .model import GPT

# What a circuit's evidence must show for the editor to present it as carrying its task
# (src/core/circuitEvidence.ts): the model does the task (contrast loss ≤ 0.5; chance is ln 2 ≈ 0.69)
# and the circuit alone keeps at least half of the model's logit difference.
EVIDENCE_THRESHOLDS = {"max_task_loss_model": 0.5, "min_logit_diff_recovered": 0.5}


def existing_circuit(path: Path) -> tuple[dict, int | None, float]:
    """An existing circuit file as prune_task's result (its nodes, λ and loss), its nonsense size and target,
    so that its evidence can be recomputed without pruning again."""
    circuit = json.loads(path.read_text())
    m = circuit["metrics"]
    kept = [n["flat"] for n in circuit["nodes"]]
    best = {
        "order": torch.tensor(kept),
        "k": len(kept),
        "coef": m["k_coef"],
        "loss": m["train_task_loss_at_k"],
        "steps": m.get("mask_steps", PruneConfig.steps),
        "settle": m.get("mask_settle", 0.0),
        "min_recovered": m.get("elimination_min_recovered", 0.0),
        "recover": m.get("mask_recover", 0.0),
        "seed": m.get("mask_seed", 0),
    }
    return best, m.get("nonsense_task_nodes"), m["target_task_loss"]


def node_records(kept: list[int], ids: list[str], parts, corr: list[float], labels: list[str], toks: dict, means, faith: dict) -> list[dict]:
    """The circuit file's node entries: where each node is, what it means, and its evidence."""
    nodes = []
    for j, f in enumerate(kept):
        label, meaning = describe_node(f, parts, corr[j], labels, toks[f], float(means[f]))
        nodes.append(
            {
                "id": ids[j],
                "layer": parts[f][0],
                "site": parts[f][1],
                "index": parts[f][2],
                "flat": f,
                "label": label,
                "meaning": meaning,
                "mean": round(float(means[f]), 5),
                "importance": round(min(1.0, max(0.0, faith["per_node"][f]["necessity_in_circuit"])), 4),
                "class_correlation": round(corr[j], 4),
                "necessity_in_circuit": faith["per_node"][f]["necessity_in_circuit"],
                "necessity_in_model": faith["per_node"][f]["necessity_in_model"],
                "top_tokens": toks[f],
            }
        )
    return nodes


def write_circuit(gpt, tok, task, best, fill, means, val_stream, out_path: Path, nonsense_k, target: float = TARGET_LOSS, log=print) -> dict:
    kept = sorted(best["order"][: best["k"]].tolist())
    parts = node_id_parts(gpt)
    ids = [f"{parts[f][0]}.{parts[f][1]}.{parts[f][2]}" for f in kept]
    labels = [c["label"] for c in task.classes]
    class_of = torch.tensor([0 if any(e.correct == t["id"] for t in task.classes[0]["tokens"]) else 1 for e in task.test[:BISECT_EXAMPLES]])
    # evidence and the firing rule describe the full model, which is what the editor runs
    acts = last_token_acts(gpt, task.test[:BISECT_EXAMPLES], None, fill)[:, kept]  # [n, k]
    corr = class_correlations(acts, class_of)
    faith = faithfulness(gpt, task, kept, fill, nonsense_k)
    toks = top_tokens(gpt, tok, val_stream, kept)
    nodes = node_records(kept, ids, parts, corr, labels, toks, means, faith)
    firing = fit_firing_rule(acts, class_of, ids)
    key_nodes = [n["id"] for n in sorted(nodes, key=lambda n: -abs(n["class_correlation"]))[:4]]
    edges = circuit_edges(gpt, kept)
    weight_edges = [e for e in edges if e["kind"] == "weight"]
    metrics = {
        "target_task_loss": target,
        "n_nodes": len(kept),
        "n_edges": len(weight_edges),
        "n_residual_edges": len(edges) - len(weight_edges),
        "k_coef": best["coef"],
        "mask_steps": best["steps"],
        "mask_settle": best["settle"],
        "elimination_min_recovered": best["min_recovered"],
        "mask_recover": best["recover"],
        "mask_seed": best.get("seed", 0),
        **({"held_out_task_loss_at_k": best["held_out_loss"]} if "held_out_loss" in best else {}),
        "train_task_loss_at_k": best["loss"],
        "task_loss_model": faith["model"]["task_loss"],
        "task_loss_circuit": faith["circuit"]["task_loss"],
        **{k: v for k, v in faith.items() if k not in ("per_node",)},
    }
    example_prompts = []
    for e in task.test[:6]:
        example_prompts.append({"prompt": tok.decode(e.prompt[-40:]), "class": 0 if any(e.correct == t["id"] for t in task.classes[0]["tokens"]) else 1})
    circuit = {
        "task": task.name,
        "title": task.title,
        "description": task.description,
        "classes": task.classes,
        "scope": task.scope,
        "examples": example_prompts,
        "nodes": nodes,
        "edges": edges,
        "firing": firing,
        "key_nodes": key_nodes,
        "metrics": metrics,
        "evidence_thresholds": EVIDENCE_THRESHOLDS,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(circuit, indent=1))
    log(json.dumps({k: metrics[k] for k in ("n_nodes", "n_edges", "task_loss_model", "task_loss_circuit", "logit_diff_recovered")}))
    return circuit


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, help="the training run whose checkpoint.pt to prune (default: the model the bundle ships, read from its model.onnx)")
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=Path("training/data"))
    ap.add_argument("--task", action="append", required=True)
    ap.add_argument("--no-nonsense", action="store_true", help="skip the nonsense-task size control")
    ap.add_argument(
        "--coefs",
        default=None,
        help="λ values to try (comma-separated); the smallest circuit wins (default 1e-3,3e-3; with --frozen-norms, the circuit's λ and a tenth of it)",
    )
    ap.add_argument(
        "--seeds",
        default="0",
        help="mask seeds to try for each λ (comma-separated); with several candidates the smallest within the target on held-out examples wins",
    )
    ap.add_argument("--steps", type=int, default=None, help=f"mask optimisation steps per λ (default {PruneConfig.steps}; with --frozen-norms, the circuit's)")
    ap.add_argument("--settle", type=float, default=0.0, help="share of the last mask steps run without the logistic noise (default 0: noise throughout)")
    ap.add_argument(
        "--target",
        type=float,
        default=None,
        help="task loss to reach (default: 0.15, or 1.25 × the model's own loss); set it to compare two models' circuits at equal loss",
    )
    ap.add_argument(
        "--min-recovered",
        type=float,
        default=0.0,
        help="greedy elimination keeps at least this share of the model's logit difference as well as the target loss (default 0: the loss alone)",
    )
    ap.add_argument(
        "--mask-recover",
        type=float,
        default=0.0,
        help="add to the mask objective the shortfall of the mean logit difference below this share of the model's (default 0: the contrast loss alone)",
    )
    ap.add_argument(
        "--frozen-norms",
        action="store_true",
        help="prune again with norm scales frozen to the full model's; record only that circuit's size in the existing circuit file",
    )
    ap.add_argument(
        "--evidence-only", action="store_true", help="keep the nodes of existing circuit files; recompute their evidence, meanings, edges and firing rule"
    )
    ap.add_argument(
        "--nonsense-only",
        action="store_true",
        help="keep the nodes of existing circuit files; prune the nonsense task with each circuit's settings and record its size with the evidence",
    )
    return ap.parse_args()


def record_frozen_norms(gpt: GPT, name: str, task, fill: torch.Tensor, path: Path, coefs: tuple[float, ...] | None, steps: int | None) -> None:
    """Prune again with norm scales frozen to the full model's; record only that circuit's size in the circuit file at `path`."""
    circuit = json.loads(path.read_text())
    target = circuit["metrics"]["target_task_loss"]
    # A λ that suits the free circuit can close nearly every mask once the norms cannot
    # rescale what is left (small-focus, 600 steps at 3e-3: 1,517 nodes; 1,200 at 3e-4: 45), so a
    # tenth of it is tried too, and the smaller circuit is the control's size.
    coef = circuit["metrics"]["k_coef"]
    frozen = prune_task(
        FrozenNorms(gpt),
        task.train,
        fill,
        target,
        coefs=coefs or (coef, coef / 10),
        steps=steps or circuit["metrics"].get("mask_steps", PruneConfig.steps),
        settle=circuit["metrics"].get("mask_settle", PruneConfig.settle),
        min_recovered=circuit["metrics"].get("elimination_min_recovered", 0.0),
        recover=circuit["metrics"].get("mask_recover", 0.0),
    )
    circuit["metrics"]["frozen_norms"] = {
        "n_nodes": frozen["k"],
        "train_task_loss_at_k": frozen["loss"],
        "k_coef": frozen["coef"],
        "mask_steps": frozen["steps"],
        "mask_settle": frozen["settle"],
    }
    path.write_text(json.dumps(circuit, indent=1))
    print(f"[{name}] with frozen norms: {frozen['k']} nodes (free norms: {circuit['metrics']['n_nodes']})")


def nonsense_size(gpt: GPT, task, fill: torch.Tensor, target: float, best: dict) -> int:
    """The paper's size control: the circuit pruned the same way (λ, steps, settle) for the task with its
    answers shuffled, which has nothing to find. Without the logit-difference floors: the model's own
    difference on shuffled answers is about 0, so a share of it constrains nothing."""
    control = prune_task(
        gpt,
        nonsense_task(task),
        fill,
        target,
        coefs=(best["coef"],),
        log=lambda *_: None,
        steps=best["steps"],
        settle=best["settle"],
        seeds=(best.get("seed", 0),),
    )
    return control["k"]


def add_to_manifest(manifest_path: Path, rel: str) -> None:
    manifest = json.loads(manifest_path.read_text())  # re-read: another task's run may have added its circuit
    if rel not in manifest["circuits"]:
        manifest["circuits"].append(rel)
    manifest_path.write_text(json.dumps(manifest, indent=2))


def main() -> None:
    args = parse_args()
    torch.set_num_threads(2)
    tok = Tokenizer.from_file(str(args.bundle / "tokenizer.json"))
    gpt = load_checkpoint(args.run) if args.run else load_from_bundle(args.bundle)
    round_bigram_fp16_(gpt)  # prune the exact model the bundle ships
    means = np.fromfile(args.bundle / "node_means.bin", dtype="<f4")
    fill = torch.from_numpy(means)
    val_stream = tasks_mod.load_stream(args.data / "val.bin")
    all_tasks = tasks_mod.build_tasks(tok, read_jsonl(args.data / "corpus_val.jsonl"))
    coefs = tuple(float(c) for c in args.coefs.split(",")) if args.coefs else None
    steps = args.steps or PruneConfig.steps
    for name in args.task:
        task = all_tasks[name]
        rel = f"circuits/{name}.json"
        if args.frozen_norms:
            record_frozen_norms(gpt, name, task, fill, args.bundle / rel, coefs, args.steps)
            continue
        if args.evidence_only or args.nonsense_only:
            best, nonsense_k, target = existing_circuit(args.bundle / rel)
            if args.nonsense_only:
                nonsense_k = nonsense_size(gpt, task, fill, target, best)
            write_circuit(gpt, tok, task, best, fill, means, val_stream, args.bundle / rel, nonsense_k, target)
            continue
        print(f"[{name}] model on test set: {task_eval(gpt, task.test, None, fill)}")
        target = args.target or pruning_target(task_eval(gpt, task.train[:BISECT_EXAMPLES], None, fill)["loss"])
        print(f"[{name}] target task loss {target:.3f}")
        best = prune_task(
            gpt,
            task.train,
            fill,
            target,
            coefs=coefs or (1e-3, 3e-3),
            steps=steps,
            settle=args.settle,
            min_recovered=args.min_recovered,
            recover=args.mask_recover,
            seeds=tuple(int(x) for x in args.seeds.split(",")),
        )
        nonsense_k = None if args.no_nonsense else nonsense_size(gpt, task, fill, target, best)
        write_circuit(gpt, tok, task, best, fill, means, val_stream, args.bundle / rel, nonsense_k, target)
        add_to_manifest(args.bundle / "manifest.json", rel)


if __name__ == "__main__":
    main()
