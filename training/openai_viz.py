"""OpenAI's released circuits → our circuit files (`circuits/<task>.json`, docs/bundle-format.md).

Each circuit upstream found is one `viz_data.pt` (`viz/<model>/<task>/<sweep>/<k>/viz_data.pt` on their
blob store; format facts in docs/openai-viz-format.md). From it we take the kept nodes (`circuit_data`),
each node's ablation loss (`importances.ch_interv_losses`), the losses before and after pruning, the task
prompts (`importances.task_samples`, first half one class, second half the other) and the pretraining
contexts per node (`samples`). Everything else is ours, computed on the converted model: edges from its
weights (training/evidence.py's counting rule, the same as our own circuits'), node means from the bundle,
and — on the task prompts, at their last token — which of the task's two tokens each half asks for, the
model's contrast loss, each node's class correlation and the firing rule. Nothing the file lacks is made up:
without a known token pair (the paper's task table, TASK_TOKENS) the pair is the one the prompts show on
the model (prompt_pair), the description says so, and the circuit applies anywhere.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer

from .evidence import circuit_edges, class_correlations
from .firing import fit_firing_rule
from .model import GPT, SITES, site_dims
from .openai_evidence import circuit_evidence
from .openai_format import FormatError, load_published
from .openai_samples import bucket_entries, examples_source, node_examples
from .prune import EVIDENCE_THRESHOLDS

VIZ_FILE = "viz_data.pt"
# upstream's folder for one circuit: <task>/<sweep>/<k>/viz_data.pt, k a node count or k_optim
K_FOLDER = re.compile(r"^(\d+|k_optim)$")
TASK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
# a location upstream prunes at that our node layout lacks (the last residual stream before ln_f)
UNMAPPED_SITES = ("final_resid",)
# what the schema lets one circuit file hold (src/schemas/circuit.ts CIRCUIT_LIMITS)
MAX_NODES, MAX_EDGES, MAX_EXAMPLES = 2_000, 20_000, 200

# The paper's task table (Gao et al. 2025, Table 1 / appendix; our notes: ../shared/research/paper.md):
# the two continuations each task contrasts, as text whose first token is the one scored. Upstream's task
# names add suffixes for dataset versions (`bracket_counting_beeg`, `single_double_quote_beeg3`).
TASK_TOKENS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "single_double_quote": (("double", '")'), ("single", "')")),
    "bracket_counting": (("nested", "]]\n"), ("flat", "]\n")),
    "set_or_string": (("set", ".add"), ("string", " +=")),
    "set_or_string_fixedvarname": (("set", ".add"), ("string", " +=")),
    "while_return_true": (("colon", ":\n"), ("newline", "\n")),
    "if_equals": (("compare", " =="), ("assign", " =")),
    "final_kwarg": (("default", "=None"), ("end", "):\n")),
    "enumerate_range": (("enumerate", " enumerate"), ("range", " range")),
}
# where in a document each known task applies (src/core/taskScope.ts); other tasks apply anywhere
TASK_SCOPE = {
    "single_double_quote": "string-close",
    "bracket_counting": "list-close",
    "while_return_true": "keyword-true",
    "if_equals": "name-compare-assign",
}


@dataclass
class Viz:
    """One viz file, checked: kept channels and their stored ablation losses per location, in file order."""

    path: Path
    task: str
    kept: dict[str, list[int]]  # "L.attn.q" → channel indices
    node_losses: dict[str, list[float]]  # "L.attn.q" → stored loss with that node ablated from the circuit
    loss: float  # stored task loss of the unpruned model
    interv_loss: float  # stored task loss of the circuit
    docs: torch.Tensor  # [D, T] task prompts, zero-padded at the end
    samples: dict  # "L.attn.q" → channel → quantile → (bottom, top) lists of (tokens [T], acts [T], position)
    num_total_nodes: int | None
    notes: list[str]


def parse_viz_arg(arg: str) -> tuple[str, Path]:
    """`TASK=FILE`, or a FILE in upstream's layout `<task>/<sweep>/<k>/viz_data.pt` (the task is its folder)."""
    task, sep, rest = arg.partition("=")
    if sep and TASK_NAME.match(task):
        return task, Path(rest)
    path = Path(arg)
    parts = path.resolve().parts
    if len(parts) >= 4 and K_FOLDER.match(parts[-2]) and TASK_NAME.match(parts[-4]):
        return parts[-4], path
    raise FormatError(f"{path}: cannot tell which task this circuit is for; keep upstream's folders (<task>/<sweep>/<k>/{VIZ_FILE}) or pass --viz TASK={path}.")


def _floats(path: Path, key: str, value, n: int) -> list[float]:
    """A list or 1-D tensor of n finite numbers, or one sentence naming the key."""
    if isinstance(value, torch.Tensor):
        value = value.reshape(-1).tolist() if value.ndim <= 1 else None
    if not isinstance(value, (list, tuple)) or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in value):
        raise FormatError(f"{path}: {key} must be a list of finite numbers.")
    if len(value) != n:
        raise FormatError(f"{path}: {key} has {len(value)} entries, but circuit_data keeps {n} channels there.")
    return [float(x) for x in value]


def _number(path: Path, imp: dict, key: str) -> float:
    x = imp.get(key)
    if isinstance(x, torch.Tensor) and x.numel() == 1:
        x = x.item()
    if not isinstance(x, (int, float)) or not math.isfinite(x):
        raise FormatError(f"{path}: importances.{key} must be a finite number.")
    return float(x)


def _kept(path: Path, circuit_data, gpt: GPT, notes: list[str]) -> dict[str, list[int]]:
    """circuit_data → our locations' kept channels, each index checked against the location's width."""
    if not isinstance(circuit_data, dict):
        raise FormatError(f"{path}: circuit_data must be a dict of location name → kept channel indices.")
    dims = site_dims(gpt.cfg)
    kept = {}
    for loc, idx in circuit_data.items():
        if loc == "prune_config":  # upstream's viewer looks for the pruning settings here too
            continue
        layer, _, site = str(loc).partition(".")
        if loc in UNMAPPED_SITES or site in UNMAPPED_SITES:
            if isinstance(idx, torch.Tensor) and idx.numel():
                notes.append(f"{'/'.join(path.parts[-4:])}: {idx.numel()} kept {loc} channels left out, as our node layout has no {loc} location.")
            continue
        if not (layer.isdigit() and int(layer) < gpt.cfg.n_layer and site in SITES):
            raise FormatError(f"{path}: circuit_data names location {loc!r}, which this {gpt.cfg.n_layer}-layer model does not have.")
        if not isinstance(idx, torch.Tensor) or idx.ndim != 1 or idx.is_floating_point():
            raise FormatError(f"{path}: circuit_data[{loc!r}] must be a 1-D tensor of integer channel indices.")
        chans = idx.tolist()
        if any(c < 0 or c >= dims[site] for c in chans) or len(set(chans)) != len(chans):
            raise FormatError(f"{path}: circuit_data[{loc!r}] holds an index outside 0..{dims[site] - 1} or a repeated one.")
        kept[f"{int(layer)}.{site}"] = chans
    return kept


def read_viz(arg: str, gpt: GPT) -> Viz:
    """Load and check one viz file for this model (torch.load with weights_only=True, as upstream does)."""
    task, path = parse_viz_arg(arg)
    raw = load_published(path, f"--viz names one {VIZ_FILE} of this model", "a viz file")
    if not isinstance(raw, dict):
        raise FormatError(f"{path} must hold one dict (keys circuit_data, importances, samples, ...).")
    for key in ("circuit_data", "importances"):
        if key not in raw:
            raise FormatError(f"{path} has no {key} key, which every {VIZ_FILE} holds.")
    imp = raw["importances"]
    if not isinstance(imp, dict) or not isinstance(imp.get("ch_interv_losses"), dict):
        raise FormatError(f"{path}: importances must be a dict holding ch_interv_losses (location → per-node ablation losses).")
    notes: list[str] = []
    kept = _kept(path, raw["circuit_data"], gpt, notes)
    if sum(map(len, kept.values())) > MAX_NODES:
        raise FormatError(f"{path}: the circuit keeps more than {MAX_NODES} nodes, more than a circuit file may hold.")
    losses = {}
    for loc, chans in kept.items():
        if loc not in imp["ch_interv_losses"]:
            raise FormatError(f"{path}: importances.ch_interv_losses has no entry for {loc}, where circuit_data keeps {len(chans)} channels.")
        losses[loc] = _floats(path, f"importances.ch_interv_losses[{loc!r}]", imp["ch_interv_losses"][loc], len(chans))
    ts = imp.get("task_samples")
    if not isinstance(ts, (list, tuple)) or not ts or not isinstance(ts[0], torch.Tensor):
        raise FormatError(f"{path}: importances.task_samples must be a pair (token ids [prompts, tokens], activations).")
    docs = ts[0]
    if docs.ndim != 2 or docs.is_floating_point() or docs.shape[0] < 2 or docs.shape[0] % 2:
        raise FormatError(
            f"{path}: importances.task_samples[0] must be integer token ids [prompts, tokens] with an even number of prompts (two halves), not {list(docs.shape)}."
        )
    if docs.shape[1] > gpt.cfg.block_size or int(docs.min()) < 0 or int(docs.max()) >= gpt.cfg.vocab_size:
        raise FormatError(f"{path}: importances.task_samples[0] holds prompts longer than the context ({gpt.cfg.block_size}) or ids outside the vocabulary.")
    samples = raw.get("samples", {})
    if not isinstance(samples, dict):
        raise FormatError(f"{path}: samples must be a dict of location → channel → quantile → (bottom, top) contexts.")
    total = raw.get("num_total_nodes")
    return Viz(
        path,
        task,
        kept,
        losses,
        _number(path, imp, "loss"),
        _number(path, imp, "interv_loss"),
        docs.long(),
        samples,
        total if isinstance(total, int) else None,
        notes,
    )


def prompt_ends(docs: torch.Tensor) -> torch.Tensor:
    """Each prompt's last token before its zero padding [D] (upstream pads with id 0 at the end)."""
    nonzero = docs != 0  # [D, T]
    pos = torch.arange(docs.shape[1]).expand_as(docs)
    return torch.where(nonzero, pos, torch.zeros_like(pos)).amax(1)


@torch.no_grad()
def last_token_run(gpt: GPT, docs: torch.Tensor, flats: list[int], rows: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """The full model on each task prompt: logits [D, V] and the circuit's nodes [D, k] at its last token."""
    ends = prompt_ends(docs)
    logits, acts = [], []
    for i in range(0, len(docs), rows):
        ids, last = docs[i : i + rows], ends[i : i + rows]
        out, nodes, _ = gpt(ids, record=True, positions=last)  # [b, V], [b, T, N]
        logits.append(out)
        acts.append(nodes[torch.arange(len(last)), last][:, flats])
    return torch.cat(logits), torch.cat(acts)


def task_key(task: str) -> str:
    """Upstream's dataset name → the paper's task name (`bracket_counting_beeg` → `bracket_counting`)."""
    return re.sub(r"_beeg\d*$", "", task)


HALVES = ("first half of the task prompts", "second half of the task prompts")


def token_pair(task: str, tok: Tokenizer) -> tuple[tuple[str, int], tuple[str, int]] | None:
    """The task's two (label, first token id), when the paper's table names two different first tokens."""
    pair = TASK_TOKENS.get(task_key(task))
    if pair is None:
        return None
    (la, a), (lb, b) = pair
    ia, ib = tok.encode(a).ids[0], tok.encode(b).ids[0]
    return ((la, ia), (lb, ib)) if ia != ib else None


def prompt_pair(logits: torch.Tensor) -> tuple[tuple[str, int], tuple[str, int]]:
    """For a task the table lacks, the contrast its prompts show on this model: the token whose mean
    log-probability rises most from the second half of the prompts to the first, and the one that falls
    most. logits [D, V] at the prompts' last tokens."""
    D = len(logits)
    lp = logits.log_softmax(-1)
    shift = lp[: D // 2].mean(0) - lp[D // 2 :].mean(0)  # [V]
    return (HALVES[0], int(shift.argmax())), (HALVES[1], int(shift.argmin()))


def classes_and_metrics(viz: Viz, tok: Tokenizer, logits: torch.Tensor) -> tuple[list[dict], dict, bool]:
    """Class 0 = the first half of the task prompts, which takes the token of the pair the model prefers
    there more often than on the second half; the metrics hold the model's contrast loss and accuracy on
    the prompts. The pair is the paper's (TASK_TOKENS) where known, else read off the prompts (prompt_pair;
    then the metrics are measured on the prompts that chose it). Also returns whether the pair is the paper's."""
    D = len(viz.docs)
    known = token_pair(viz.task, tok)
    (la, ia), (lb, ib) = known or prompt_pair(logits)
    diff = logits[:, ia] - logits[:, ib]  # [D] > 0: the model prefers the first token
    first_half_a = bool((diff[: D // 2] > 0).float().mean() >= (diff[D // 2 :] > 0).float().mean())
    order = [(la, ia), (lb, ib)] if first_half_a else [(lb, ib), (la, ia)]
    labels = [label for label, _ in order] if known else list(HALVES)
    classes = [{"label": label, "tokens": [{"id": i, "text": tok.decode([i])}]} for label, (_, i) in zip(labels, order, strict=True)]
    # d > 0 where the model favours the prompt's own class token
    d = torch.cat([diff[: D // 2], -diff[D // 2 :]]) * (1 if first_half_a else -1)
    metrics = {
        "task_loss_model": round(float(torch.nn.functional.softplus(-d).mean()), 5),
        "accuracy_model": round(float((d > 0).float().mean()), 5),
        "logit_diff_model": round(float(d.mean()), 5),
    }
    return classes, metrics, known is not None


def describe(gpt: GPT, loc: str, ch: int) -> str:
    """What the node is, in words (heads from the model's own d_head)."""
    layer, site = loc.split(".", 1)
    dh = gpt.cfg.d_head
    return {
        "attn.act_in": f"residual channel {ch} as read by layer-{layer} attention",
        "attn.q": f"query channel {ch % dh} of layer-{layer} head {ch // dh}",
        "attn.k": f"key channel {ch % dh} of layer-{layer} head {ch // dh}",
        "attn.v": f"value channel {ch % dh} of layer-{layer} head {ch // dh}",
        "attn.resid_delta": f"residual channel {ch} as written by layer-{layer} attention",
        "mlp.act_in": f"residual channel {ch} as read by the layer-{layer} MLP",
        "mlp.post_act": f"layer-{layer} MLP neuron {ch}",
        "mlp.resid_delta": f"residual channel {ch} as written by the layer-{layer} MLP",
    }[site]


def top_sample_tokens(viz: Viz, loc: str, ch: int, tok: Tokenizer, k: int = 5) -> list[str]:
    """The tokens at which upstream's top-0.1 % pretraining contexts for this node peak (first k, distinct)."""
    seen: list[str] = []
    for side, ids, _, pos in bucket_entries(viz.samples, loc, ch):
        text = tok.decode([int(ids[pos])])
        if side == "top" and text not in seen and len(seen) < k:
            seen.append(text)
    return seen


def circuit_node(viz: Viz, gpt: GPT, tok: Tokenizer, loc: str, ch: int, flat: int, mean: float, corr: float) -> dict:
    """One kept node: our id, what it is, its stored ablation loss (halved: upstream stores every task loss
    doubled) and the rise over the circuit's loss as its importance, where its top contexts peak, and those
    contexts as its examples."""
    layer, site = loc.split(".", 1)
    stored = viz.node_losses[loc][viz.kept[loc].index(ch)] / 2
    toks = top_sample_tokens(viz, loc, ch, tok)
    peaks = f"; in their pretraining samples it peaks on {', '.join(repr(t) for t in toks)}." if toks else "."
    examples = node_examples(viz.samples, loc, ch, tok)
    return {
        "id": f"{loc}.{ch}",
        "layer": int(layer),
        "site": site,
        "index": ch,
        "flat": flat,
        "label": f"{site} {ch}",
        "meaning": f"The {describe(gpt, loc, ch)}, kept by OpenAI's pruning; ablating it from the circuit raises the task loss to {stored:.3f}{peaks}",
        "mean": round(mean, 5),
        "importance": round(stored - viz.interv_loss / 2, 5),
        "class_correlation": round(corr, 4),
        **({"top_tokens": toks} if toks else {}),
        **({"examples": examples} if examples else {}),
    }


def circuit_edges_capped(gpt: GPT, flats: list[int], metrics: dict) -> list[dict]:
    """Edges from the weights, strongest first, at most as many as a circuit file may hold (the rest counted)."""
    edges = sorted(circuit_edges(gpt, flats), key=lambda e: -abs(e["weight"]))
    if len(edges) > MAX_EDGES:
        metrics["n_edges_dropped"] = len(edges) - MAX_EDGES
    edges = edges[:MAX_EDGES]
    metrics |= {"n_nodes": len(flats), "n_edges": sum(e["kind"] == "weight" for e in edges), "n_residual_edges": sum(e["kind"] == "residual" for e in edges)}
    return edges


@torch.no_grad()
def circuit_file(viz: Viz, gpt: GPT, tok: Tokenizer, means: list[float], flat_of: dict[str, int]) -> dict:
    """The circuit file for one viz file: its nodes with our ids, edges from the weights, evidence on its prompts."""
    pairs = [(loc, c, flat_of[loc] + c) for loc, chans in viz.kept.items() for c in chans]
    ids = [f"{loc}.{c}" for loc, c, _ in pairs]
    logits, acts = last_token_run(gpt, viz.docs, [f for _, _, f in pairs])  # [D, V], [D, k]
    D = len(viz.docs)
    class_of = torch.cat([torch.zeros(D // 2), torch.ones(D // 2)])  # [D]: the second half of the prompts is class 1
    corr = class_correlations(acts, class_of) if ids else []
    classes, metrics, known = classes_and_metrics(viz, tok, logits)
    nodes = [circuit_node(viz, gpt, tok, loc, c, f, means[f], r) for (loc, c, f), r in zip(pairs, corr, strict=True)]
    edges = circuit_edges_capped(gpt, [f for _, _, f in pairs], metrics)
    metrics |= {"upstream_loss_before_pruning": round(viz.loss / 2, 5), "upstream_loss_after_pruning": round(viz.interv_loss / 2, 5)}
    if viz.num_total_nodes is not None:
        metrics["upstream_num_total_nodes"] = viz.num_total_nodes
    ends = prompt_ends(viz.docs)
    # the circuit alone, other nodes at our node means, as our own circuits are measured (training/prune.py)
    metrics |= circuit_evidence(gpt, viz.docs, ends, classes, [f for _, _, f in pairs], torch.tensor(means, dtype=torch.float32))
    # pairs from both halves (prompt i and i + D/2 differ minimally), as many as a file may hold
    shown = [i + h for i in range(min(D // 2, MAX_EXAMPLES // 2)) for h in (0, D // 2)]
    tokens_from = "the paper's task table" if known else "the two tokens whose probability differs most between the halves of the task prompts"
    out = {
        "task": viz.task,
        "title": f"{viz.task} (OpenAI's circuit)",
        "description": f"The circuit OpenAI's pruning found for their task {viz.task}, converted from {'/'.join(viz.path.parts[-4:])}; edges, correlations and the firing rule were computed on the converted model, the circuit alone measured with every other node at its mean over our validation corpus, the class tokens taken from {tokens_from}; the node examples are OpenAI's stored pretraining contexts.",
        "scope": {"kind": TASK_SCOPE.get(task_key(viz.task), "anywhere") if known else "anywhere"},
        "classes": classes,
        "examples": [{"prompt": tok.decode(viz.docs[i, : int(ends[i]) + 1].tolist()), "class": int(i >= D // 2)} for i in shown],
        "nodes": nodes,
        "edges": edges,
        "key_nodes": [n["id"] for n in sorted(nodes, key=lambda x: -x["importance"])[:4]],
        "metrics": metrics,
    }
    if nodes:
        out["firing"] = fit_firing_rule(acts, class_of, ids)
    if any("examples" in n for n in nodes):
        out["node_examples"] = examples_source(nodes)
    if known:  # a pair read off the prompts flatters the model, so only the paper's pair makes a claim
        out["evidence_thresholds"] = EVIDENCE_THRESHOLDS
    return out
