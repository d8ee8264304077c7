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
import onnx
import torch
from onnx import numpy_helper

from .export import NodeInterface
from .model import GPT, GPTConfig


def _param_name(onnx_name: str) -> str:
    """'gpt.transformer.wte.weight' → 'transformer.wte.weight'; the fp16-stored bigram table too."""
    name = onnx_name.removeprefix("gpt.")
    return name.removesuffix("_fp16")


def load_from_bundle(bundle: Path) -> GPT:
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
