"""Both tasks measured on real code, with contrasts that follow whatever the tokenizer does.

    python -m training.realcode --run training/runs/X [--source heldout|sdk|val] [--n 1000]
    python -m training.realcode --bundle models/pysparse-depth      # a bundle, through onnxruntime

Each case is a place in a real file and two continuations of its line: the true one and one that is
wrong for the task. Both texts are tokenized from the same line start; at the first token where the
two encodings differ the model is right when it gives the true token the higher logit. So the
contrast is the tokenizer's own (`]` vs `]\\n` with tinypython_2k's regex, `]` vs `\\n` with brackets
as their own pre-tokens) and never depends on how one tokenizer happens to merge a closer.

  bracket  at each `]` that Python's tokenizer matches with a `[` (list displays and subscripts):
           nested when the next character is another `]` — the alternative drops that `]`;
           flat otherwise — the alternative adds one. Balanced accuracy = mean of the two classes.
  quote    at each one-line string literal's closing quote (no triple quotes, no quote of the other
           kind inside): the alternative closes with the other quote.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import tokenize
from dataclasses import dataclass
from pathlib import Path

import torch

from . import corpus
from .tasks import first_difference
from .tokenizer import load as load_tokenizer

LEFT_CHARS = 1500  # characters of left context tokenized (more than a 256-token window holds)


@dataclass
class Case:
    text: str  # the file
    at: int  # character offset where the two continuations start
    true_rest: str
    alt_rest: str
    kind: str  # "nested" | "flat" | "double" | "single"


def _offsets(text: str) -> list[int]:
    """Character offset of the start of each line, as tokenize numbers them (from 1)."""
    starts, pos = [0, 0], 0
    for line in text.split("\n"):
        pos += len(line) + 1
        starts.append(pos)
    return starts


def _line_end(text: str, at: int) -> int:
    end = text.find("\n", at)
    return len(text) if end < 0 else end + 1


def cases(text: str) -> list[Case]:
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return []
    line_at = _offsets(text)
    out, stack = [], []
    for tok in toks:
        at = line_at[tok.start[0]] + tok.start[1]
        if tok.type == tokenize.OP and tok.string in "([{":
            stack.append(tok.string)
        elif tok.type == tokenize.OP and tok.string in ")]}":
            opener = stack.pop() if stack else None
            if tok.string == "]" and opener == "[":
                rest = text[at : _line_end(text, at)]
                nested = rest.startswith("]]")
                out.append(Case(text, at, rest, rest[1:] if nested else "]" + rest, "nested" if nested else "flat"))
        elif tok.type == tokenize.STRING and tok.start[0] == tok.end[0]:
            body = tok.string.lstrip("rbuRBUfF")
            q = body[0]
            if body.startswith(q * 3) or len(body) < 2:
                continue
            other = "'" if q == '"' else '"'
            if other in body:
                continue
            close = line_at[tok.end[0]] + tok.end[1] - 1
            rest = text[close : _line_end(text, close)]
            out.append(Case(text, close, rest, other + rest[1:], "double" if q == '"' else "single"))
    return out


def sample(texts: list[str], per_kind: int, seed: int = 0) -> dict[str, list[Case]]:
    """Up to `per_kind` cases of each kind, drawn uniformly from all the files' cases."""
    by_kind: dict[str, list[Case]] = {"nested": [], "flat": [], "double": [], "single": []}
    for text in texts:
        for c in cases(text):
            by_kind[c.kind].append(c)
    rng = random.Random(seed)
    return {k: rng.sample(v, min(per_kind, len(v))) for k, v in by_kind.items()}


def encode_case(tok, c: Case, max_prompt: int) -> tuple[list[int], int, int] | None:
    """(prompt ids, true token, alternative token) at the first token where the continuations differ."""
    start = c.text.rfind("\n", 0, max(0, c.at - LEFT_CHARS)) + 1
    return first_difference(tok, c.text[start : c.at], c.true_rest, c.alt_rest, max_prompt)


Prompt = tuple[list[int], int, int]  # (ids, true token, alternative token)
TASK_KINDS = {"bracket": ("nested", "flat"), "quote": ("double", "single")}  # each task's figure balances its kinds


def torch_diffs(gpt, node_mask: torch.Tensor | None = None, node_fill: torch.Tensor | None = None):
    """Logit difference true − alternative for a batch of prompts, from a PyTorch model (with the nodes
    where `node_mask` [N] is 0 set to `node_fill` [N], when given)."""
    ablate = {} if node_mask is None else {"node_mask": node_mask, "node_fill": node_fill}

    # on the model's device (a GPU run probes as it trains); the differences come back to the CPU
    dev = next(gpt.parameters()).device

    @torch.no_grad()
    def diffs(chunk: list[Prompt]) -> torch.Tensor:
        L = max(len(p) for p, _, _ in chunk)
        ids = torch.zeros(len(chunk), L, dtype=torch.long)  # right-padded: causal attention ignores it
        for r, (p, _, _) in enumerate(chunk):
            ids[r, : len(p)] = torch.tensor(p)
        positions = torch.tensor([len(p) - 1 for p, _, _ in chunk], device=dev)
        logits, _, _ = gpt(ids.to(dev), positions=positions, **ablate)  # [B, V]
        t = torch.tensor([x for _, x, _ in chunk], device=dev)
        a = torch.tensor([y for _, _, y in chunk], device=dev)
        return (logits.gather(1, t[:, None]) - logits.gather(1, a[:, None]))[:, 0].cpu()  # [B]

    return diffs


def onnx_diffs(bundle: Path):
    """The same from a bundle's model.onnx (the shipped model, whose PyTorch weights are not kept)."""
    import numpy as np
    import onnxruntime as ort

    manifest = json.loads((bundle / "manifest.json").read_text())
    sess = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    n = manifest["nodes"]["count"]
    keep, fill, watch = np.ones(n, np.float32), np.zeros(n, np.float32), np.zeros(0, np.int64)
    if manifest.get("mask_rows"):  # the graph takes mask rows [M, N] (training/export.py)
        keep, fill = keep[None], fill[None]

    def diffs(chunk: list[Prompt]) -> torch.Tensor:
        out = []
        for p, t, a in chunk:
            feed = {
                "input_ids": np.array([p], np.int64),
                "node_mask": keep,
                "node_fill": fill,
                "watch": watch,
                "score_from": np.array([len(p) - 1], np.int64),
                "read_ids": np.array([t, a], np.int64),
            }
            logits = sess.run(None, feed)[0]  # [1, 1, 2]
            out.append(float(logits[0, 0, 0] - logits[0, 0, 1]))
        return torch.tensor(out)

    return diffs, manifest["context"]


def score(diffs, tok, picked: dict[str, list[Case]], block_size: int, batch: int = 32) -> dict:
    """Accuracy per kind and the two balanced figures (bracket: nested/flat, quote: double/single)."""
    out = {}
    for kind, cs in picked.items():
        enc = [e for e in (encode_case(tok, c, block_size) for c in cs) if e is not None]
        right = sum(int((diffs(enc[i : i + batch]) > 0).sum()) for i in range(0, len(enc), batch))
        out[kind] = {"accuracy": right / len(enc) if enc else None, "n": len(enc)}
    for task, kinds in TASK_KINDS.items():
        seen = [out[k] for k in kinds if out[k]["n"]]
        # balanced over the classes present: black-formatted code has no single-quoted strings
        # without a double quote inside, so its quote cases can all be one class
        out[task] = {"balanced": sum(o["accuracy"] for o in seen) / len(seen) if seen else None, "n": sum(o["n"] for o in seen)}
    return out


def load_texts(data: Path, source: str) -> list[str]:
    return corpus.read_jsonl(data / f"corpus_{source}.jsonl")


class Probe:
    """The real-code contrasts on a fixed sample of the held-out package, for the training curve."""

    def __init__(self, data: Path, per_kind: int):
        self.tok = load_tokenizer(data / "tokenizer.json")
        self.picked = sample(load_texts(data, "heldout"), per_kind, seed=1)

    def __call__(self, gpt) -> dict:
        was_training = gpt.training
        gpt.eval()
        res = score(torch_diffs(gpt), self.tok, self.picked, gpt.cfg.block_size)
        gpt.train(was_training)
        figures = {k: v.get("accuracy", v.get("balanced")) for k, v in res.items()}  # per kind, then per task
        return {k: None if f is None else round(f, 4) for k, f in figures.items()}


def main() -> None:
    from .export import load_run

    ap = argparse.ArgumentParser()
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", type=Path, help="a training run (its checkpoint)")
    which.add_argument("--bundle", type=Path, help="a model bundle (its model.onnx and tokenizer.json)")
    ap.add_argument("--data", type=Path, default=Path("training/data"))
    ap.add_argument("--source", default="heldout", choices=["heldout", "sdk", "val"])
    ap.add_argument("--n", type=int, default=1000, help="cases per kind")
    args = ap.parse_args()
    if args.bundle:
        diffs, block = onnx_diffs(args.bundle)
        tok = load_tokenizer(args.bundle / "tokenizer.json")
    else:
        gpt, _ = load_run(args.run)
        diffs, block = torch_diffs(gpt), gpt.cfg.block_size
        tok = load_tokenizer(args.data / "tokenizer.json")
    picked = sample(load_texts(args.data, args.source), args.n)
    print(json.dumps({"model": str(args.bundle or args.run), "source": args.source, **score(diffs, tok, picked, block)}, indent=2))


if __name__ == "__main__":
    main()
