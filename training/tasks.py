"""Binary next-token contrast tasks (Gao et al. 2025, Table 1), with generators and fixed test sets.

Each example is a prompt (token ids) and two candidate next tokens, `correct` and `wrong`. The task
loss is the 2-way cross-entropy −log softmax([l_correct, l_wrong])[0] at the last prompt token,
averaged over examples (the paper sums it over a pair of contexts; its viz halves that sum, which
is this per-example mean).

Each example's two tokens are the tokenizer's own: the prompt's text is continued twice (the true
rest of the line and the wrong one), both are tokenized, and the prompt ends where the two encodings
first differ (`first_difference`). So the same task works with tinypython_2k's regex (closing quote
+ ")" as one token: '")' vs "')"; "]" vs "]\n") and with brackets as pre-tokens of their own ('"' vs
"'"; "]" vs "\n" after the first "]"):
  single_double_quote  close a one-line string with the quote that opened it
  bracket_counting     at the close of a list at the end of a line: one more "]" if the list is nested
                       (depth 2) or the end of the line (depth 1)
  while_return_true    after "while True" → ":\n"; after "return True" → "\n"
  if_equals            after "if x" → " =="; after a statement-initial "x" → " ="
  single_double_quote_paper, bracket_counting_paper  the same two tasks in the paper's form: a call
                       holding the only string, a list statement with no list before it (templates
                       alone; a comparison with the paper's circuit sizes, not editor circuits)
Examples mix templates with real code from the validation split of the corpus.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

PROMPT_TOKENS = 64  # real-code prompts keep this much left context (enough for strings and most lists)
NAMES = [
    "x",
    "y",
    "data",
    "name",
    "value",
    "result",
    "items",
    "path",
    "key",
    "msg",
    "text",
    "config",
    "args",
    "node",
    "count",
    "line",
    "user",
    "out",
    "buf",
    "row",
]
FUNCS = ["print", "log", "append", "get", "join", "open", "write", "format", "warn", "split", "startswith", "error", "info", "debug", "replace", "encode"]
WORDS = [
    "hello",
    "world",
    "error",
    "name",
    "value",
    "data",
    "utf",
    "test",
    "done",
    "file",
    "path",
    "default",
    "result",
    "key",
    "empty",
    "none",
    "start",
    "end",
    "user",
    "id",
]


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
    scope: dict  # where the task applies in a document, for the editor (docs/bundle-format.md: "scope")
    train: list[Example] = field(default_factory=list)
    test: list[Example] = field(default_factory=list)


def _tid(tok, text: str) -> int | None:
    ids = tok.encode(text).ids
    return ids[0] if len(ids) == 1 else None


def closer_scope(tok, kind: str, left: str, true_rest: str, alt_rest: str) -> dict:
    """The editor's scope for a task whose contrast is how a construct closes, with where the model's
    prediction is read: by default at the token that ends right before the closer (`]]\\n` vs `]\\n`
    as single tokens); `read_at: closer` when this tokenizer makes the closer a token of its own and
    the two continuations first differ after it (brackets as pre-tokens: `]` then `]` vs `\\n`)."""
    a, b = tok.encode(left + true_rest), tok.encode(left + alt_rest).ids
    i = next(j for j, (x, y) in enumerate(zip(a.ids, b)) if x != y)
    return {"kind": kind, "read_at": "closer"} if a.offsets[i][0] > len(left) else {"kind": kind}


def first_difference(tok, left: str, true_rest: str, alt_rest: str, max_prompt: int = PROMPT_TOKENS) -> tuple[list[int], int, int] | None:
    """(prompt ids, true token, alternative token) where the encodings of left + true_rest and
    left + alt_rest first differ; the prompt keeps the last `max_prompt` tokens. None if they never
    do, or if the differing token begins inside `left` (BPE merged the continuation with what comes
    before it, e.g. an empty string's two quotes: that contrast is not the task's)."""
    enc = tok.encode(left + true_rest)
    a, b = enc.ids, tok.encode(left + alt_rest).ids
    i = next((j for j, (x, y) in enumerate(zip(a, b)) if x != y), None)
    if not i or enc.offsets[i][0] < len(left):
        return None
    return a[max(0, i - max_prompt) : i], a[i], b[i]


def _example(tok, left: str, true_rest: str, alt_rest: str, source: str) -> Example | None:
    found = first_difference(tok, left, true_rest, alt_rest)
    return Example(found[0], found[1], found[2], source) if found else None


def _real_examples(tok, cases: list, rng: random.Random, n: int) -> list[Example]:
    """Examples from real cases (realcode.Case: a file, an offset and two continuations of its line)."""
    rng.shuffle(cases)
    out = []
    for c in cases:
        if len(out) == n:
            break
        start = c.text.rfind("\n", 0, max(0, c.at - 20 * PROMPT_TOKENS)) + 1
        ex = _example(tok, c.text[start : c.at], c.true_rest, c.alt_rest, "real")
        if ex:
            out.append(ex)
    return out


def _quote_template(rng: random.Random, earlier_strings: bool = True) -> tuple[str, str, str]:
    """(text up to the closing quote, true rest, wrong rest). Without `earlier_strings` the call is the
    whole prompt: the paper's form of the task, where no other string can pull the answer."""
    q, other = rng.choice([('"', "'"), ("'", '"')])
    pre = ""
    if earlier_strings and rng.random() < 0.6:  # a distractor string of the other quote type on an earlier line
        pre = f"{rng.choice(NAMES)} = {other}{rng.choice(WORDS)}{other}\n"
    if earlier_strings and rng.random() < 0.3:
        pre += f"{rng.choice(NAMES)} = {q}{rng.choice(WORDS)}{q}\n"
    indent = rng.choice(["", "    ", "        "])
    call = rng.choice([f"{rng.choice(FUNCS)}(", f"{rng.choice(NAMES)}.{rng.choice(FUNCS)}(", f"{rng.choice(NAMES)} = {rng.choice(FUNCS)}("])
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
    rest = rng.choice([")", ")\n"])  # by far the most common
    return f"{pre}{indent}{call}{q}{words}", q + rest, other + rest


def _element(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.5:
        return str(rng.randint(0, 99))
    if kind < 0.75:
        return rng.choice(NAMES)
    return f'"{rng.choice(WORDS)}"'


def _bracket_template(rng: random.Random, earlier_list: bool = True) -> tuple[str, str, str]:
    """(a list statement up to its last element, true rest, wrong rest): nested closes with "]]\n".
    Without `earlier_list` the statement is the whole prompt: the paper's form of the task."""
    nested = rng.random() < 0.5
    elems = lambda: ", ".join(_element(rng) for _ in range(rng.randint(1, 6)))  # noqa: E731
    pre = ""
    if earlier_list and rng.random() < 0.4:
        pre = f"{rng.choice(NAMES)} = [{elems()}]\n"
    head = f"{rng.choice(['', '    '])}{rng.choice(NAMES)} = "
    if nested:
        inner = [f"[{elems()}]" for _ in range(rng.randint(0, 2))]
        body = "[" + "".join(i + ", " for i in inner) + "[" + elems()
        return pre + head + body, "]]\n", "]\n"
    return pre + head + "[" + elems(), "]\n", "]]\n"


def _templates(tok, rng: random.Random, n: int, make) -> list[Example]:
    out = []
    while len(out) < n:
        ex = _example(tok, *make(rng), "template")
        if ex:
            out.append(ex)
    return out


def _end_of_line_list_closes(cases: list) -> list:
    """The bracket task's real cases: a list closed at the end of its line ("]]\n" or "]\n")."""
    return [c for c in cases if c.kind in ("nested", "flat") and c.true_rest in ("]]\n", "]\n")]


def focus_positions(tok, stream: np.ndarray) -> dict[str, np.ndarray]:
    """Where the contrast tasks' answers occur in a token stream, by kind (indices of the answer token).

    Nested list closes at a line end are rare in Python source (2,312 in the shipped model's 44M
    training tokens, against 57,098 flat ones), so a model trained on uniform windows sees a few
    hundred; training with --focus draws windows around these positions, one kind at a time.
    A token "closes" when its text starts with the closer: "]", '"' or "'".
    """
    texts = [tok.id_to_token(i) or "" for i in range(tok.get_vocab_size())]
    starts = lambda ch: np.array([t.startswith(ch) for t in texts])  # noqa: E731 (byte-level text: '"' and "'" and "]" are themselves)
    closes = starts("]")[stream]
    quote = (starts('"') | starts("'"))[stream]
    nested = np.flatnonzero(closes[:-1] & closes[1:])
    return {
        "nested_close": nested,
        "flat_close": np.flatnonzero(closes[:-1] & ~closes[1:]),
        "quote_close": np.flatnonzero(quote),
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


def _classes(examples: list[Example], labels: tuple[str, str], first_class: list[bool], tok) -> list[dict]:
    """Each class's tokens: the true tokens of its examples (the tokenizer decides which they are)."""
    out = []
    for label, mine in zip(labels, (True, False)):
        ids = sorted({e.correct for e, f in zip(examples, first_class) if f == mine})
        out.append({"label": label, "tokens": [{"id": i, "text": tok.decode([i])} for i in ids]})
    return out


def build_tasks(tok, val_texts: list[str], n_train: int = 1024, n_test: int = 512, seed: int = 0) -> dict[str, Task]:
    """All tasks with fixed train/test sets (same seed → same sets). Real-code examples come from the
    validation split's files (`val_texts`)."""
    from .realcode import cases as real_cases

    rng = random.Random(seed)
    real = [c for text in val_texts for c in real_cases(text)]
    half = (n_train + n_test) // 2
    quote = _templates(tok, rng, half, _quote_template) + _real_examples(tok, [c for c in real if c.kind in ("double", "single")], rng, half)
    bracket = _templates(tok, rng, half, _bracket_template) + _real_examples(tok, _end_of_line_list_closes(real), rng, half)
    kw = {name: _keyword_examples(tok, rng, n_train + n_test, make) for name, make in (("while_return_true", _while_return), ("if_equals", _if_equals))}
    # the paper's form of the quote and bracket tasks, from a generator of their own: adding them left every
    # other task's examples as they were (the shipped circuits' figures are measured on them)
    paper_rng = random.Random(seed + 1)
    paper_quote = _templates(tok, paper_rng, n_train + n_test, lambda r: _quote_template(r, earlier_strings=False))
    paper_bracket = _templates(tok, paper_rng, n_train + n_test, lambda r: _bracket_template(r, earlier_list=False))
    double = {i for i in range(tok.get_vocab_size()) if (tok.id_to_token(i) or "").startswith('"')}
    one_close = _tid(tok, "]")  # the nested class's answer: one more "]" where the flat one ends the line

    # One contrast per kind of task, its paper form included: the editor reads both circuits of a
    # place with the same class tokens, so a token shows one prediction whichever circuit is open.
    quote_contrast = _classes(quote, ("double", "single"), [e.correct in double for e in quote], tok)
    bracket_contrast = _classes(bracket, ("nested", "flat"), [e.correct == one_close for e in bracket], tok)

    quote_scope = closer_scope(tok, "string-close", 'f("abc', '")\n', "')\n")
    bracket_scope = closer_scope(tok, "list-close", "x = [[1, 2", "]]\n", "]\n")
    tasks = {
        "single_double_quote": Task(
            "single_double_quote",
            "Quote closing",
            "Close a string literal with the quote that opened it: \" vs '.",
            quote_contrast,
            quote_scope,
        ),
        "bracket_counting": Task(
            "bracket_counting",
            "Bracket depth",
            "At the end of a list on a line, close one more bracket if the list is nested (depth 2), or end the line (depth 1).",
            bracket_contrast,
            bracket_scope,
        ),
        "while_return_true": Task(
            "while_return_true",
            "while True vs return True",
            "After `while True` comes a colon; after `return True` a newline.",
            [{"label": "colon", "tokens": [{"id": _tid(tok, ":\n"), "text": ":\n"}]}, {"label": "newline", "tokens": [{"id": _tid(tok, "\n"), "text": "\n"}]}],
            {"kind": "keyword-true"},
        ),
        "if_equals": Task(
            "if_equals",
            "Comparison vs assignment",
            "After `if x` comes ` ==`; after a statement-initial `x` comes ` =`.",
            [{"label": "compare", "tokens": [{"id": _tid(tok, " =="), "text": " =="}]}, {"label": "assign", "tokens": [{"id": _tid(tok, " ="), "text": " ="}]}],
            {"kind": "name-compare-assign"},
        ),
        "single_double_quote_paper": Task(
            "single_double_quote_paper",
            "Quote closing, the paper's form",
            "Close a string literal with the quote that opened it, in a call that holds the only string.",
            quote_contrast,
            quote_scope,
        ),
        "bracket_counting_paper": Task(
            "bracket_counting_paper",
            "Bracket depth, the paper's form",
            "At the end of a list statement with no list before it, close one more bracket if it is nested (depth 2), or end the line.",
            bracket_contrast,
            bracket_scope,
        ),
    }
    examples = {
        "single_double_quote": quote,
        "bracket_counting": bracket,
        **kw,
        "single_double_quote_paper": paper_quote,
        "bracket_counting_paper": paper_bracket,
    }
    for name, task in tasks.items():
        ex = examples[name]
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
    device = next(model.parameters()).device  # a GPU run evaluates as it trains; the differences come back to the CPU
    diffs = []
    for i in range(0, len(examples), batch):
        ids, last, c, w = (t.to(device) for t in collate(examples[i : i + batch]))
        logits, _, _ = model(ids, positions=last, **fwd)
        diffs.append(contrast(logits, last, c, w).cpu())
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


__all__ = ["Example", "Task", "build_tasks", "collate", "contrast", "contrast_loss", "evaluate", "focus_positions", "first_difference", "load_stream"]
