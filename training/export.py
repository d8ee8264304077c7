"""Step 3: export a trained checkpoint as the product's model bundle (docs/bundle-format.md).

    python -m training.export --run training/runs/depth --out models/pysparse-depth
    python -m training.export --run training/runs/depth --out models/pysparse-depth --graph-only
    python -m training.export --run training/runs/depth --out models/pysparse-depth --tails-only

Writes model.onnx (node-mask interface, one mask per batch row; mostly-zero weights as sparse initializers, the dense
bigram table in fp16), node_means.bin, tokenizer.json, manifest.json and golden.json (reference
outputs for the TypeScript runner's parity test). Circuit files are added by training.prune.
--graph-only rewrites just model.onnx, golden.json and node_weights.bin (and their manifest entries, with the
attention parameters), keeping
the bundle's means, circuits and metrics. --tails-only adds just the tail graphs (TailInterface) and the manifest's "tails".
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from tokenizers import Tokenizer

from . import model as model_mod
from .model import GPT, GPTConfig, NodeHooks, abs_topk, n_nodes, node_layout
from .resume import COMPACT_NAME, load_compact
from .train import CONFIGS, Schedule, node_means

OPSET = 17
ONNX_INPUTS = ("input_ids", "node_mask", "node_fill", "watch", "score_from", "read_ids")
FORMAT = "circuit-inspector-bundle/1"


class NodeInterface(torch.nn.Module):
    """(input_ids [B,T], node_mask [M,N], node_fill [M,N], watch [K], score_from [1], read_ids [R])
    → (logits [B',P,R], watched [B',P,K]) at the scored positions score_from..T−1 (P = T − score_from).

    Mask rows (manifest "mask_rows": true): M = 1 applies one ablation to every batch row; M = B gives
    batch row b the ablation of mask row b; B = 1 runs the one window under each of M ablations
    (B' = max(B, M)). Hundreds of single-node ablations of a window are then one onnxruntime call.

    Windows overlap, so most of a window is left context whose outputs nobody reads; and the editor
    reads only the logits of a few class tokens. Both cuts happen inside the graph, before the
    unembedding and before the node activations are gathered.
    """

    def __init__(self, gpt: GPT):
        super().__init__()
        self.gpt = gpt

    def forward(self, input_ids, node_mask, node_fill, watch, score_from, read_ids):
        # [M, 1, N]: each mask row broadcasts over its batch row's T positions (a flat [N] is one row,
        # for PyTorch callers; the exported graph takes [M, N])
        rows = lambda v: v.reshape(-1, 1, v.shape[-1])  # noqa: E731
        hook = self.gpt.hooks(rows(node_mask), rows(node_fill), record=True)
        start = score_from[0]
        x, _ = self.gpt.hidden(input_ids, hook, scored_from=start)  # [B, P, d]
        P = x.shape[1]
        logits = self.gpt.head(x, input_ids[:, start:], read_ids)  # [B, P, R]
        return logits, watched_nodes(hook.recorded, node_layout(self.gpt.cfg), watch, x.shape[0], P)


# Next-token lists need, per scored position, log-sum-exp over the read logits and the few largest of them:
# computed in JavaScript from [P, V] logits they were ~19 s of the CLI's 80 s of CPU on a 1 MB line, all on
# its main thread (docs/BENCHMARKS.md, session 11). In the graph they run in the model's worker threads.
NEXT_TOP_K = 8
NEXT_OUTPUTS = ("logsumexp", "top_values", "top_ids")


class NextTokenInterface(NodeInterface):
    """What model.onnx exports: NodeInterface's (logits [B',P,R], watched [B',P,K]) and, over those logits,
    logsumexp [B',P] (float64: the editor's readouts have always been float64 sums, and the last printed
    digit must not move) and the NEXT_TOP_K largest read logits, top_values [B',P,NEXT_TOP_K] (float32),
    with their vocabulary ids top_ids [B',P,NEXT_TOP_K] (int64; equal logits in read order, as onnxruntime's
    TopK orders ties by index). Reading fewer than NEXT_TOP_K ids pads with -inf and id -1, so the outputs'
    last width is always NEXT_TOP_K and the runner learns K from the graph itself. (A subclass, not a wrapper:
    the graph's initializers keep NodeInterface's names, "gpt.…", which src/sparseLimit.ts and
    training/bench_torch.py read.)"""

    def forward(self, input_ids, node_mask, node_fill, watch, score_from, read_ids):
        logits, watched = super().forward(input_ids, node_mask, node_fill, watch, score_from, read_ids)
        # max + log Σ exp(l − max) in float64, as separate ops: onnxruntime's ReduceLogSumExp exponentiates
        # element by element, its Exp vectorised (float64 is what costs here: [P, V] exponentials)
        top = logits.amax(dim=-1, keepdim=True).double()  # [B', P, 1]
        lse = (top + (logits.double() - top).exp().sum(dim=-1, keepdim=True).log()).squeeze(-1)  # [B', P]
        pad = torch.full((logits.shape[0], logits.shape[1], NEXT_TOP_K), float("-inf"))  # [B', P, K]
        values, cols = torch.topk(torch.cat([logits, pad], dim=-1), NEXT_TOP_K, dim=-1)  # [B', P, K] each
        ids = torch.cat([read_ids, torch.full((NEXT_TOP_K,), -1, dtype=read_ids.dtype)])[cols]  # [B', P, K]
        return logits, watched, lse, values, ids


def watched_nodes(recorded: dict, layout: list[dict], watch: torch.Tensor, B: int, P: int) -> torch.Tensor:
    """The watched nodes [B, P, K] at the last P positions of the records of `layout`'s locations; a watched
    node outside them is 0. The locations' last P rows side by side [B, P, n + 1] (records have T or P rows,
    see GPT.hidden, and the scored positions are the last P of each; the extra column is the 0 that a node
    outside reads), then one Gather of the K columns: the editor watches every circuit's nodes (K ≈ 1,500),
    and taking each location's share of all K instead cost 16 [B, P, K] selections, products and sums, half
    of a window's time (docs/BENCHMARKS.md, session 10)."""
    parts = [recorded[e["name"]] for e in layout]
    n = sum(e["length"] for e in layout)
    side = torch.cat([r[:, r.shape[1] - P :] for r in parts] + [torch.zeros(B, P, 1)], dim=-1)  # [B, P, n + 1]
    return side.index_select(-1, torch.where(watch < n, watch, n))


class _ConeEnds(Exception):
    """Raised by ConeHooks once the cone's last node location is recorded: nothing after it is traced."""


class ConeHooks(NodeHooks):
    """A forward's NodeHooks that stop the forward right after recording node location `upto`."""

    def __init__(self, base: NodeHooks, upto: str):
        self.__dict__.update(base.__dict__)
        self.upto = upto

    def __call__(self, name: str, x: torch.Tensor) -> torch.Tensor:
        x = super().__call__(name, x)
        if name == self.upto:
            raise _ConeEnds
        return x


# Each cone holds the weights of its layers again, so their total grows with the square of the depth (a
# 12-layer import would write 23 cones, ~13× its weights): deeper models get none and run model.onnx.
MAX_CONE_LAYERS = 4


def cone_ends(cfg: GPTConfig) -> list[str]:
    """The node locations the exported cones end at (manifest "cones", docs/bundle-format.md): after each
    layer's attention (its MLP's normalised input included, a cheap step that firing rules read) and after
    each whole layer but the last (the full graph minus an unembedding of a few read ids: no cone needed);
    none for models deeper than MAX_CONE_LAYERS."""
    if cfg.n_layer > MAX_CONE_LAYERS:
        return []
    ends = []
    for layer in range(cfg.n_layer):
        ends.append(f"{layer}.mlp.act_in")
        if layer < cfg.n_layer - 1:
            ends.append(f"{layer}.mlp.resid_delta")
    return ends


class ConeInterface(torch.nn.Module):
    """(input_ids [B,T], node_mask [M,N], node_fill [M,N], watch [K], score_from [1]) → watched [B',P,K]:
    NodeInterface's `watched` for nodes up to location `upto` (layout order is compute order), computing
    only the layers up to upto's and, in that layer, nothing after upto; that layer runs its queries and
    what follows at the scored positions only, like the full graph's last layer. A watched node after
    upto reads 0: the runner picks a cone that covers every watched node (src/core/cone.ts)."""

    def __init__(self, gpt: GPT, upto: str):
        super().__init__()
        self.gpt = gpt
        self.upto = upto
        self.layer = int(upto.split(".")[0])
        names = [e["name"] for e in node_layout(gpt.cfg)]
        self.layout = node_layout(gpt.cfg)[: names.index(upto) + 1]

    def forward(self, input_ids, node_mask, node_fill, watch, score_from):
        rows = lambda v: v.reshape(-1, 1, v.shape[-1])  # noqa: E731
        hook = ConeHooks(self.gpt.hooks(rows(node_mask), rows(node_fill), record=True), self.upto)
        try:
            # the cone's layer is the truncated model's last: GPT.hidden scores only from score_from there
            self.gpt.hidden(input_ids, hook, scored_from=score_from[0])
        except _ConeEnds:
            pass
        q = hook.recorded[f"{self.layer}.attn.q"]  # [B', P, hd]: queries exist at the scored positions only
        return watched_nodes(hook.recorded, self.layout, watch, q.shape[0], q.shape[1])


# Where a tail starts: a row that ablates a node of a location without a tail runs through the latest tail
# before it (or model.onnx). Each tail costs ~65 ms of CPU to open in each worker, once per process — a
# CLI `discover` opens them all — so a location gets one only where it saved more than that at the 20
# networkx places of docs/BENCHMARKS.md ("tail graphs"): on one thread, a row of a 256-token window costs
# 12 ms through model.onnx, 10 from attn.q, 8 from attn.v, 6.5 from mlp.act_in, 3.9 from mlp.post_act, 2.9
# from mlp.resid_delta, 2.0 from the next layer's attn.act_in, and 0.4 from the last layer's attn.q (its k
# and v too: the last layer's work after its keys and values is at the scored positions only).
TAIL_SITES = ("attn.act_in", "attn.v", "mlp.post_act")
LAST_LAYER_TAIL_SITES = ("attn.act_in", "attn.q")


def tail_starts(cfg: GPTConfig) -> list[str]:
    """The node locations the exported tails start at (manifest "tails", docs/bundle-format.md), in layout
    order: TAIL_SITES of every layer (LAST_LAYER_TAIL_SITES of the last) but the first location, from which a
    tail would be model.onnx less the bigram table; none for models deeper than MAX_CONE_LAYERS, for the
    reason cones stop there (each tail holds every weight again)."""
    if cfg.n_layer > MAX_CONE_LAYERS:
        return []
    last = cfg.n_layer - 1
    names = [e["name"] for e in node_layout(cfg)[1:]]
    return [n for n in names if n.split(".", 1)[1] in (LAST_LAYER_TAIL_SITES if int(n.split(".")[0]) == last else TAIL_SITES)]


class TailHooks(NodeHooks):
    """A forward's NodeHooks that apply mask row 0 alone at the node locations before `start` and every
    mask row from `start` on: what comes before runs once, as one batch row, and the rows part at start."""

    def __init__(self, base: NodeHooks, start: str):
        self.__dict__.update(base.__dict__)
        names = [e["name"] for e in self.layout]
        self.shared = set(names[: names.index(start)])

    def __call__(self, name: str, x: torch.Tensor) -> torch.Tensor:
        if name not in self.shared:
            return super().__call__(name, x)
        lo, hi = self.slices[name]
        return x * self.node_mask[:1, :, lo:hi] + self.fill_term[:1, :, lo:hi]  # [1, T, n]: one row for all


class TailInterface(torch.nn.Module):
    """(input_ids [1,T], node_mask [M,N], node_fill [M,N], score_from [1], read_ids [R]) → logits [M,P,R]
    without the bigram table's term: NodeInterface's logits for mask rows that all equal row 0 at every node
    location before `start` (the caller groups its rows so; src/core/discoverRoute.ts). The model up to start
    runs once instead of once per row, and the last layer after its keys and values runs at the scored
    positions only, so a row that ablates a last-layer node costs one position's work (docs/BENCHMARKS.md,
    "tail graphs"). The bigram term reads only the token at the position, never a node, so it is the same in
    every row: the caller adds model.onnx's, and the tails need not each hold the table (half the weights)."""

    def __init__(self, gpt: GPT, start: str):
        super().__init__()
        self.gpt = gpt
        self.start = start

    def forward(self, input_ids, node_mask, node_fill, score_from, read_ids):
        hook = TailHooks(self.gpt.hooks(node_mask.unsqueeze(1), node_fill.unsqueeze(1)), self.start)  # masks [M, 1, N]
        start = score_from[0]
        x, _ = self.gpt.hidden(input_ids, hook, scored_from=start)  # [M, P, d]
        with no_bigram(self.gpt):
            return self.gpt.head(x, input_ids[:, start:], read_ids)  # [M, P, R]


@contextmanager
def no_bigram(gpt: GPT):
    """The model's head without the bigram table's logits while a tail is traced or run."""
    was = gpt.bigram_on
    gpt.bigram_on = False
    try:
        yield
    finally:
        gpt.bigram_on = was


@contextmanager
def first_layers(gpt: GPT, n: int):
    """The model with only its first n blocks while a cone is traced (the parameters are the same objects)."""
    blocks = gpt.transformer.h
    gpt.transformer.h = torch.nn.ModuleList(list(blocks)[:n])
    try:
        yield
    finally:
        gpt.transformer.h = blocks


def load_checkpoint(run: Path) -> GPT:
    return load_run(run)[0]


def _param_name(onnx_name: str) -> str:
    """'gpt.transformer.wte.weight' → 'transformer.wte.weight'; the fp16-stored bigram table too."""
    name = onnx_name.removeprefix("gpt.")
    return name.removesuffix("_fp16")


def load_from_bundle(bundle: Path) -> GPT:
    """The model a bundle ships, read back from its model.onnx: the exported weights bit for bit (the
    bigram table as the fp16 it is stored in), for work on a bundle whose run has no checkpoint.pt here."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    gpt = GPT(GPTConfig(**manifest["model"]))
    graph = onnx.load(str(bundle / manifest["onnx"])).graph
    state = {_param_name(i.name): numpy_helper.to_array(i).astype(np.float32) for i in graph.initializer}
    for sp in graph.sparse_initializer:
        dense = np.zeros(int(np.prod(sp.dims)), np.float32)
        dense[numpy_helper.to_array(sp.indices)] = numpy_helper.to_array(sp.values)
        state[_param_name(sp.values.name)] = dense.reshape(list(sp.dims))
    gpt.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return gpt.eval()


def load_run(run: Path) -> tuple[GPT, dict]:
    """The run's model, and what it is: config name, model config, steps, tokens, last validation loss
    and its loss curve. A fine-tune (train.py --init-from) counts its base run's steps and tokens too,
    its curve follows the base run's, and it says so. A run still inside its schedule gets the kept
    fraction and bigram switch it had at its last step (a `depth` run is unsparsified early on). Without
    checkpoint.pt (a new checkout; a run made on the GPU machine, which sends back only the compact file)
    the weights are resume.pt's: the sparse matrices exact, the dense parts rounded to fp16."""
    ck, info = _read_run(run)
    if "model" not in ck:
        ck = {**ck, "model": load_compact(run / COMPACT_NAME)[0]}
    gpt = GPT(GPTConfig(**ck["model_config"]))
    gpt.load_state_dict(ck["model"])
    Schedule(CONFIGS[ck["config"]], ck["total_steps"], ck.get("finetune")).apply(gpt, ck["step"])
    gpt.eval()
    return gpt, info


def run_info(run: Path) -> dict:
    """load_run's info without the weights: from checkpoint.pt, or from the committed resume.pt where a
    new checkout has no checkpoint."""
    return _read_run(run)[1]


def _read_run(run: Path) -> tuple[dict, dict]:
    """The checkpoint (only the compact file's meta when checkpoint.pt is missing) and load_run's info,
    each checkpoint of a fine-tune's chain read once."""
    path = run / "checkpoint.pt"
    ck = (
        torch.load(path, weights_only=False, map_location="cpu")
        if path.exists()
        else torch.load(run / COMPACT_NAME, weights_only=False, map_location="cpu")["meta"]
    )
    by_step = {}
    for line in (run / "curve.jsonl").read_text().splitlines():
        row = json.loads(line)
        by_step[row["step"]] = row  # a resumed run rewrites the steps after its last checkpoint: the latest wins
    curve = [by_step[k] for k in sorted(by_step)]
    info = {"config": ck["config"], "model": ck["model_config"], "steps": ck["step"], "tokens": ck["tokens"]}
    finetune = ck.get("finetune")
    if finetune:
        base = _read_run(Path(finetune["init_from"]))[1]
        last = base["curve"][-1]
        curve = base["curve"] + [{**r, "step": r["step"] + last["step"], "tokens": r["tokens"] + last["tokens"]} for r in curve]
        info["finetune"] = {**finetune, "steps": ck["step"], "tokens": ck["tokens"], "base_steps": base["steps"]}
        info["steps"], info["tokens"] = base["steps"] + ck["step"], base["tokens"] + ck["tokens"]
    evals = [r for r in curve if "val_loss" in r]
    info["val_loss"] = evals[-1]["val_loss"] if evals else None
    info["curve"] = curve
    return ck, info


def sparsify_initializers(m: onnx.ModelProto, min_zero_frac: float = 0.5) -> None:
    """Store mostly-zero float initializers as sparse initializers (int64 linear indices, per the ONNX spec)."""
    keep = []
    for init in m.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.float32 and arr.size > 64 and (arr == 0).mean() >= min_zero_frac:
            flat = arr.reshape(-1)
            idx = np.nonzero(flat)[0].astype(np.int64)
            values = numpy_helper.from_array(flat[idx], init.name)
            indices = numpy_helper.from_array(idx, init.name + "_indices")
            m.graph.sparse_initializer.append(helper.make_sparse_tensor(values, indices, list(arr.shape)))
        else:
            keep.append(init)
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)


def bigram_to_fp16(m: onnx.ModelProto, suffix: str = "bigram_table") -> None:
    """The dense bigram table is half the model's bytes: store it in fp16 (< 1e-3 in the logits) and cast
    only what is read from it. The exporter's graph reads the table through Gathers (rows by token, then
    columns by read_ids); they run on the fp16 table and one Cast follows the last of them, turning
    [B, P, R] values to fp32 — the same values as casting first. A Cast of the table itself is constant-
    folded by onnxruntime into a resident fp32 copy: 16 MB more in every session.
    (The exporter prefixes parameter names with the wrapper's attribute, e.g. "gpt.bigram_table".)"""
    init = next((x for x in m.graph.initializer if x.name == suffix or x.name.endswith("." + suffix)), None)
    if init is None:
        return
    name = init.name
    init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), name + "_fp16"))
    # the chain table → Gather → Gather …, as long as each value's one consumer is a Gather of it
    chain, value = [], name
    while True:
        users = [n for n in m.graph.node if value in n.input]
        if len(users) != 1 or users[0].op_type != "Gather" or users[0].input[0] != value:
            break
        chain.append(users[0])
        value = users[0].output[0]
    if not chain:
        m.graph.node.insert(0, helper.make_node("Cast", [name + "_fp16"], [name], to=onnx.TensorProto.FLOAT))
        return
    chain[0].input[0] = name + "_fp16"
    # the chain's values are fp16 now: drop any fp32 type recorded for them
    inside = {n.output[0] for n in chain}
    kept = [v for v in m.graph.value_info if v.name not in inside]
    del m.graph.value_info[:]
    m.graph.value_info.extend(kept)
    last = chain[-1]
    out = last.output[0]
    last.output[0] = out + "_fp16"
    at = list(m.graph.node).index(last) + 1
    m.graph.node.insert(at, helper.make_node("Cast", [out + "_fp16"], [out], to=onnx.TensorProto.FLOAT))


def round_bigram_fp16_(gpt: GPT) -> None:
    """Make the PyTorch reference use exactly the fp16-rounded table the ONNX file stores."""
    if gpt.bigram_table is not None:
        with torch.no_grad():
            gpt.bigram_table.copy_(gpt.bigram_table.half().float())


# onnxruntime's TopK (CPU) selects per row with nth_element over an index array; where the selected
# position sits changes its cost. Measured on [R, n] rows (Python onnxruntime 1.32, 1 thread): at n = 128
# the n − k + 1 smallest (k = 32) beat the k largest, at n = 512 (k = 128) the k largest win by 1.2× at
# 256 rows and 1.2–1.7× at 2,048–8,192 rows (discovery's batches of mask rows).
LARGEST_FROM_WIDTH = 512


def abs_topk_for_onnx(x: torch.Tensor, k: int) -> torch.Tensor:
    """model.abs_topk as exported: the same threshold (the k-th largest |x|, ties kept as model.abs_topk
    keeps them) found as the smallest of the k largest at widths from LARGEST_FROM_WIDTH, as the largest of
    the n − k + 1 smallest below. Both are that value exactly, so the outputs are bit for bit the same."""
    n = x.shape[-1]
    if k >= n or n < LARGEST_FROM_WIDTH:
        return abs_topk(x, k)
    a = x.abs()
    thresh = torch.topk(a, k, dim=-1, largest=True, sorted=False).values.amin(-1, keepdim=True)  # [..., 1]
    return x * (a >= thresh).to(x.dtype)


@contextmanager
def exported_abs_topk():
    """While the graph is traced, the model's AbsTopK calls go through abs_topk_for_onnx and its attention
    mixes the sink slot in (model.CausalSelfAttention.sink_in_mix): formulations of the same values that
    onnxruntime runs faster."""
    original, mixed = model_mod.abs_topk, model_mod.CausalSelfAttention.sink_in_mix
    model_mod.abs_topk, model_mod.CausalSelfAttention.sink_in_mix = abs_topk_for_onnx, True
    try:
        yield
    finally:
        model_mod.abs_topk, model_mod.CausalSelfAttention.sink_in_mix = original, mixed


def export_onnx(gpt: GPT, path: Path, bigram_fp16: bool = True) -> None:
    cfg = gpt.cfg
    N = n_nodes(cfg)
    wrapper = NextTokenInterface(gpt).eval()
    args = (torch.zeros(1, 8, dtype=torch.long), torch.ones(1, N), torch.zeros(1, N), torch.zeros(1, dtype=torch.long), torch.tensor([2]), torch.arange(4))
    outputs = {
        "logits": {0: "B", 1: "P", 2: "R"},
        "watched": {0: "B", 1: "P", 2: "K"},
        "logsumexp": {0: "B", 1: "P"},
        "top_values": {0: "B", 1: "P"},
        "top_ids": {0: "B", 1: "P"},
    }
    with exported_abs_topk():
        _trace(wrapper, args, path, outputs)
    _finish(path, bigram_fp16, edit=lambda m: (fixed_next_width(m), whole_vocabulary_ungathered(m, cfg.vocab_size)))


def fixed_next_width(m: onnx.ModelProto) -> None:
    """Writes NEXT_TOP_K as the last dimension of top_values and top_ids (the tracer names it as a symbol),
    so that a session's output metadata tells the runner how many next tokens the graph ranks."""
    for out in m.graph.output:
        if out.name in NEXT_OUTPUTS[1:]:
            out.type.tensor_type.shape.dim[2].Clear()
            out.type.tensor_type.shape.dim[2].dim_value = NEXT_TOP_K


def whole_vocabulary_ungathered(m: onnx.ModelProto, vocab_size: int) -> None:
    """Each Gather by read_ids becomes an If that passes its data through unchanged when read_ids is 0..V−1
    (next-token lists, the CLI) and gathers otherwise (the editor's few class tokens): the same tensor either
    way. onnxruntime gathers the bigram table's [P, V] columns element by element (1.45 of 0.10 ms for 152
    positions), for nothing when every column is read in order."""
    gathers = [n for n in m.graph.node if n.op_type == "Gather" and n.input[1] == "read_ids"]
    if not gathers:
        return
    at = min(list(m.graph.node).index(g) for g in gathers)
    for i, n in enumerate(_reads_whole_vocabulary(vocab_size, "whole_vocab")):
        m.graph.node.insert(at + i, n)
    inferred = onnx.shape_inference.infer_shapes(m).graph  # element types of every value (the bigram table's are fp16)
    types = {v.name: v.type.tensor_type.elem_type for v in list(inferred.value_info) + list(inferred.input)}
    types.update({i.name: i.data_type for i in inferred.initializer})
    for g in gathers:
        out = helper.make_tensor_value_info(g.output[0], types[g.input[0]], None)
        whole = helper.make_graph([helper.make_node("Identity", [g.input[0]], [out.name])], g.name + "/whole", [], [out])
        gather = helper.make_graph([helper.make_node("Gather", list(g.input), [out.name], axis=_axis(g))], g.name + "/gather", [], [out])
        g.CopyFrom(helper.make_node("If", ["whole_vocab"], [out.name], name=g.name, then_branch=whole, else_branch=gather))


def _reads_whole_vocabulary(vocab_size: int, out: str) -> list:
    """Nodes computing `out` [1] (bool): R == V and read_ids[i] == i for every i (compared with a Range up to R,
    so that both sides have R entries whatever R is)."""
    const = lambda name, value: helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(value, dtype=np.int64), name))  # noqa: E731
    p = out + "/"
    return [
        const(p + "V", [vocab_size]),
        const(p + "zero", 0),
        const(p + "one", 1),
        const(p + "first", [0]),
        helper.make_node("Shape", ["read_ids"], [p + "R"]),
        helper.make_node("Equal", [p + "R", p + "V"], [p + "all_read"]),
        helper.make_node("Gather", [p + "R", p + "first"], [p + "R1"], axis=0),
        helper.make_node("Squeeze", [p + "R1"], [p + "Rs"]),
        helper.make_node("Range", [p + "zero", p + "Rs", p + "one"], [p + "order"]),
        helper.make_node("Equal", ["read_ids", p + "order"], [p + "in_order"]),
        helper.make_node("Cast", [p + "in_order"], [p + "in_order_i"], to=onnx.TensorProto.INT32),
        helper.make_node("ReduceMin", [p + "in_order_i"], [p + "min"], keepdims=1),
        helper.make_node("Cast", [p + "min"], [p + "all_in_order"], to=onnx.TensorProto.BOOL),
        helper.make_node("And", [p + "all_read", p + "all_in_order"], [out]),
    ]


def _axis(node: onnx.NodeProto) -> int:
    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 0)


def export_cone(gpt: GPT, upto: str, path: Path) -> None:
    """ConeInterface(gpt, upto) as ONNX: the inputs of model.onnx but read_ids, and `watched` alone out."""
    N = n_nodes(gpt.cfg)
    wrapper = ConeInterface(gpt, upto).eval()
    args = (torch.zeros(1, 8, dtype=torch.long), torch.ones(1, N), torch.zeros(1, N), torch.zeros(1, dtype=torch.long), torch.tensor([2]))
    with exported_abs_topk(), first_layers(gpt, wrapper.layer + 1):
        _trace(wrapper, args, path, {"watched": {0: "B", 1: "P", 2: "K"}})
    _finish(path, bigram_fp16=False)


def export_tail(gpt: GPT, start: str, path: Path) -> None:
    """TailInterface(gpt, start) as ONNX (inputs: model.onnx's less watch; output: logits)."""
    N = n_nodes(gpt.cfg)
    wrapper = TailInterface(gpt, start).eval()
    args = (torch.zeros(1, 8, dtype=torch.long), torch.ones(2, N), torch.zeros(2, N), torch.tensor([2]), torch.arange(4))
    names = ("input_ids", "node_mask", "node_fill", "score_from", "read_ids")
    with exported_abs_topk():
        _trace(wrapper, args, path, {"logits": {0: "M", 1: "P", 2: "R"}}, names)
    _finish(path, bigram_fp16=False)


def _finish(path: Path, bigram_fp16: bool, edit=None) -> None:
    m = onnx.load(str(path))
    if bigram_fp16:
        bigram_to_fp16(m)
    if edit is not None:
        edit(m)
    sparsify_initializers(m)
    onnx.checker.check_model(m)
    onnx.save(m, str(path))


def _trace(wrapper: torch.nn.Module, args: tuple, path: Path, outputs: dict, names: tuple[str, ...] | None = None) -> None:
    """Exports `wrapper` called with `names` (default: the first len(args) of ONNX_INPUTS); outputs: name → dynamic axes."""
    inputs = {"input_ids": {0: "B", 1: "T"}, "node_mask": {0: "M"}, "node_fill": {0: "M"}, "watch": {0: "K"}, "score_from": {}, "read_ids": {0: "R"}}
    names = list(names or ONNX_INPUTS[: len(args)])
    torch.onnx.export(
        wrapper,
        args,
        str(path),
        opset_version=OPSET,
        dynamo=False,
        do_constant_folding=False,
        input_names=names,
        output_names=list(outputs),
        dynamic_axes={**{n: inputs[n] for n in names if inputs[n]}, **outputs},
    )


@contextmanager
def topk_gap_probe():
    """Records, for every AbsTopK call, the smallest relative gap (k-th − (k+1)-th |x|) / k-th |x| per token.

    Two float engines round differently by ~1e-7 relative, so a relative gap far above that cannot flip.
    A boundary whose k-th value is 0 is no tie (inf): sparse weights make many activations exactly 0,
    and 0-vs-0 ties change nothing.
    """
    gaps: list[torch.Tensor] = []
    original = model_mod.abs_topk

    def probed(x, k):
        if k < x.shape[-1]:
            top = torch.topk(x.abs(), k + 1, dim=-1).values
            kth = top[..., k - 1]
            gap = torch.where(kth > 0, (kth - top[..., k]) / kth.clamp_min(1e-30), torch.full_like(kth, float("inf")))
            gaps.append(gap.reshape(x.shape[0], x.shape[1], -1).amin(-1))  # [B, T]
        return original(x, k)

    model_mod.abs_topk = probed
    try:
        yield gaps
    finally:
        model_mod.abs_topk = original


@torch.no_grad()
def golden(gpt: GPT, tok, prompts: list[str], watch: list[int], logit_ids: list[int], ablate: list[int], means: np.ndarray) -> dict:
    """Reference outputs for the runner parity test, with and without an ablation.

    Hard top-k makes outputs discontinuous where two |activations| nearly tie; each case records its
    smallest top-k gap so the parity test can assert that the comparison is meaningful.
    """
    N = n_nodes(gpt.cfg)
    cases = []
    for prompt in prompts:
        ids = tok.encode(prompt).ids
        x = torch.tensor([ids])
        for ablated in ([], ablate):
            mask = torch.ones(N)
            mask[ablated] = 0
            fill = torch.from_numpy(means)
            with topk_gap_probe() as gaps:
                logits, nodes, _ = gpt(x, mask, fill, record=True)
            cases.append(
                {
                    "prompt": prompt,
                    "input_ids": ids,
                    "ablate": ablated,
                    "fill": "mean",
                    # a model without AbsTopK (afrac null: some of OpenAI's) has no boundary: the largest gap, 1
                    "min_topk_gap": float(torch.stack(gaps).min()) if gaps else 1.0,
                    "logits": logits[0][:, logit_ids].tolist(),  # [T, len(logit_ids)]
                    "watched": nodes[0][:, watch].tolist(),  # [T, K]
                }
            )
    return {"watch": watch, "logit_ids": logit_ids, "cases": cases}


def write_bundle(
    gpt: GPT, data: Path, out: Path, name: str, provenance: dict, metrics: dict, mean_windows: int = 64, bigram_fp16: bool = True, exported: GPT | None = None
) -> None:
    """mean_windows: validation windows the node means average over (fewer for models too large to run 64);
    bigram_fp16: store the bigram table in fp16 (an imported model keeps its weights exact instead);
    exported: see write_graph."""
    out.mkdir(parents=True, exist_ok=True)
    means = node_means(gpt, data / "val.bin", mean_windows)
    means.astype("<f4").tofile(out / "node_means.bin")
    shutil.copy(data / "tokenizer.json", out / "tokenizer.json")
    graph = write_graph(gpt, out, bigram_fp16, exported)
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    N = n_nodes(gpt.cfg)
    manifest_path = out / "manifest.json"
    circuits = json.loads(manifest_path.read_text()).get("circuits", []) if manifest_path.exists() else []
    manifest = {
        "format": FORMAT,
        "name": name,
        # what the graph computes: a checkpoint exported mid-schedule keeps AbsTopK's kept fraction of its step
        # and reads no bigram table before the schedule turns it on (src/core/wasmForward.ts reads these)
        "model": {**gpt.cfg.to_dict(), "afrac": gpt.afrac_now, "bigram_table": gpt.cfg.bigram_table and gpt.bigram_on},
        "tokenizer": "tokenizer.json",
        "onnx": "model.onnx",
        "eot_id": tok.token_to_id("<|endoftext|>"),
        "context": gpt.cfg.block_size,
        "nodes": {"count": N, "layout": node_layout(gpt.cfg), "means": "node_means.bin"},
        "circuits": circuits,
        **graph,
        "attention": attention_params(gpt),
        "metrics": metrics,
        "provenance": provenance,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2))


def weight_matrices(gpt: GPT) -> list[tuple[str, str, torch.Tensor]]:
    """(source location, target location, weight [target width, source width]) of every learned matrix
    joining two node locations (training/evidence.py's weight edges), and the unembedding: from the last
    residual write to the vocabulary ("logits"), with ln_f's gain folded in (logit ← gain·x·W_U)."""
    mats = []
    hd = gpt.cfg.n_head * gpt.cfg.d_head
    for L, block in enumerate(gpt.transformer.h):
        W = block.attn.c_attn.weight  # [3·hd, d]
        mats += [(f"{L}.attn.act_in", f"{L}.attn.{s}", W[i * hd : (i + 1) * hd]) for i, s in enumerate("qkv")]
        mats += [(f"{L}.attn.v", f"{L}.attn.resid_delta", block.attn.c_proj.weight)]
        mats += [(f"{L}.mlp.act_in", f"{L}.mlp.post_act", block.mlp.c_fc.weight), (f"{L}.mlp.post_act", f"{L}.mlp.resid_delta", block.mlp.c_proj.weight)]
    mats.append(("resid", "logits", gpt.lm_head.weight * gpt.transformer.ln_f.weight))  # [V, d]
    return mats


def write_weights(gpt: GPT, out: Path, name: str = "node_weights.bin") -> dict:
    """The nonzero entries of weight_matrices, for circuit edges found in the editor (src/core/nodeWeights.ts):
    per matrix, count × (int32 source index, int32 target index, float32 weight), little-endian, in the
    order of the manifest entry returned here."""
    entries, chunks = [], []
    for src, dst, W in weight_matrices(gpt):
        W = W.detach()
        j, i = torch.nonzero(W, as_tuple=True)  # target, source
        rec = np.zeros(len(i), dtype=[("source", "<i4"), ("target", "<i4"), ("weight", "<f4")])
        rec["source"], rec["target"], rec["weight"] = i.numpy(), j.numpy(), W[j, i].numpy()
        chunks.append(rec.tobytes())
        entries.append({"source": src, "target": dst, "count": len(rec)})
    (out / name).write_bytes(b"".join(chunks))
    return {"file": name, "matrices": entries}


def write_graph(gpt: GPT, out: Path, bigram_fp16: bool = True, exported: GPT | None = None) -> dict:
    """model.onnx, its reference outputs golden.json and node_weights.bin, for a bundle folder that has its
    node means and tokenizer; returns the manifest entries that describe them. exported: the same model
    in the form model.onnx runs, when not gpt itself (an import's compacted graph, training/compact.py);
    the reference outputs, weights and cones are gpt's."""
    if bigram_fp16:
        round_bigram_fp16_(gpt)
    export_onnx(gpt if exported is None else exported, out / "model.onnx", bigram_fp16)
    means = np.fromfile(out / "node_means.bin", dtype="<f4")
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    N = n_nodes(gpt.cfg)
    rng = np.random.default_rng(0)
    watch = sorted(rng.choice(N, 16, replace=False).tolist())
    logit_ids = sorted(rng.choice(gpt.cfg.vocab_size, 32, replace=False).tolist())
    ablate = sorted(rng.choice(N, 64, replace=False).tolist())
    prompts = ['def greet(name):\n    print("hello, " + name', "values = [[5, 3, 11], [2, 7", "while True:\n    x = {'a': 1}"]
    (out / "golden.json").write_text(json.dumps(golden(gpt, tok, prompts, watch, logit_ids, ablate, means)))
    # mask_rows: node_mask/node_fill are [M, N] (NodeInterface); bundles without it take [N]
    return {"mask_rows": True, "weights": write_weights(gpt, out), "cones": write_cones(gpt, out), "tails": write_tails(gpt, out)}


def write_cones(gpt: GPT, out: Path) -> list[dict]:
    """cone-<upto>.onnx for each of cone_ends: the graphs the editor's highlight pass runs when every node it
    watches comes at or before upto (src/core/cone.ts); returns their manifest entries, in layout order."""
    return _write_part_graphs(out, "cone", "upto", cone_ends(gpt.cfg), lambda upto, path: export_cone(gpt, upto, path))


def write_tails(gpt: GPT, out: Path) -> list[dict]:
    """tail-<from>.onnx for each of tail_starts: the graphs "Why this token?" runs its ablation rows through
    (src/core/discoverRoute.ts); returns their manifest entries, in layout order."""
    return _write_part_graphs(out, "tail", "from", tail_starts(gpt.cfg), lambda start, path: export_tail(gpt, start, path))


def _write_part_graphs(out: Path, kind: str, key: str, locations: list[str], export_one) -> list[dict]:
    """<kind>-<location>.onnx by export_one(location, path) for each location, after removing the <kind>
    graphs of an earlier export (this model may no longer name them); the manifest entries {key, onnx}."""
    for old in out.glob(f"{kind}-*.onnx"):
        old.unlink()
    entries = []
    for at in locations:
        export_one(at, out / f"{kind}-{at}.onnx")
        entries.append({key: at, "onnx": f"{kind}-{at}.onnx"})
    return entries


def attention_params(gpt: GPT) -> dict:
    """What the editor needs besides the q and k nodes to redraw an attention pattern (src/core/attention.ts):
    the score scale and, for a model with sinks, each head's sink logit [n_layer][n_head] (the zero key/value slot)."""
    cfg = gpt.cfg
    out: dict = {"scale": 1.0 / math.sqrt(cfg.d_head)}  # CausalSelfAttention's
    if cfg.sink:
        out["sink_logits"] = [block.attn.sink_logit.detach().tolist() for block in gpt.transformer.h]
    return out


def nonzero_stats(gpt: GPT) -> dict:
    sparse = gpt.sparse_parameters()
    nnz = sum(int((p != 0).sum()) for p in sparse.values())
    total = sum(p.numel() for p in sparse.values())
    return {
        "sparse_weights_nonzero": nnz,
        "sparse_weights_total": total,
        "density": nnz / total,
        "dense_params": sum(p.numel() for n, p in gpt.named_parameters() if n not in sparse),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=Path("training/data"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--name", default=None)
    ap.add_argument("--compute", default="2 CPU cores, PyTorch " + torch.__version__, help="what the run was trained on, for the provenance")
    ap.add_argument("--note", default="", help="free text for the provenance (e.g. how the run was scheduled)")
    ap.add_argument(
        "--graph-only",
        action="store_true",
        help="rewrite only model.onnx, golden.json and node_weights.bin of an existing bundle (after a change to the graph's interface)",
    )
    ap.add_argument("--tails-only", action="store_true", help="add only the tail graphs (and the manifest's tails) to an existing bundle")
    args = ap.parse_args()
    torch.set_num_threads(2)
    gpt, info = load_run(args.run)
    if args.tails_only:
        manifest_path = args.out / "manifest.json"
        manifest_path.write_text(json.dumps({**json.loads(manifest_path.read_text()), "tails": write_tails(gpt, args.out)}, indent=2))
        return
    if args.graph_only:
        graph = write_graph(gpt, args.out)
        manifest_path = args.out / "manifest.json"
        manifest_path.write_text(json.dumps({**json.loads(manifest_path.read_text()), **graph, "attention": attention_params(gpt)}, indent=2))
        return
    corpus = json.loads((args.data / "corpus.json").read_text())
    provenance = {
        "corpus": corpus,
        "steps": info["steps"],
        "tokens_seen": info["tokens"],
        "train_config": info["config"],
        "compute": args.compute,
        **({"note": args.note} if args.note else {}),
        **({"finetune": info["finetune"]} if "finetune" in info else {}),
    }
    metrics = {"val_loss": info["val_loss"], **nonzero_stats(gpt)}
    write_bundle(gpt, args.data, args.out, args.name or args.out.name, provenance, metrics)
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
