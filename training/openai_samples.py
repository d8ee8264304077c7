"""A converted circuit's node examples from upstream's stored pretraining samples (viz_data.pt `samples`).

`samples` holds, per location, channel and quantile bucket (0.001, 0.01, 0.1, 0.5), a (bottom, top) pair of
lists of (token ids [T], activations [T], position): contexts from OpenAI's pretraining data where the node's
activation at `position` lies in that bucket's bottom or top tail. We take the top 0.1 % bucket, both
sides, and write each node's `examples` in the format training/node_examples.py writes for our own circuits
(src/schemas/circuit.ts `nodeExamples`), largest |activation| first, with the same context width. What the
file lacks stays out: no share of active tokens (`nonzero`) and no quantile rows (their buckets are tails of
the signed activation over all tokens, not quantiles of |activation| over the active ones). The file and
line of an example name the sample, as the pretraining document is not given.
"""

from __future__ import annotations

import math

import torch
from tokenizers import Tokenizer

# the bucket whose contexts become the node's examples (their viewer's first: the top and bottom 0.1 %)
TOP_BUCKET = 0.001
# tokens of context either side, as training/node_examples.py stores ours (its --context default)
CONTEXT = 20
# examples per node, as training/node_examples.py's --top default
PER_NODE = 5
SOURCE = "OpenAI's pretraining samples (viz_data.pt)"
VALUE_NOTE = (
    "the node's activation at the marked token as OpenAI stored it (their model, their pretraining data); "
    "top: their samples from the top and bottom 0.1 % of the node's activations, largest |activation| first"
)


def bucket_entries(samples: dict, loc: str, ch: int) -> list[tuple[str, torch.Tensor, float, int]]:
    """The well-formed (side, token ids [T], value, position) entries of one node's top-0.1 % bucket; channel
    keys may be ints or 0-d tensors. Malformed entries are skipped: a node without any simply has no examples."""
    by_ch = samples.get(loc, {})
    by_q = next((v for c, v in by_ch.items() if int(c) == ch), None) if isinstance(by_ch, dict) else None
    bucket = by_q.get(TOP_BUCKET) if isinstance(by_q, dict) else None
    if not isinstance(bucket, (list, tuple)) or len(bucket) != 2:
        return []
    out = []
    for side, entries in zip(("bottom", "top"), bucket, strict=True):
        for e in entries if isinstance(entries, (list, tuple)) else []:
            if not (isinstance(e, (list, tuple)) and len(e) == 3 and isinstance(e[0], torch.Tensor) and isinstance(e[1], torch.Tensor)):
                continue
            ids, acts, pos = e[0].reshape(-1), e[1].reshape(-1), int(e[2])
            if 0 <= pos < min(ids.numel(), acts.numel()) and math.isfinite(float(acts[pos])):
                out.append((side, ids.long(), float(acts[pos]), pos))
    return out


def example(tok: Tokenizer, side: str, ids: torch.Tensor, value: float, pos: int) -> dict:
    """One stored sample as our example: ±CONTEXT tokens of raw text around the marked one, its 1-based line
    within the sample, and a `file` naming where it comes from."""
    lo, hi = max(0, pos - CONTEXT), min(ids.numel(), pos + CONTEXT + 1)
    return {
        "before": tok.decode(ids[lo:pos].tolist()),
        "token": tok.decode([int(ids[pos])]),
        "after": tok.decode(ids[pos + 1 : hi].tolist()),
        "value": float(f"{value:.4g}"),
        "file": f"OpenAI pretraining sample ({side} 0.1 %)",
        "line": tok.decode(ids[:pos].tolist()).count("\n") + 1,
    }


def node_examples(samples: dict, loc: str, ch: int, tok: Tokenizer) -> dict | None:
    """The node's `examples` (top PER_NODE stored contexts by |activation|), or None when the file has none for it."""
    entries = sorted(bucket_entries(samples, loc, ch), key=lambda e: -abs(e[2]))[:PER_NODE]
    return {"top": [example(tok, *e) for e in entries], "quantiles": []} if entries else None


def examples_source(nodes: list[dict]) -> dict:
    """The circuit's `node_examples`: what the examples are. Each count is the contexts shown: one stored sample,
    read at one token, per example."""
    n = sum(len(node["examples"]["top"]) for node in nodes if "examples" in node)
    return {"corpus": SOURCE, "files": n, "windows": n, "tokens": n, "context": CONTEXT, "value": VALUE_NOTE}
