"""Step 4: prune the model into a task circuit (Gao et al. 2025 §2.2) and write circuits/<task>.json.

    python -m training.prune --run training/runs/small --bundle models/pysparse-l2d128 --task single_double_quote

One mask logit τ per node (every node location). Forward: hard step mask = [τ > 0]; backward: the
derivative of sigmoid(τ / temp) (a straight-through surrogate). Pruned nodes are mean-ablated at their
mean over validation text. Objective: task loss + λ · (open nodes). τ is clamped to [−1, 1]. Then the
nodes are ranked by τ and bisection finds the smallest k whose top-k circuit reaches the target task loss.
"""
from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import tasks as tasks_mod
from .corpus import read_jsonl
from .export import load_checkpoint
from .model import GPT, n_nodes, node_layout

TARGET_LOSS = 0.15
REFINE_MAX_NODES = 128  # greedy elimination costs two task evaluations per node; a λ that needs more has failed anyway
BISECT_EXAMPLES = 256  # bisection and faithfulness run on this many examples (2 CPU cores)
NECESSITY_EXAMPLES = 128


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


def straight_through_mask(tau: torch.Tensor, temp: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Hard 0/1 mask forward, sigmoid-derivative gradient backward.

    Logistic noise on the logit (a Gumbel-sigmoid straight-through estimator) makes nodes near the
    threshold open and close at random: without it, nodes that only matter together (a read → neuron →
    write chain) all fall below 0 at once and no gradient can ever reopen them.
    """
    logit = tau / temp
    if generator is not None:
        u = torch.rand(tau.shape, generator=generator).clamp(1e-6, 1 - 1e-6)
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


def learn_mask_logits(gpt: GPT, examples, fill: torch.Tensor, cfg: PruneConfig, log=print) -> torch.Tensor:
    """Optimise τ [N] for task loss + λ·(open nodes); returns τ."""
    for p in gpt.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(cfg.seed)
    N = n_nodes(gpt.cfg)
    tau = (cfg.init_bias + cfg.init_scale * torch.randn(N, generator=g)).clamp(-1, 1).requires_grad_(True)
    opt = torch.optim.AdamW([tau], lr=cfg.lr, weight_decay=0.0)
    rng = random.Random(cfg.seed)
    for step in range(cfg.steps):
        batch = rng.sample(examples, min(cfg.batch, len(examples)))
        ids, last, c, w = tasks_mod.collate(batch)
        mask = straight_through_mask(tau, cfg.temp, g)
        logits, _, _ = gpt(ids, node_mask=mask, node_fill=fill, positions=last)
        task_loss = tasks_mod.contrast_loss(tasks_mod.contrast(logits, last, c, w))
        loss = task_loss + cfg.k_coef * mask.sum()
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


def smallest_k(gpt: GPT, examples, order: torch.Tensor, fill: torch.Tensor, target: float) -> tuple[int, float]:
    """Bisect for the smallest k such that the top-k nodes by τ reach task loss ≤ target (on `examples`)."""
    N = len(order)
    examples = examples[:BISECT_EXAMPLES]

    def loss_at(k: int) -> float:
        return task_eval(gpt, examples, circuit_mask(N, order[:k]), fill)["loss"]

    hi = N
    if loss_at(hi) > target:
        return hi, loss_at(hi)
    lo = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if loss_at(mid) <= target:
            hi = mid
        else:
            lo = mid
    return hi, loss_at(hi)


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


def refine(gpt: GPT, examples, kept: list[int], fill: torch.Tensor, target: float) -> tuple[list[int], float]:
    """Greedy backward elimination after bisection: try dropping each kept node, the one whose removal
    costs least first, and keep every drop that stays within the target. Bisection along the τ order
    keeps a prefix; nodes that the learned order ranks high but the circuit does not need survive it."""
    N = n_nodes(gpt.cfg)
    examples = examples[:BISECT_EXAMPLES]

    def loss_of(nodes: list[int]) -> float:
        return task_eval(gpt, examples, circuit_mask(N, nodes), fill)["loss"]

    cost = {f: loss_of([g for g in kept if g != f]) for f in kept}
    nodes = list(kept)
    for f in sorted(kept, key=cost.get):
        trial = [g for g in nodes if g != f]
        if trial and loss_of(trial) <= target:
            nodes = trial
    return nodes, loss_of(nodes)


def circuit_at(gpt: GPT, examples, order: torch.Tensor, fill: torch.Tensor, target: float, log=print) -> tuple[list[int], float]:
    """The circuit for one learned order and target: the shortest prefix that reaches it (bisection),
    then greedy elimination when that prefix is at most REFINE_MAX_NODES long."""
    k, loss = smallest_k(gpt, examples, order, fill, target)
    log(f"  → smallest k = {k} (train task loss {loss:.3f})")
    if k > REFINE_MAX_NODES:
        return order[:k].tolist(), loss
    nodes, loss = refine(gpt, examples, order[:k].tolist(), fill, target)
    log(f"  → after greedy elimination: {len(nodes)} nodes (train task loss {loss:.3f})")
    return nodes, loss


def pruning_target(model_loss: float) -> float:
    """The paper's 0.15 nats, unless the full model itself is worse: then 1.25 × its own task loss
    (a circuit cannot beat the model it is cut from; the card reports the miss)."""
    return max(TARGET_LOSS, 1.25 * model_loss)


def prune_task(gpt: GPT, task_examples, fill: torch.Tensor, target: float, coefs=(1e-3, 3e-3), log=print, steps: int = PruneConfig.steps) -> dict:
    """Try a few λ; keep the smallest circuit that reaches the target."""
    best = None
    for coef in coefs:
        cfg = PruneConfig(k_coef=coef, steps=steps)
        log(f" λ = {coef}")
        tau = learn_mask_logits(gpt, task_examples, fill, cfg, log)
        order = torch.argsort(tau, descending=True)
        nodes, loss = circuit_at(gpt, task_examples, order, fill, target, log)
        chosen = set(nodes)
        order, k = torch.tensor(nodes + [int(f) for f in order if int(f) not in chosen]), len(nodes)
        if best is None or k < best["k"]:
            best = {"k": k, "loss": loss, "order": order, "coef": coef, "tau": tau, "steps": steps}
    return best


# ---------------------------------------------------------------- edges, evidence, faithfulness

def node_id_parts(gpt: GPT) -> list[tuple[int, str, int]]:
    """flat index → (layer, site, index)."""
    parts = []
    for e in node_layout(gpt.cfg):
        layer, site = int(e["name"].split(".")[0]), e["name"].split(".", 1)[1]
        parts.extend((layer, site, i) for i in range(e["length"]))
    return parts


def circuit_edges(gpt: GPT, kept: list[int]) -> list[dict]:
    """Nonzero weights joining two kept nodes, plus residual-stream edges.

    Counting rule: a weight edge is a nonzero entry of c_attn (act_in → q/k/v), attn.c_proj (v → resid_delta;
    attention mixes positions but each value channel reaches the output only through these weights),
    c_fc (act_in → post_act) or mlp.c_proj (post_act → resid_delta). A residual edge joins a kept
    resid_delta channel c to every kept act_in channel c of a later location (weight: the reading norm's
    gain); it carries no learned weight matrix, so it is listed with kind "residual" and counted apart.
    """
    parts = node_id_parts(gpt)
    cfg = gpt.cfg
    hd = cfg.n_head * cfg.d_head
    by_loc: dict[tuple[int, str], list[int]] = {}
    for f in kept:
        layer, site, i = parts[f]
        by_loc.setdefault((layer, site), []).append(i)
    name = lambda L, s, i: f"{L}.{s}.{i}"  # noqa: E731
    edges = []

    def add(src_loc, dst_loc, weight: torch.Tensor, kind="weight"):
        for i in by_loc.get(src_loc, []):
            for j in by_loc.get(dst_loc, []):
                w = float(weight[j, i])
                if w != 0.0:
                    edges.append({"source": name(*src_loc, i), "target": name(*dst_loc, j), "weight": round(w, 5), "kind": kind})

    for L, block in enumerate(gpt.transformer.h):
        W = block.attn.c_attn.weight  # [3·hd, d]
        add((L, "attn.act_in"), (L, "attn.q"), W[:hd])
        add((L, "attn.act_in"), (L, "attn.k"), W[hd : 2 * hd])
        add((L, "attn.act_in"), (L, "attn.v"), W[2 * hd :])
        add((L, "attn.v"), (L, "attn.resid_delta"), block.attn.c_proj.weight)
        add((L, "mlp.act_in"), (L, "mlp.post_act"), block.mlp.c_fc.weight)
        add((L, "mlp.post_act"), (L, "mlp.resid_delta"), block.mlp.c_proj.weight)
    # residual edges: writes (layer L attn/mlp) → later reads of the same channel
    order = [(L, s) for L in range(cfg.n_layer) for s in ("attn.act_in", "attn.resid_delta", "mlp.act_in", "mlp.resid_delta")]
    gains = {(L, "attn.act_in"): b.ln_1.weight for L, b in enumerate(gpt.transformer.h)}
    gains.update({(L, "mlp.act_in"): b.ln_2.weight for L, b in enumerate(gpt.transformer.h)})
    for a, src in enumerate(order):
        if not src[1].endswith("resid_delta"):
            continue
        for dst in order[a + 1 :]:
            if not dst[1].endswith("act_in"):
                continue
            for c in set(by_loc.get(src, [])) & set(by_loc.get(dst, [])):
                edges.append({"source": name(*src, c), "target": name(*dst, c), "weight": round(float(gains[dst][c]), 5), "kind": "residual"})
    return edges


@torch.no_grad()
def last_token_acts(gpt: GPT, examples, mask, fill) -> torch.Tensor:
    """Node activations at each example's last prompt token [n_examples, N]."""
    rows = []
    for i in range(0, len(examples), 64):
        ids, last, _, _ = tasks_mod.collate(examples[i : i + 64])
        kw = {} if mask is None else {"node_mask": mask, "node_fill": fill}
        _, nodes, _ = gpt(ids, record=True, positions=last, **kw)
        rows.append(nodes[torch.arange(len(last)), last])
    return torch.cat(rows)


@torch.no_grad()
def top_tokens(gpt: GPT, tok, stream: np.ndarray, flats: list[int], windows: int = 24, k: int = 6) -> dict[int, list[str]]:
    """For each node, the tokens where it is most strongly active (|value|) in validation text."""
    rng = np.random.default_rng(3)
    T = gpt.cfg.block_size
    starts = rng.integers(0, len(stream) - T, windows)
    x = torch.from_numpy(np.stack([stream[s : s + T] for s in starts]))
    vals = []
    for i in range(0, windows, 8):
        _, nodes, _ = gpt(x[i : i + 8], record=True)
        vals.append(nodes[..., flats])
    acts = torch.cat(vals).reshape(-1, len(flats))  # [windows·T, n]
    flat_ids = x.reshape(-1)
    out = {}
    for j, f in enumerate(flats):
        top = acts[:, j].abs().topk(60).indices
        seen: list[str] = []
        for t in top.tolist():
            s = tok.decode([int(flat_ids[t])])
            if s not in seen:
                seen.append(s)
            if len(seen) == k:
                break
        out[f] = seen
    return out


def class_sign(task, examples) -> torch.Tensor:
    """+1 where the correct token is on the class-0 side of the contrast, −1 where it is on class 1 [B]."""
    class0 = {t["id"] for t in task.classes[0]["tokens"]}
    return torch.tensor([1.0 if e.correct in class0 else -1.0 for e in examples])


def calibrate(diff: torch.Tensor, sign: torch.Tensor) -> tuple[float, float, float]:
    """Fit a logit scale a and shift b (the paper's final calibration) on the class logit difference
    D = class 0 − class 1, not on correct − wrong: d = sign·D, so the calibrated contrast is
    sign·(a·D + b) = a·d + sign·b. A shift on d itself would favour the right answer whatever the label."""
    a = torch.ones((), requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([a, b], max_iter=16)

    def closure():
        opt.zero_grad()
        loss = tasks_mod.contrast_loss(a * diff + sign * b)
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(a), float(b), float(tasks_mod.contrast_loss(a * diff + sign * b))


@torch.no_grad()
def diffs(gpt, examples, mask, fill) -> torch.Tensor:
    out = []
    for i in range(0, len(examples), 64):
        ids, last, c, w = tasks_mod.collate(examples[i : i + 64])
        kw = {} if mask is None else {"node_mask": mask, "node_fill": fill}
        logits, _, _ = gpt(ids, positions=last, **kw)
        out.append(tasks_mod.contrast(logits, last, c, w))
    return torch.cat(out)


def faithfulness(gpt: GPT, task, kept: list[int], fill: torch.Tensor, nonsense_k: int | None) -> dict:
    N = n_nodes(gpt.cfg)
    test = task.test[:BISECT_EXAMPLES]
    full = diffs(gpt, test, None, fill)
    circ_mask = circuit_mask(N, kept)
    circ = diffs(gpt, test, circ_mask, fill)
    g = torch.Generator().manual_seed(1)
    rand_sets = [torch.randperm(N, generator=g)[: len(kept)] for _ in range(5)]
    rand_loss = [float(tasks_mod.contrast_loss(diffs(gpt, test, circuit_mask(N, r), fill))) for r in rand_sets]
    rand_acc = [float((diffs(gpt, test, circuit_mask(N, r), fill) > 0).float().mean()) for r in rand_sets[:2]]
    a, b, cal_loss = calibrate(circ, class_sign(task, test))
    per_node = {}
    few = test[:NECESSITY_EXAMPLES]
    circ_few, full_few = circ[: len(few)].mean(), full[: len(few)].mean()
    for f in kept:
        in_circ = circ_mask.clone()
        in_circ[f] = 0
        full_mask = torch.ones(N)
        full_mask[f] = 0
        per_node[f] = {
            "necessity_in_circuit": round(float(1 - diffs(gpt, few, in_circ, fill).mean() / circ_few), 4),
            "necessity_in_model": round(float(1 - diffs(gpt, few, full_mask, fill).mean() / full_few), 4),
        }
    return {
        "test_examples": len(test),
        "model": {"task_loss": float(tasks_mod.contrast_loss(full)), "accuracy": float((full > 0).float().mean()), "logit_diff": float(full.mean())},
        "circuit": {"task_loss": float(tasks_mod.contrast_loss(circ)), "accuracy": float((circ > 0).float().mean()), "logit_diff": float(circ.mean())},
        "logit_diff_recovered": float(circ.mean() / full.mean()),
        "calibrated": {"scale": a, "shift": b, "task_loss": cal_loss},
        "random_same_size": {"task_loss_mean": float(np.mean(rand_loss)), "task_loss_min": float(np.min(rand_loss)), "accuracy_mean": float(np.mean(rand_acc)), "trials": len(rand_sets)},
        "nonsense_task_nodes": nonsense_k,
        "per_node": per_node,
    }


def nonsense_task(task, seed: int = 5):
    """Same prompts, arbitrary labels: a size control (a faithful method should need many more nodes)."""
    rng = random.Random(seed)
    flip = lambda e: tasks_mod.Example(e.prompt, e.wrong, e.correct, e.source)  # noqa: E731
    return [flip(e) if rng.random() < 0.5 else e for e in task.train]


def describe_node(flat, parts, corr: float, labels: list[str], toks: list[str], mean: float) -> tuple[str, str]:
    layer, site, i = parts[flat]
    where = {
        "attn.act_in": f"residual channel {i} as read by layer-{layer} attention",
        "attn.q": f"query channel {i % 32} of layer-{layer} head {i // 32}",
        "attn.k": f"key channel {i % 32} of layer-{layer} head {i // 32}",
        "attn.v": f"value channel {i % 32} of layer-{layer} head {i // 32}",
        "attn.resid_delta": f"residual channel {i} as written by layer-{layer} attention",
        "mlp.act_in": f"residual channel {i} as read by the layer-{layer} MLP",
        "mlp.post_act": f"layer-{layer} MLP neuron {i}",
        "mlp.resid_delta": f"residual channel {i} as written by the layer-{layer} MLP",
    }[site]
    tok_text = ", ".join(repr(t) for t in toks[:5])
    if abs(corr) >= 0.5:
        hi, lo = (labels[0], labels[1]) if corr > 0 else (labels[1], labels[0])
        label = f"{labels[0]}/{labels[1]} ({site.split('.')[-1]})"
        meaning = (f"The {where}: higher for {hi} than for {lo} at the prediction (r = {corr:+.2f} with the class); "
                   f"most active on {tok_text}.")
    else:
        label = f"{site} {i}"
        meaning = (f"The {where}: not class-selective on its own (r = {corr:+.2f}); most active on {tok_text}; "
                   f"mean {mean:+.3f} over validation text.")
    return label, meaning


def firing_rule(acts: torch.Tensor, corr: list[float], ids: list[str]) -> dict:
    """Where the editor says "the circuit fires": the most class-selective node (|r| with the class at the
    prediction), scaled so that its mean |value| at the task's prediction points is 1; it fires at
    |value| ≥ 1, and its sign gives the class. acts [n_examples, k] in the full model."""
    j = max(range(len(ids)), key=lambda i: abs(corr[i]))
    scale = float(acts[:, j].abs().mean()) or 1.0
    coef = (1.0 if corr[j] >= 0 else -1.0) / scale
    return {"terms": [{"node": ids[j], "coef": round(coef, 6)}], "threshold": 1.0, "positive_class": 0}


def existing_circuit(path: Path) -> tuple[dict, int | None, float]:
    """An existing circuit file as prune_task's result (its nodes, λ and loss), its nonsense size and target,
    so that its evidence can be recomputed without pruning again."""
    circuit = json.loads(path.read_text())
    m = circuit["metrics"]
    kept = [n["flat"] for n in circuit["nodes"]]
    best = {"order": torch.tensor(kept), "k": len(kept), "coef": m["k_coef"], "loss": m["train_task_loss_at_k"],
            "steps": m.get("mask_steps", PruneConfig.steps)}
    return best, m.get("nonsense_task_nodes"), m["target_task_loss"]


def write_circuit(gpt, tok, task, best, fill, means, val_stream, out_path: Path, nonsense_k, target: float = TARGET_LOSS, log=print) -> dict:
    N = n_nodes(gpt.cfg)
    kept = sorted(best["order"][: best["k"]].tolist())
    parts = node_id_parts(gpt)
    ids = [f"{parts[f][0]}.{parts[f][1]}.{parts[f][2]}" for f in kept]
    labels = [c["label"] for c in task.classes]
    class_of = torch.tensor([0 if any(e.correct == t["id"] for t in task.classes[0]["tokens"]) else 1 for e in task.test[:BISECT_EXAMPLES]])
    # evidence and the firing rule describe the full model, which is what the editor runs
    acts = last_token_acts(gpt, task.test[:BISECT_EXAMPLES], None, fill)[:, kept]  # [n, k]
    y = (class_of == 0).float()
    corr = []
    for j in range(len(kept)):
        a = acts[:, j]
        corr.append(float(torch.corrcoef(torch.stack([a, y]))[0, 1]) if a.std() > 0 else 0.0)
    faith = faithfulness(gpt, task, kept, fill, nonsense_k)
    toks = top_tokens(gpt, tok, val_stream, kept)
    nodes = []
    for j, f in enumerate(kept):
        label, meaning = describe_node(f, parts, corr[j], labels, toks[f], float(means[f]))
        nodes.append({"id": ids[j], "layer": parts[f][0], "site": parts[f][1], "index": parts[f][2], "flat": f,
                      "label": label, "meaning": meaning, "mean": round(float(means[f]), 5),
                      "importance": round(min(1.0, max(0.0, faith["per_node"][f]["necessity_in_circuit"])), 4), "class_correlation": round(corr[j], 4),
                      "necessity_in_circuit": faith["per_node"][f]["necessity_in_circuit"],
                      "necessity_in_model": faith["per_node"][f]["necessity_in_model"], "top_tokens": toks[f]})
    firing = firing_rule(acts, corr, ids)
    key_nodes = [n["id"] for n in sorted(nodes, key=lambda n: -abs(n["class_correlation"]))[:4]]
    edges = circuit_edges(gpt, kept)
    weight_edges = [e for e in edges if e["kind"] == "weight"]
    metrics = {
        "target_task_loss": target, "n_nodes": len(kept), "n_edges": len(weight_edges), "n_residual_edges": len(edges) - len(weight_edges),
        "k_coef": best["coef"], "mask_steps": best["steps"], "train_task_loss_at_k": best["loss"],
        "task_loss_model": faith["model"]["task_loss"], "task_loss_circuit": faith["circuit"]["task_loss"],
        **{k: v for k, v in faith.items() if k not in ("per_node",)},
    }
    example_prompts = []
    for e in task.test[:6]:
        example_prompts.append({"prompt": tok.decode(e.prompt[-40:]), "class": 0 if any(e.correct == t["id"] for t in task.classes[0]["tokens"]) else 1})
    circuit = {
        "task": task.name, "title": task.title, "description": task.description, "classes": task.classes,
        "examples": example_prompts, "nodes": nodes, "edges": edges,
        "firing": firing,
        "key_nodes": key_nodes, "metrics": metrics,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(circuit, indent=1))
    log(json.dumps({k: metrics[k] for k in ("n_nodes", "n_edges", "task_loss_model", "task_loss_circuit", "logit_diff_recovered")}))
    return circuit


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=Path("training/data"))
    ap.add_argument("--task", action="append", required=True)
    ap.add_argument("--no-nonsense", action="store_true", help="skip the nonsense-task size control")
    ap.add_argument("--coefs", default=None,
                    help="λ values to try (comma-separated); the smallest circuit wins (default 1e-3,3e-3; with --frozen-norms, the circuit's λ and a tenth of it)")
    ap.add_argument("--steps", type=int, default=None, help=f"mask optimisation steps per λ (default {PruneConfig.steps}; with --frozen-norms, the circuit's)")
    ap.add_argument("--target", type=float, default=None,
                    help="task loss to reach (default: 0.15, or 1.25 × the model's own loss); set it to compare two models' circuits at equal loss")
    ap.add_argument("--frozen-norms", action="store_true",
                    help="prune again with norm scales frozen to the full model's; record only that circuit's size in the existing circuit file")
    ap.add_argument("--evidence-only", action="store_true",
                    help="keep the nodes of existing circuit files; recompute their evidence, meanings, edges and firing rule")
    args = ap.parse_args()
    torch.set_num_threads(2)
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(args.bundle / "tokenizer.json"))
    gpt = load_checkpoint(args.run)
    from .export import round_bigram_fp16_

    round_bigram_fp16_(gpt)  # prune the exact model the bundle ships
    means = np.fromfile(args.bundle / "node_means.bin", dtype="<f4")
    fill = torch.from_numpy(means)
    val_stream = tasks_mod.load_stream(args.data / "val.bin")
    all_tasks = tasks_mod.build_tasks(tok, read_jsonl(args.data / "corpus_val.jsonl"))
    manifest_path = args.bundle / "manifest.json"
    coefs = tuple(float(c) for c in args.coefs.split(",")) if args.coefs else None
    steps = args.steps or PruneConfig.steps
    for name in args.task:
        task = all_tasks[name]
        if args.frozen_norms:
            path = args.bundle / f"circuits/{name}.json"
            circuit = json.loads(path.read_text())
            target = circuit["metrics"]["target_task_loss"]
            # A λ that suits the free circuit can close nearly every mask once the norms cannot
            # rescale what is left (small-focus, 600 steps at 3e-3: 1,517 nodes; 1,200 at 3e-4: 45), so a
            # tenth of it is tried too, and the smaller circuit is the control's size.
            coef = circuit["metrics"]["k_coef"]
            frozen = prune_task(FrozenNorms(gpt), task.train, fill, target, coefs=coefs or (coef, coef / 10),
                                steps=args.steps or circuit["metrics"].get("mask_steps", PruneConfig.steps))
            circuit["metrics"]["frozen_norms"] = {"n_nodes": frozen["k"], "train_task_loss_at_k": frozen["loss"], "k_coef": frozen["coef"], "mask_steps": frozen["steps"]}
            path.write_text(json.dumps(circuit, indent=1))
            print(f"[{name}] with frozen norms: {frozen['k']} nodes (free norms: {circuit['metrics']['n_nodes']})")
            continue
        if args.evidence_only:
            best, nonsense_k, target = existing_circuit(args.bundle / f"circuits/{name}.json")
            write_circuit(gpt, tok, task, best, fill, means, val_stream, args.bundle / f"circuits/{name}.json", nonsense_k, target)
            continue
        print(f"[{name}] model on test set: {task_eval(gpt, task.test, None, fill)}")
        target = args.target or pruning_target(task_eval(gpt, task.train[:BISECT_EXAMPLES], None, fill)["loss"])
        print(f"[{name}] target task loss {target:.3f}")
        best = prune_task(gpt, task.train, fill, target, coefs=coefs or (1e-3, 3e-3), steps=steps)
        nonsense_k = None
        if not args.no_nonsense:
            nb = prune_task(gpt, nonsense_task(task), fill, target, coefs=(best["coef"],), log=lambda *_: None, steps=steps)
            nonsense_k = nb["k"]
        rel = f"circuits/{name}.json"
        write_circuit(gpt, tok, task, best, fill, means, val_stream, args.bundle / rel, nonsense_k, target)
        manifest = json.loads(manifest_path.read_text())  # re-read: another task's run may have added its circuit
        if rel not in manifest["circuits"]:
            manifest["circuits"].append(rel)
        manifest_path.write_text(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
