"""Example contexts from the validation corpus for every node of a bundle's circuits (issue 17).

    python -m training.node_examples --bundle models/pysparse-depth
    python -m training.node_examples --bundle /tmp/copy --val training/data/corpus_val.jsonl --windows 384

Works from a bundle alone (model.onnx, manifest.json, tokenizer.json, node_means.bin, circuits/*.json),
so it serves imported bundles as well as the pipeline's. It runs the bundle's own ONNX graph with
onnxruntime — the graph and the activation values the editor shows — over a fixed, evenly spaced
choice of windows of the validation corpus, and writes into every circuit file:

- per node, `examples`: the tokens with the largest |activation| (contexts that do not overlap) and
  the tokens at a few quantiles of |activation| over the tokens where the node is nonzero, each with
  the raw text around it (±`context` tokens; whitespace stays raw, the panel makes it visible), the
  activation there, and the file and line it comes from;
- `node_examples`: where they come from and what the numbers are.

The examples live in the circuit file itself rather than a sibling file: the bundle loader already
validates circuit files and the panel receives the circuit whole, so no new file, loader step or
host request is needed, and a circuit file stays self-contained when copied between bundles.

Windows follow the editor's grid (src/core/windows.ts planWindows): the sequence is [EOT] + the
file's tokens, windows of the model's context overlap by half, and each token is read in the
window where it has the most left context.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

DEFAULT_QUANTILES = (0.5, 0.9, 0.99)
VALUE_NOTE = (
    "the node's activation at the token (after AbsTopK), the number the panel shows as the value at the cursor; "
    "top: the largest |activation|, in contexts that do not overlap; q: the token at that quantile of |activation| "
    "over the tokens where the node is nonzero"
)


@dataclass(frozen=True)
class Window:
    file: int  # index into the corpus
    start: int  # first sequence position ([EOT] + tokens) in the window
    length: int  # positions in the window
    scored_from: int  # offset inside the window of the first position read from this window


@dataclass
class Scan:
    """Activations of the watched nodes at every scanned token: values [M, K], and where each token is."""

    values: np.ndarray  # [M, K] float32
    file: np.ndarray  # [M] int: corpus index
    token: np.ndarray  # [M] int: token index in that file (sequence position − 1)
    windows: int


def read_corpus(path: Path) -> list[dict]:
    """The validation corpus: one {"path", "text"} object per line."""
    with path.open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


def grid_windows(file: int, n_tokens: int, context: int) -> list[Window]:
    """planWindows of src/core/windows.ts over [EOT] + n_tokens tokens: stride context/2, each later window reads its second half."""
    n = n_tokens + 1
    stride = context // 2
    skip = context - stride
    out = [Window(file, 0, min(context, n), 0)]
    start = stride
    while start + skip < n:
        out.append(Window(file, start, min(context, n - start), skip))
        start += stride
    return out


def choose_windows(lengths: list[int], context: int, count: int) -> list[Window]:
    """`count` windows spread evenly over all the corpus's windows (in corpus order): a fixed choice."""
    every = [w for i, n in enumerate(lengths) if n > 0 for w in grid_windows(i, n, context)]
    if len(every) <= count:
        return every
    picks = np.linspace(0, len(every) - 1, count).round().astype(int)
    return [every[i] for i in picks]


def scan(session: ort.InferenceSession, windows: list[Window], seqs: list[np.ndarray], watch: np.ndarray, means: np.ndarray, eot: int, batch: int = 8) -> Scan:
    """Run the graph over the windows; keep the scored positions that are document tokens (not the EOT prefix)."""
    N = means.shape[0]
    # a graph exported with mask rows takes node_mask / node_fill as [M, N] (one row for the whole batch), an older one [N]
    mask = next(i for i in session.get_inputs() if i.name == "node_mask")
    rows = (1,) if len(mask.shape) == 2 else ()
    feeds_fixed = {
        "node_mask": np.ones((*rows, N), np.float32),  # no ablation
        "node_fill": means.astype(np.float32).reshape(*rows, N),
        "watch": watch.astype(np.int64),  # [K]
        "score_from": np.array([0], np.int64),  # [1] every position; each window keeps its own scored part below
        "read_ids": np.array([eot], np.int64),  # [1] the logits are not used
    }
    values, files, tokens = [], [], []
    for b in range(0, len(windows), batch):
        group = windows[b : b + batch]
        T = max(w.length for w in group)
        ids = np.full((len(group), T), eot, np.int64)  # [B, T]; right-padded with EOT (the model is causal)
        for r, w in enumerate(group):
            ids[r, : w.length] = seqs[w.file][w.start : w.start + w.length]
        (watched,) = session.run(["watched"], {"input_ids": ids, **feeds_fixed})  # watched [B, T, K]
        for r, w in enumerate(group):
            pos = np.arange(w.start + w.scored_from, w.start + w.length)
            keep = pos >= 1  # position 0 is the EOT before the file
            values.append(watched[r, w.scored_from : w.length][keep])
            files.append(np.full(int(keep.sum()), w.file))
            tokens.append(pos[keep] - 1)
    return Scan(np.concatenate(values), np.concatenate(files), np.concatenate(tokens), len(windows))


def context_of(text: str, offsets: list[tuple[int, int]], i: int, context: int) -> dict:
    """Token i of a file with up to `context` tokens either side, as raw text, and its 1-based line."""
    lo = offsets[max(0, i - context)][0]
    start, end = offsets[i]
    hi = offsets[min(len(offsets) - 1, i + context)][1]
    return {"before": text[lo:start], "token": text[start:end], "after": text[end:hi], "line": text.count("\n", 0, start) + 1}


def pick_top(absval: np.ndarray, file: np.ndarray, token: np.ndarray, k: int, context: int) -> list[int]:
    """Rows of the k largest nonzero |activation|s whose contexts do not overlap (same file, ≤ 2·context tokens apart)."""
    chosen: list[int] = []
    for row in np.argsort(-absval, kind="stable"):
        if len(chosen) == k or absval[row] == 0:
            break
        if all(file[row] != file[c] or abs(int(token[row]) - int(token[c])) > 2 * context for c in chosen):
            chosen.append(int(row))
    return chosen


def pick_quantiles(absval: np.ndarray, quantiles: tuple[float, ...]) -> list[int | None]:
    """Per quantile q, the row at rank round(q·(n − 1)) of the nonzero |activation|s in ascending order (None if none)."""
    nonzero = np.flatnonzero(absval > 0)
    if nonzero.size == 0:
        return [None for _ in quantiles]
    ranked = nonzero[np.argsort(absval[nonzero], kind="stable")]
    return [int(ranked[round(q * (ranked.size - 1))]) for q in quantiles]


def node_examples(s: Scan, column: int, corpus: list[dict], offsets: list[list[tuple[int, int]]], top: int, quantiles: tuple[float, ...], context: int) -> dict:
    """The `examples` object of one node (docs/circuit-panel.md, src/schemas/circuit.ts)."""
    values = s.values[:, column]  # [M]
    absval = np.abs(values)

    def example(row: int) -> dict:
        f, i = int(s.file[row]), int(s.token[row])
        return {**context_of(corpus[f]["text"], offsets[f], i, context), "value": float(f"{values[row]:.4g}"), "file": corpus[f]["path"]}

    return {
        "nonzero": round(float((absval > 0).mean()), 4),
        "top": [example(r) for r in pick_top(absval, s.file, s.token, top, context)],
        "quantiles": [{"q": q, "example": example(r)} for q, r in zip(quantiles, pick_quantiles(absval, quantiles)) if r is not None],
    }


def flat_index(layout: list[dict], node: dict) -> int:
    """The flat index of a circuit node from the manifest's layout (checked against the file's own `flat`)."""
    entry = next((e for e in layout if e["name"] == f"{node['layer']}.{node['site']}"), None)
    if entry is None or not 0 <= node["index"] < entry["length"]:
        raise SystemExit(f"node {node['id']} is not in the bundle's node layout.")
    flat = entry["offset"] + node["index"]
    if node.get("flat", flat) != flat:
        raise SystemExit(f"node {node['id']} says flat {node['flat']} but the bundle's layout puts it at {flat}.")
    return flat


def run(bundle: Path, val: Path, windows: int, top: int, quantiles: tuple[float, ...], context: int) -> dict[str, int]:
    """Write examples into every circuit file of the bundle; returns each file's size in bytes before → after."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    paths = [bundle / rel for rel in manifest["circuits"]]
    circuits = [json.loads(p.read_text()) for p in paths]
    layout = manifest["nodes"]["layout"]
    watch = sorted({flat_index(layout, n) for c in circuits for n in c["nodes"]})
    column = {f: k for k, f in enumerate(watch)}

    tok = Tokenizer.from_file(str(bundle / "tokenizer.json"))
    eot = int(manifest["eot_id"])
    corpus = read_corpus(val)
    encodings = [tok.encode(d["text"]) for d in corpus]
    seqs = [np.array([eot, *e.ids], np.int64) for e in encodings]  # [1 + n] per file
    offsets = [e.offsets for e in encodings]
    chosen = choose_windows([len(e.ids) for e in encodings], int(manifest["context"]), windows)

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(bundle / manifest["onnx"]), options, providers=["CPUExecutionProvider"])
    means = np.fromfile(bundle / manifest["nodes"]["means"], dtype="<f4")
    s = scan(session, chosen, seqs, np.array(watch), means, eot)

    sizes = {}
    source = {
        "corpus": val.name,
        "files": len({w.file for w in chosen}),
        "windows": s.windows,
        "tokens": int(s.values.shape[0]),
        "context": context,
        "value": VALUE_NOTE,
    }
    for path, circuit in zip(paths, circuits):
        before = path.stat().st_size
        for n in circuit["nodes"]:
            n["examples"] = node_examples(s, column[flat_index(layout, n)], corpus, offsets, top, quantiles, context)
        circuit["node_examples"] = source
        path.write_text(json.dumps(circuit, indent=1))  # as training/prune.py writes it
        sizes[path.name] = (before, path.stat().st_size)
    return sizes


def main() -> None:
    ap = argparse.ArgumentParser(description="Add validation-corpus example contexts to every node of a bundle's circuits.")
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--val", type=Path, default=Path("training/data/corpus_val.jsonl"), help="validation corpus (JSONL: path, text)")
    ap.add_argument("--windows", type=int, default=384, help="windows of the model's context to scan (evenly spaced over the corpus)")
    ap.add_argument("--top", type=int, default=5, help="top examples per node")
    ap.add_argument("--quantiles", default=",".join(str(q) for q in DEFAULT_QUANTILES), help="quantiles of nonzero |activation| (comma-separated)")
    ap.add_argument("--context", type=int, default=20, help="tokens of context either side")
    args = ap.parse_args()
    for what, path in (("bundle manifest", args.bundle / "manifest.json"), ("validation corpus", args.val)):
        if not path.exists():
            raise SystemExit(f"The {what} {path} does not exist.")
    quantiles = tuple(float(q) for q in args.quantiles.split(","))
    if not all(0 <= q <= 1 for q in quantiles):
        raise SystemExit(f"Quantiles must lie in [0, 1], got {args.quantiles}.")
    t0 = time.time()
    sizes = run(args.bundle, args.val, args.windows, args.top, quantiles, args.context)
    for name, (before, after) in sizes.items():
        print(f"{name}: {before:,} → {after:,} bytes (+{after - before:,})")
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
