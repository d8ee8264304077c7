"""The PyTorch reference for `circuit-inspector bench`: the training pipeline's own model code
(training.model.GPT behind export.NodeInterface, the module that is exported to ONNX) with the
weights read back from a bundle's model.onnx, timed on exactly the batches the benchmark ran
through onnxruntime.

    python -m training.bench_torch

A line protocol on stdin/stdout, so that the benchmark can alternate onnxruntime and PyTorch
repetitions and both see the same machine load:
  1st line in:  {"bundle": DIR, "threads": t, "watch": [K ids],
                 "batches": [{"ids": [[T ids] × B], "score_from": s, "read_ids": [R ids]}]}
  1st line out: {"torch": version, "threads": t}          (after loading and one warm-up pass)
  each further line in (any text) → one line out: {"ms": time of one pass over all batches}
No ablation is applied (mask 1, fill = the bundle's node means), as in the benchmark's forward.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .export import NodeInterface, load_from_bundle


@torch.no_grad()
def main() -> None:
    req = json.loads(sys.stdin.readline())
    torch.set_num_threads(int(req.get("threads", 2)))
    bundle = Path(req["bundle"])
    gpt = load_from_bundle(bundle)
    forward = NodeInterface(gpt).eval()
    manifest = json.loads((bundle / "manifest.json").read_text())
    means = torch.from_numpy(np.fromfile(bundle / manifest["nodes"]["means"], dtype="<f4"))
    mask = torch.ones_like(means)
    watch = torch.tensor(req["watch"] or [0], dtype=torch.long)
    batches = [
        (torch.tensor(b["ids"], dtype=torch.long), torch.tensor([b["score_from"]]), torch.tensor(b["read_ids"], dtype=torch.long)) for b in req["batches"]
    ]

    def once() -> float:
        started = time.perf_counter()
        for ids, score_from, read_ids in batches:
            forward(ids, mask, means, watch, score_from, read_ids)
        return (time.perf_counter() - started) * 1000

    once()  # warm-up: first calls allocate
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for _ in sys.stdin:
        print(json.dumps({"ms": once()}), flush=True)


if __name__ == "__main__":
    main()
