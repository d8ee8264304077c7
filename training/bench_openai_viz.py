"""Cost of converting one OpenAI circuit file (`--viz`) at a released model's shape (a script, far too slow for CI).

    python -m training.bench_openai_viz --work /tmp/sweep1 [--fixture sweep1_shape] [--prompts 8] [--tokens 64]

Writes the fixture model and a viz file for it (training/openai_format.py: random weights at the shape's
density, 3 kept channels at every location, `--prompts` task prompts of `--tokens` tokens at most), then
times training/openai_viz.py on it: reading the file, and the circuit file as a whole, with the part that
measures the circuit alone (training/openai_evidence.py) timed on its own. Node means are zeros (their
values do not change the cost). Prints one JSON object with the figures and the process's peak RSS.
"""

from __future__ import annotations

import json
import resource
import time

import torch

from . import import_openai, openai_format, openai_viz
from .bench_openai import bench_parser
from .model import n_nodes, node_layout


def main() -> None:
    ap = bench_parser(__doc__, "sweep1_shape", "folder for the fixture")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    config = openai_format.LARGE[args.fixture]
    model, tok_dir = args.work / args.fixture, args.work / "tokenizer"
    if not model.exists():
        openai_format.write_model(model, config, density=openai_format.LARGE_DENSITY[args.fixture])
    if not tok_dir.exists():
        openai_format.write_tokenizer(tok_dir, config["vocab_size"])
    state = torch.load(model / import_openai.WEIGHTS, weights_only=True)
    docs = openai_format.fixture_prompts(config, 0, args.prompts, args.tokens)
    viz_path = openai_format.write_viz(args.work / openai_format.VIZ_PATH.format(model=args.fixture), openai_format.random_viz(config, state, docs))
    del state
    gpt, _ = import_openai.load_model(model)
    tok = import_openai.convert_tokenizer(tok_dir)
    t = time.perf_counter()
    viz = openai_viz.read_viz(str(viz_path), gpt)
    read_s = time.perf_counter() - t
    evidence_s = []
    measure = openai_viz.circuit_evidence

    def timed_evidence(*a, **kw):
        t = time.perf_counter()
        out = measure(*a, **kw)
        evidence_s.append(time.perf_counter() - t)
        return out

    openai_viz.circuit_evidence = timed_evidence  # time the evidence inside the real circuit_file
    t = time.perf_counter()
    circuit = openai_viz.circuit_file(viz, gpt, tok, [0.0] * n_nodes(gpt.cfg), {e["name"]: e["offset"] for e in node_layout(gpt.cfg)})
    file_s = time.perf_counter() - t
    report = {
        "fixture": args.fixture,
        "prompts": list(docs.shape),
        "nodes": len(circuit["nodes"]),
        "read_s": round(read_s, 2),
        "circuit_file_s": round(file_s, 1),
        "evidence_s": round(evidence_s[0], 1),
        "file_bytes": len(json.dumps(circuit, indent=1)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
