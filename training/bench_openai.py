"""Speed of a converted OpenAI model at a released model's shape (a script, far too slow for CI).

    python -m training.bench_openai --work /tmp/yolo1 [--fixture yolo1_shape] [--tokens 256]

Writes the fixture (training/openai_format.py: random weights at csp_yolo1's shape, 1/256 dense), then
times each step a user's conversion and first analysis go through: reading final_model.pt into our GPT,
the ONNX export, opening the graph in onnxruntime, and one window of `--tokens` tokens through PyTorch
and onnxruntime (no ablation; then one with 64 nodes ablated). Prints one JSON object with the figures
and the process's peak RSS. Node means are not part of it (they take minutes at this size).
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
from .model import n_nodes


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="folder for the fixture and its graph")
    ap.add_argument("--fixture", default="yolo1_shape", choices=sorted(openai_format.LARGE))
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    config = openai_format.LARGE[args.fixture]
    folder = args.work / args.fixture
    _, write_s = timed(lambda: openai_format.write_model(folder, config, density=openai_format.LARGE_DENSITY[args.fixture]))
    (gpt, _), load_s = timed(lambda: import_openai.load_model(folder))
    export.round_bigram_fp16_(gpt)
    _, export_s = timed(lambda: export.export_onnx(gpt, args.work / "model.onnx"))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    sess, open_s = timed(lambda: ort.InferenceSession(str(args.work / "model.onnx"), opts, providers=["CPUExecutionProvider"]))
    N, V = n_nodes(gpt.cfg), gpt.cfg.vocab_size
    ids = np.random.default_rng(0).integers(0, V, (1, args.tokens))
    mask, fill = np.ones((1, N), np.float32), np.zeros((1, N), np.float32)
    window_seconds(sess, ids, mask, fill, V)  # warm-up
    ort_s = window_seconds(sess, ids, mask, fill, V)
    mask[0, np.random.default_rng(1).choice(N, 64, replace=False)] = 0
    ablated_s = window_seconds(sess, ids, mask, fill, V)
    with torch.no_grad():
        torch_s = timed(lambda: gpt(torch.from_numpy(ids)))[1]
    report = {
        "fixture": args.fixture,
        "threads": args.threads,
        "weights_mb": round((folder / import_openai.WEIGHTS).stat().st_size / 2**20, 1),
        "onnx_mb": round((args.work / "model.onnx").stat().st_size / 2**20, 1),
        "write_fixture_s": round(write_s, 1),
        "load_into_gpt_s": round(load_s, 1),
        "onnx_export_s": round(export_s, 1),
        "onnx_open_s": round(open_s, 1),
        "tokens_per_window": args.tokens,
        "onnx_tokens_per_s": round(args.tokens / ort_s, 1),
        "onnx_ablated_tokens_per_s": round(args.tokens / ablated_s, 1),
        "torch_tokens_per_s": round(args.tokens / torch_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
