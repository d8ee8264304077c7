"""Where a window's time goes in a converted OpenAI model's graph: onnxruntime's own profile, summed per part.

    python -m training.bench_openai_profile --work /tmp/yolo1 [--fixture yolo1_shape] [--graph compact|full] [--tokens 256 410 879] [--runs 3] [--threads 2]

Writes the fixture if --work lacks it and exports the graph as training/bench_openai.py does, then times one
window of each length in --tokens (the median of --runs after a warm-up) with onnxruntime's profiler on, and
prints one JSON object: the times, the process's peak RSS, and for the last run of each length the kernel
time per op type and per part of the model, the same part of every layer summed ("h.L TopK attn.q" = AbsTopK at every layer's q).
Lengths: a 256-token window is the bench's unit; at a context of 1,024 the first 50 lines of
bench/stdlib-5000.py (832 tokens) are scored by windows of 410 and 879 tokens (src/core/windows.ts, left 64).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from .bench_openai import bench_parser, export_graph, fixture_gpt, peak_rss_mb, window_seconds
from .model import SITES, GPTConfig, n_nodes

LAYER = re.compile(r"^(?:/gpt)?(?:/transformer)?/h\.(\d+)(/.*)?/")


def topk_sites(path: Path, cfg: GPTConfig) -> dict[str, str]:
    """Each AbsTopK node of the graph → the node location it selects at ("attn.q"): within a layer the
    graph holds them in the forward's order, one per location that runs AbsTopK (a location whose k is its
    whole width runs none; a layer where the counts differ is left unnamed)."""
    per_layer: dict[str, list[str]] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        m = LAYER.match(node.name)
        if node.op_type == "TopK" and m:
            per_layer.setdefault(m.group(1), []).append(node.name)
    sites = [s for s in SITES if s in cfg.topk_sites]
    return {name: site for names in per_layer.values() if len(names) == len(sites) for name, site in zip(names, sites, strict=True)}


def part(node: str, op: str, sites: dict[str, str]) -> str:
    """A profiled node's part of the model, the same for every layer: "h.L/attn/c_attn MatMul", "h.L TopK attn.q"."""
    m = LAYER.match(node)
    if m is None:
        return f"outside the blocks {op}"
    if node in sites:
        return f"h.L TopK {sites[node]}"
    scope = (m.group(2) or "").split("/MatMul")[0]
    return f"h.L{scope} {op}"


def kernel_table(profile: Path, sites: dict[str, str]) -> dict:
    """The last model run of an onnxruntime profile: kernel ms per op type and per part, largest first."""
    events = json.loads(profile.read_text())
    last = [e for e in events if e.get("cat") == "Session" and e["name"] == "model_run"][-1]
    lo, hi = last["ts"], last["ts"] + last["dur"]
    nodes = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and lo <= e["ts"] <= hi]
    by_op, by_part = Counter(), Counter()
    for e in nodes:
        op = e["args"]["op_name"]
        by_op[op] += e["dur"]
        by_part[part(e["name"].removesuffix("_kernel_time"), op, sites)] += e["dur"]
    ms = lambda c: {k: round(v / 1000, 1) for k, v in c.most_common()}  # noqa: E731
    return {"run_ms": round(last["dur"] / 1000, 1), "kernels_ms": round(sum(by_op.values()) / 1000, 1), "by_op": ms(by_op), "by_part": ms(by_part)}


def profile_window(path: Path, cfg: GPTConfig, tokens: int, threads: int, runs: int, prefix: Path) -> dict:
    """One window of `tokens` random ids through the graph at `path`, profiled: times and kernel_table."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.enable_profiling = True
    opts.profile_file_prefix = str(prefix)
    t = time.perf_counter()
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    open_s = time.perf_counter() - t
    N, V = n_nodes(cfg), cfg.vocab_size
    mask, fill = np.ones((1, N), np.float32), np.zeros((1, N), np.float32)
    ids = np.random.default_rng(0).integers(0, V, (1, tokens))
    window_seconds(sess, ids, mask, fill, V)  # warm-up
    times = [window_seconds(sess, ids, mask, fill, V) for _ in range(runs)]
    table = kernel_table(Path(sess.end_profiling()), topk_sites(path, cfg))
    return {
        "tokens": tokens,
        "onnx_open_s": round(open_s, 1),
        "window_ms": round(1000 * float(np.median(times))),
        "runs_ms": [round(1000 * r) for r in times],
        **table,
    }


def main() -> None:
    ap = bench_parser(__doc__, "yolo1_shape", "folder for the fixture, its graph and the profiles")
    ap.add_argument("--graph", choices=("full", "compact"), default="compact")
    ap.add_argument("--tokens", type=int, nargs="+", default=[256])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gpt, _ = fixture_gpt(args.work, args.fixture, None)
    path, export_s = export_graph(gpt, args.work, args.graph)
    windows = [profile_window(path, gpt.cfg, T, args.threads, args.runs, args.work / f"profile_{args.graph}_{T}") for T in args.tokens]
    print(
        json.dumps(
            {
                "fixture": args.fixture,
                "graph": args.graph,
                "threads": args.threads,
                "onnx_export_s": round(export_s, 1),
                "windows": windows,
                "peak_rss_mb": peak_rss_mb(),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
