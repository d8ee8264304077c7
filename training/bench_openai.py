"""Speed of a converted OpenAI model at a released model's shape (a script, far too slow for CI).

    python -m training.bench_openai --work /tmp/yolo1 [--fixture yolo1_shape] [--tokens 256] [--graph full|compact] [--model DIR] [--dead-only]

Writes the fixture (training/openai_format.py: random weights at csp_yolo1's shape, 1/256 dense; or reads
--model, a released model's folder), then times each step a user's conversion and first analysis go
through: reading final_model.pt into our GPT, the ONNX export (--graph compact: training/compact.py's graph
without dead heads and neurons, as import_openai writes it), opening the graph in onnxruntime, and a
window of `--tokens` tokens through PyTorch and onnxruntime (the median of 3 without ablation; then one
with 64 nodes ablated). Prints one JSON object with the figures, the dead nodes (training/compact.py) and
the process's peak RSS; --dead-only prints the dead nodes per layer and stops. Node means are not part of
it (they take minutes at this size).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from . import export, import_openai, openai_format
from .compact import compact_gpt, dead_per_layer, dead_totals
from .model import GPT, n_nodes


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def window_seconds(sess: ort.InferenceSession, ids: np.ndarray, mask: np.ndarray, fill: np.ndarray, vocab: int) -> float:
    feeds = {
        "input_ids": ids,
        "node_mask": mask,
        "node_fill": fill,
        "watch": np.arange(16, dtype=np.int64),
        "score_from": np.array([0], np.int64),
        "read_ids": np.arange(vocab, dtype=np.int64),
    }
    return timed(lambda: sess.run(None, feeds))[1]


def peak_rss_mb() -> int:
    """This process's peak resident memory, MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def bench_parser(doc: str, fixture: str, work_help: str) -> argparse.ArgumentParser:
    """The arguments every OpenAI-format bench takes: its work folder, the fixture shape and torch's threads."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help=work_help)
    ap.add_argument("--fixture", default=fixture, choices=sorted(openai_format.LARGE))
    ap.add_argument("--threads", type=int, default=2)
    return ap


def fixture_gpt(work: Path, fixture: str, model: Path | None) -> tuple[GPT, float]:
    """The model folder (--model, or the fixture written into --work the first time) as our GPT, and the
    seconds writing the fixture took (0 when it was there)."""
    folder = model or work / fixture
    write_s = 0.0
    if model is None and not (folder / import_openai.WEIGHTS).is_file():
        config = openai_format.LARGE[fixture]
        _, write_s = timed(lambda: openai_format.write_model(folder, config, density=openai_format.LARGE_DENSITY[fixture]))
    return import_openai.load_model(folder)[0], write_s


def export_graph(gpt: GPT, work: Path, graph: str) -> tuple[Path, float]:
    """work/model.onnx as import_openai writes it (graph "compact": training/compact.py's), and the seconds it took."""
    path = work / "model.onnx"
    _, export_s = timed(lambda: export.export_onnx(compact_gpt(gpt) if graph == "compact" else gpt, path, bigram_fp16=False))
    return path, export_s


def main() -> None:
    ap = bench_parser(__doc__, "yolo1_shape", "folder for the fixture and its graph")
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--graph", choices=("full", "compact"), default="full")
    ap.add_argument("--model", type=Path, help="a model folder to read instead of writing the fixture")
    ap.add_argument("--dead-only", action="store_true", help="print the dead nodes per layer and stop")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    folder = args.model or args.work / args.fixture
    (gpt, write_s), load_s = timed(lambda: fixture_gpt(args.work, args.fixture, args.model))
    rows = dead_per_layer(gpt)
    if args.dead_only:
        print(json.dumps({"per_layer": rows, "total": dead_totals(rows)}, indent=1))
        return
    _, export_s = export_graph(gpt, args.work, args.graph)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    sess, open_s = timed(lambda: ort.InferenceSession(str(args.work / "model.onnx"), opts, providers=["CPUExecutionProvider"]))
    N, V = n_nodes(gpt.cfg), gpt.cfg.vocab_size
    ids = np.random.default_rng(0).integers(0, V, (1, args.tokens))
    mask, fill = np.ones((1, N), np.float32), np.zeros((1, N), np.float32)
    window_seconds(sess, ids, mask, fill, V)  # warm-up
    ort_s = float(np.median([window_seconds(sess, ids, mask, fill, V) for _ in range(3)]))
    mask[0, np.random.default_rng(1).choice(N, 64, replace=False)] = 0
    ablated_s = window_seconds(sess, ids, mask, fill, V)
    with torch.no_grad():
        torch_s = timed(lambda: gpt(torch.from_numpy(ids)))[1]
    report = {
        "model": str(folder),
        "graph": args.graph,
        "threads": args.threads,
        "dead": dead_totals(rows),
        "weights_mb": round((folder / import_openai.WEIGHTS).stat().st_size / 2**20, 1),
        "onnx_mb": round((args.work / "model.onnx").stat().st_size / 2**20, 1),
        "write_fixture_s": round(write_s, 1),
        "load_into_gpt_s": round(load_s - write_s, 1),
        "onnx_export_s": round(export_s, 1),
        "onnx_open_s": round(open_s, 1),
        "tokens_per_window": args.tokens,
        "onnx_window_s": round(ort_s, 2),
        "onnx_tokens_per_s": round(args.tokens / ort_s, 1),
        "onnx_ablated_tokens_per_s": round(args.tokens / ablated_s, 1),
        "torch_tokens_per_s": round(args.tokens / torch_s, 1),
        "peak_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
