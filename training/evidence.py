"""Evidence for a circuit: its edges, activations, top tokens, calibration, faithfulness against the full
model and random node sets, the nonsense-task size control and node descriptions (the firing rule: training/firing.py).
"""

from __future__ import annotations

import random

import numpy as np
import torch

from . import tasks as tasks_mod
from .circuit_search import BISECT_EXAMPLES
from .masks import circuit_mask
from .model import GPT, n_nodes, node_layout

NECESSITY_EXAMPLES = 128


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


def class_correlations(acts: torch.Tensor, class_of: torch.Tensor) -> list[float]:
    """Each node's correlation (Pearson r) with the example being of class 0, from acts [n_examples, k]; 0 where a node never varies."""
    y = (class_of == 0).float()
    corr = []
    for j in range(acts.shape[1]):
        a = acts[:, j]
        corr.append(float(torch.corrcoef(torch.stack([a, y]))[0, 1]) if a.std() > 0 else 0.0)
    return corr


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


def faithfulness(gpt: GPT, task, kept: list[int], fill: torch.Tensor, nonsense_k: int | None, necessity: bool = True) -> dict:
    """The circuit alone (other nodes at their means) against the full model and random node sets of its size;
    with `necessity`, each node's necessity too (two passes per node: an imported circuit of hundreds of nodes on a
    large model skips it, training/openai_evidence.py)."""
    N = n_nodes(gpt.cfg)
    test = task.test[:BISECT_EXAMPLES]
    full = diffs(gpt, test, None, fill)
    circ_mask = circuit_mask(N, kept)
    circ = diffs(gpt, test, circ_mask, fill)
    g = torch.Generator().manual_seed(1)
    rand_sets = [torch.randperm(N, generator=g)[: len(kept)] for _ in range(5)]
    rand = [diffs(gpt, test, circuit_mask(N, r), fill) for r in rand_sets]  # each [n]
    rand_loss = [float(tasks_mod.contrast_loss(d)) for d in rand]
    rand_acc = [float((d > 0).float().mean()) for d in rand[:2]]
    a, b, cal_loss = calibrate(circ, class_sign(task, test))
    per_node = {}
    few = test[:NECESSITY_EXAMPLES]
    circ_few, full_few = circ[: len(few)].mean(), full[: len(few)].mean()
    for f in kept if necessity else []:
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
        "random_same_size": {
            "task_loss_mean": float(np.mean(rand_loss)),
            "task_loss_min": float(np.min(rand_loss)),
            "accuracy_mean": float(np.mean(rand_acc)),
            "trials": len(rand_sets),
        },
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
        meaning = f"The {where}: higher for {hi} than for {lo} at the prediction (r = {corr:+.2f} with the class); most active on {tok_text}."
    else:
        label = f"{site} {i}"
        meaning = f"The {where}: not class-selective on its own (r = {corr:+.2f}); most active on {tok_text}; mean {mean:+.3f} over validation text."
    return label, meaning
