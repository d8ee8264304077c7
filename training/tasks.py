"""Binary next-token contrast tasks (Gao et al. 2025, Table 1), with generators and fixed test sets.

Each example is a prompt (token ids) and two candidate next tokens, `correct` and `wrong`. The task
loss is the 2-way cross-entropy −log softmax([l_correct, l_wrong])[0] at the last prompt token,
averaged over examples (the paper sums it over a pair of contexts; its viz halves that sum, which
is this per-example mean).

Token contrasts follow what this tokenizer actually emits (the paper's "]]" vs "]" compares the first
tokens of "]]\n" and "]\n"; our BPE splits "]]\n" as "]" + "]\n"), so:
  single_double_quote  closing quote + ")", e.g. '")' vs "')" (also '")\n' vs "')\n", ...)
  bracket_counting     at the close of a list at the end of a line: "]" (another "]" follows:
                       nested, depth 2) vs "]\n" (flat, depth 1)
  while_return_true    after "while True" → ":\n"; after "return True" → "\n"
  if_equals            after "if x" → " =="; after a statement-initial "x" → " ="
Examples mix templates with real code from the validation split of the corpus.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import corpus

PROMPT_TOKENS = 64  # real-code prompts keep this much left context (enough for strings and most lists)
NAMES = ["x", "y", "data", "name", "value", "result", "items", "path", "key", "msg", "text", "config", "args", "node", "count", "line", "user", "out", "buf", "row"]
FUNCS = ["print", "log", "append", "get", "join", "open", "write", "format", "warn", "split", "startswith", "error", "info", "debug", "replace", "encode"]
WORDS = ["hello", "world", "error", "name", "value", "data", "utf", "test", "done", "file", "path", "default", "result", "key", "empty", "none", "start", "end", "user", "id"]


@dataclass
class Example:
    prompt: list[int]
    correct: int
    wrong: int
    source: str  # "template" | "real"


@dataclass
class Task:
    name: str
    title: str
    description: str
    classes: list[dict]  # [{"label", "tokens": [{"id", "text"}]}] — the two sides of the contrast
    train: list[Example] = field(default_factory=list)
    test: list[Example] = field(default_factory=list)


def _tid(tok, text: str) -> int | None:
    ids = tok.encode(text).ids
    return ids[0] if len(ids) == 1 else None


def quote_closers(tok) -> list[tuple[int, int, str]]:
    """(double_id, single_id, suffix) for every suffix where both quote closers are single tokens."""
    out = []
    for suffix in [")", ")\n", "),", "))", ")]", "):", ")\n\n", "])"]:
        d, s = _tid(tok, '"' + suffix), _tid(tok, "'" + suffix)
        if d is not None and s is not None:
            out.append((d, s, suffix))
    return out


def _real_positions(stream: np.ndarray, wanted) -> list[int]:
    return [i for i in range(PROMPT_TOKENS, len(stream)) if wanted(i)]


def _quote_examples_real(tok, stream: np.ndarray, rng: random.Random, n: int) -> list[Example]:
    twin = {}
    for d, s, _ in quote_closers(tok):
        twin[d], twin[s] = s, d
    pos = _real_positions(stream, lambda i: int(stream[i]) in twin)
    rng.shuffle(pos)
    return [Example(stream[i - PROMPT_TOKENS : i].tolist(), int(stream[i]), twin[int(stream[i])], "real") for i in pos[:n]]


def _quote_examples_template(tok, rng: random.Random, n: int) -> list[Example]:
    closers = quote_closers(tok)
    out = []
    for _ in range(n):
        q, other = rng.choice([('"', "'"), ("'", '"')])
        d, s, suffix = rng.choice(closers[:2])  # ")" and ")\n" are by far the most common
        pre = ""
        if rng.random() < 0.6:  # a distractor string of the other quote type on an earlier line
            pre = f"{rng.choice(NAMES)} = {other}{rng.choice(WORDS)}{other}\n"
        if rng.random() < 0.3:
            pre += f"{rng.choice(NAMES)} = {q}{rng.choice(WORDS)}{q}\n"
        indent = rng.choice(["", "    ", "        "])
        call = rng.choice([f"{rng.choice(FUNCS)}(", f"{rng.choice(NAMES)}.{rng.choice(FUNCS)}(", f"{rng.choice(NAMES)} = {rng.choice(FUNCS)}("])
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
        text = f"{pre}{indent}{call}{q}{words}"
        correct, wrong = (d, s) if q == '"' else (s, d)
        out.append(Example(tok.encode(text).ids, correct, wrong, "template"))
    return out


def _bracket_ids(tok) -> tuple[int, int]:
    return _tid(tok, "]"), _tid(tok, "]\n")


def _bracket_examples_real(tok, stream: np.ndarray, rng: random.Random, n: int) -> list[Example]:
    close, close_nl = _bracket_ids(tok)
    nested = _real_positions(stream[:-1], lambda i: stream[i] == close and stream[i + 1] == close_nl)
    flat = _real_positions(stream, lambda i: stream[i] == close_nl)
    rng.shuffle(nested)
    rng.shuffle(flat)
    k = n // 2
    ex = [Example(stream[i - PROMPT_TOKENS : i].tolist(), close, close_nl, "real") for i in nested[:k]]
    ex += [Example(stream[i - PROMPT_TOKENS : i].tolist(), close_nl, close, "real") for i in flat[: n - len(ex)]]
    return ex


def _element(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.5:
        return str(rng.randint(0, 99))
    if kind < 0.75:
        return rng.choice(NAMES)
    return f'"{rng.choice(WORDS)}"'


def _bracket_examples_template(tok, rng: random.Random, n: int) -> list[Example]:
    close, close_nl = _bracket_ids(tok)
    out = []
    for _ in range(n):
        nested = rng.random() < 0.5
        elems = lambda: ", ".join(_element(rng) for _ in range(rng.randint(1, 6)))  # noqa: E731
        pre = ""
        if rng.random() < 0.4:
            pre = f"{rng.choice(NAMES)} = [{elems()}]\n"
        head = f"{rng.choice(['', '    '])}{rng.choice(NAMES)} = "
        if nested:
            inner = [f"[{elems()}]" for _ in range(rng.randint(0, 2))]
            body = "[" + "".join(i + ", " for i in inner) + "[" + elems()
        else:
            body = "[" + elems()
        out.append(Example(tok.encode(pre + head + body).ids, close if nested else close_nl, close_nl if nested else close, "template"))
    return out


def focus_positions(tok, stream: np.ndarray) -> dict[str, np.ndarray]:
    """Where the contrast tasks' answers occur in a token stream, by kind (indices of the answer token).

    Nested list closes at a line end ("]" then "]\n") are rare in Python source (2,312 in the 44M
    training tokens, against 57,098 flat "]\n"), so a model trained on uniform windows sees a few
    hundred; training with --focus draws windows around these positions, one kind at a time.
    """
    close, close_nl = _bracket_ids(tok)
    quotes = np.array(sorted({i for d, s, _ in quote_closers(tok) for i in (d, s)}))
    nested = np.flatnonzero((stream[:-1] == close) & (stream[1:] == close_nl))
    return {
        "nested_close": nested,
        "flat_close": np.flatnonzero(stream == close_nl),
        "quote_close": np.flatnonzero(np.isin(stream, quotes)),
    }


def _keyword_examples(tok, rng: random.Random, n: int, make) -> list[Example]:
    out = []
    for _ in range(n):
        text, correct, wrong = make(rng)
        out.append(Example(tok.encode(text).ids, _tid(tok, correct), _tid(tok, wrong), "template"))
    return out


def _body(rng: random.Random) -> str:
    lines = [f"    {rng.choice(NAMES)} = {rng.choice(FUNCS)}({rng.choice(NAMES)})\n" for _ in range(rng.randint(0, 3))]
    return f"def {rng.choice(FUNCS)}_{rng.choice(NAMES)}({rng.choice(NAMES)}):\n" + "".join(lines)


def _while_return(rng: random.Random):
    if rng.random() < 0.5:
        return _body(rng) + "    while True", ":\n", "\n"
    return _body(rng) + rng.choice(["    return True", "        return True"]), "\n", ":\n"


def _if_equals(rng: random.Random):
    var = rng.choice(NAMES)
    if rng.random() < 0.5:
        return _body(rng) + f"    if {var}", " ==", " ="
    return _body(rng) + f"    {var}", " =", " =="


def build_tasks(tok, val_stream: np.ndarray, n_train: int = 1024, n_test: int = 512, seed: int = 0) -> dict[str, Task]:
    """All tasks with fixed train/test sets (same seed → same sets). Real-code examples come from val_stream."""
    rng = random.Random(seed)
    d, s, _ = quote_closers(tok)[0]
    quote_classes = [
        {"label": "double", "tokens": [{"id": dd, "text": '"' + suf} for dd, _, suf in quote_closers(tok)]},
        {"label": "single", "tokens": [{"id": ss, "text": "'" + suf} for _, ss, suf in quote_closers(tok)]},
    ]
    close, close_nl = _bracket_ids(tok)
    tasks = {
        "single_double_quote": Task("single_double_quote", "Quote closing",
                                    "Close a string literal with the quote that opened it: \") vs ').", quote_classes),
        "bracket_counting": Task("bracket_counting", "Bracket depth",
                                 "At the end of a list on a line, close one more bracket if the list is nested: \"]\" (depth 2, \"]]\" follows) vs \"]\\n\" (depth 1).",
                                 [{"label": "nested", "tokens": [{"id": close, "text": "]"}]}, {"label": "flat", "tokens": [{"id": close_nl, "text": "]\n"}]}]),
        "while_return_true": Task("while_return_true", "while True vs return True",
                                  "After `while True` comes a colon; after `return True` a newline.",
                                  [{"label": "colon", "tokens": [{"id": _tid(tok, ":\n"), "text": ":\n"}]}, {"label": "newline", "tokens": [{"id": _tid(tok, "\n"), "text": "\n"}]}]),
        "if_equals": Task("if_equals", "Comparison vs assignment",
                          "After `if x` comes ` ==`; after a statement-initial `x` comes ` =`.",
                          [{"label": "compare", "tokens": [{"id": _tid(tok, " =="), "text": " =="}]}, {"label": "assign", "tokens": [{"id": _tid(tok, " ="), "text": " ="}]}]),
    }
    half = (n_train + n_test) // 2
    gens = {
        "single_double_quote": lambda: _quote_examples_template(tok, rng, half) + _quote_examples_real(tok, val_stream, rng, half),
        "bracket_counting": lambda: _bracket_examples_template(tok, rng, half) + _bracket_examples_real(tok, val_stream, rng, half),
        "while_return_true": lambda: _keyword_examples(tok, rng, n_train + n_test, _while_return),
        "if_equals": lambda: _keyword_examples(tok, rng, n_train + n_test, _if_equals),
    }
    for name, task in tasks.items():
        ex = gens[name]()
        rng.shuffle(ex)
        task.test, task.train = ex[:n_test], ex[n_test : n_test + n_train]
    return tasks


def collate(examples: list[Example]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ids [B, T], last-token positions [B], correct [B], wrong [B]. Causal attention makes
    right padding invisible to the positions that matter."""
    T = max(len(e.prompt) for e in examples)
    ids = torch.zeros(len(examples), T, dtype=torch.long)
    for i, e in enumerate(examples):
        ids[i, : len(e.prompt)] = torch.tensor(e.prompt)
    last = torch.tensor([len(e.prompt) - 1 for e in examples])
    return ids, last, torch.tensor([e.correct for e in examples]), torch.tensor([e.wrong for e in examples])


def contrast(logits: torch.Tensor, last, correct, wrong) -> torch.Tensor:
    """logits [B, T, V] (or [B, V], already at the last prompt token) → logit difference correct − wrong [B]."""
    at = logits[torch.arange(len(last)), last] if logits.ndim == 3 else logits  # [B, V]
    return at.gather(1, correct[:, None])[:, 0] - at.gather(1, wrong[:, None])[:, 0]


def contrast_loss(diff: torch.Tensor) -> torch.Tensor:
    """2-way cross-entropy of the correct token, from the logit difference: mean softplus(−diff)."""
    return F.softplus(-diff).mean()


@torch.no_grad()
def evaluate(model, examples: list[Example], batch: int = 64, classes: list[dict] | None = None, **fwd) -> dict:
    """Contrast loss, accuracy and mean logit difference; with `classes`, the accuracy on each class's
    examples too (its answer among the class's tokens), since a model that always picks one side
    scores 50 % overall on a balanced set and far from it on one class."""
    diffs = []
    for i in range(0, len(examples), batch):
        ids, last, c, w = collate(examples[i : i + batch])
        logits, _, _ = model(ids, positions=last, **fwd)
        diffs.append(contrast(logits, last, c, w))
    diff = torch.cat(diffs)
    out = {"loss": float(contrast_loss(diff)), "accuracy": float((diff > 0).float().mean()), "logit_diff": float(diff.mean()), "n": len(examples)}
    if classes:
        correct = torch.tensor([e.correct for e in examples])
        out["by_class"] = {}
        for cl in classes:
            mine = torch.isin(correct, torch.tensor([t["id"] for t in cl["tokens"]]))
            out["by_class"][cl["label"]] = {"accuracy": float((diff[mine] > 0).float().mean()) if mine.any() else None, "n": int(mine.sum())}
    return out


def load_stream(path: Path) -> np.ndarray:
    return np.fromfile(path, dtype=np.uint16).astype(np.int64)


__all__ = ["Example", "Task", "build_tasks", "collate", "contrast", "contrast_loss", "evaluate", "focus_positions", "load_stream", "corpus"]
