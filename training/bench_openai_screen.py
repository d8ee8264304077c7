"""The editor's first screen on a converted OpenAI model's graph, with attention in different numbers of query runs.

    python -m training.bench_openai_screen --work /tmp/yolo1 [--fixture yolo1_shape] [--chunks 1 16] [--tokens 410 879] [--rounds 3] [--threads 1]

Writes the fixture if --work lacks it (training/bench_openai.py), exports its graph once per --chunks value
(model.CausalSelfAttention.query_chunks; the graph import_openai writes, compacted where it drops something),
then runs rounds of the windows in --tokens through each graph in turn, graphs interleaved so that a change of
machine load falls on all of them: each round opens the session, warms it up on the first length and times one
window of every length. The default lengths are the two windows that score the first 50 lines of
bench/stdlib-5000.py at a context of 1,024 (src/core/windows.ts, left 64): their sum is the first screen.
Prints one JSON object: per graph the median CPU seconds (this process's, all threads) and wall seconds of
each window and of the screen, the session's open time, and the largest logit difference from the first
graph's on the same windows, and its Softmax nodes (one per layer and run); the load average before and after, and the process's peak RSS.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from .bench_openai import bench_parser, fixture_gpt, peak_rss_mb
from .compact import compact_gpt
from .export import export_onnx
from .model import GPT, n_nodes


def export_chunked(gpt: GPT, chunks: int, path: Path) -> float:
    """gpt's graph as import_openai writes it, attention in `chunks` query runs; the seconds the export took."""
    gpt.chunk_queries(chunks)
    t = time.perf_counter()
    export_onnx(compact_gpt(gpt), path, bigram_fp16=False)
    return time.perf_counter() - t


def run_window(sess: ort.InferenceSession, ids: np.ndarray, n_node: int, vocab: int) -> tuple[np.ndarray, float, float]:
    """One window's logits [P, V] with no ablation, and the CPU and wall seconds of the run."""
    feeds = {
        "input_ids": ids,
        "node_mask": np.ones((1, n_node), np.float32),
        "node_fill": np.zeros((1, n_node), np.float32),
        "watch": np.arange(16, dtype=np.int64),
        "score_from": np.array([0], np.int64),
        "read_ids": np.arange(vocab, dtype=np.int64),
    }
    cpu, wall = time.process_time(), time.perf_counter()
    logits = sess.run(["logits"], feeds)[0][0]
    return logits, time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    ap = bench_parser(__doc__, "yolo1_shape", "folder for the fixture and its graphs")
    ap.add_argument("--chunks", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--tokens", type=int, nargs="+", default=[410, 879])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    gpt, _ = fixture_gpt(args.work, args.fixture, None)
    N, V = n_nodes(gpt.cfg), gpt.cfg.vocab_size
    paths = {c: args.work / f"model-chunks{c}.onnx" for c in args.chunks}
    export_s = {c: round(export_chunked(gpt, c, path), 1) for c, path in paths.items()}
    rng = np.random.default_rng(0)
    windows = [rng.integers(0, V, (1, T)) for T in args.tokens]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    runs = {c: {"open_s": [], "cpu_s": [], "wall_s": []} for c in args.chunks}
    reference, diff = {}, dict.fromkeys(args.chunks, 0.0)
    for _ in range(args.rounds):
        for c, path in paths.items():
            t = time.perf_counter()
            sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            runs[c]["open_s"].append(time.perf_counter() - t)
            run_window(sess, windows[0], N, V)  # warm-up
            timed = [run_window(sess, ids, N, V) for ids in windows]
            runs[c]["cpu_s"].append([cpu for _, cpu, _ in timed])
            runs[c]["wall_s"].append([wall for _, _, wall in timed])
            for i, (logits, _, _) in enumerate(timed):
                ref = reference.setdefault(i, logits)
                diff[c] = max(diff[c], float(np.abs(logits - ref).max()))
            del sess
    med = lambda rows: [round(float(x), 2) for x in np.median(np.array(rows), axis=0)]  # noqa: E731
    graphs = {
        c: {
            "export_s": export_s[c],
            "softmax_nodes": sum(n.op_type == "Softmax" for n in onnx.load(str(paths[c]), load_external_data=False).graph.node),
            "open_s": round(float(np.median(r["open_s"])), 1),
            "window_cpu_s": med(r["cpu_s"]),
            "screen_cpu_s": round(float(np.median([sum(x) for x in r["cpu_s"]])), 2),
            "window_wall_s": med(r["wall_s"]),
            "screen_wall_s": round(float(np.median([sum(x) for x in r["wall_s"]])), 2),
            "max_logit_diff_vs_first": diff[c],
        }
        for c, r in runs.items()
    }
    report = {"fixture": args.fixture, "threads": args.threads, "tokens": args.tokens, "rounds": args.rounds, "graphs": graphs}
    print(json.dumps({**report, "load_avg_before": load_before, "load_avg_after": os.getloadavg(), "peak_rss_mb": peak_rss_mb()}, indent=1))


if __name__ == "__main__":
    main()
