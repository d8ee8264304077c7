"""Synthetic changes to real code, so that what the tasks ask is seen often: list statements injected
(bracket depth), and string quotes flipped (quote closing).

Real Python closes a nested list (`]]`) about 76 times per MB of our corpus, while counting depth is
what the bracket task asks. Each injected statement is a list display of depth 1–3 whose elements
are what real lists hold (ints, floats, names, strings, calls, subscripts, nested lists), written on
one line or with one top-level element per line, in a context real code uses (`x = […]`,
`return […]`, `f([…])`, `np.array([…])`, `assert x == […]`, …). Statements go after a simple
statement (a logical line that does not open a block and is not a decorator) at that statement's
indentation, which keeps the file valid Python; the real code around them gives the left context.
"""

from __future__ import annotations

import io
import random
import tokenize

from .tasks import FUNCS, NAMES, WORDS

# a logical line starting with one of these is a compound statement even when its body shares the line
COMPOUND = {"if", "elif", "else", "for", "while", "try", "except", "finally", "with", "def", "class", "async", "match", "case", "@"}

WRAPPERS = [
    ("{name} = ", ""),
    ("return ", ""),
    ("{func}(", ")"),
    ("{name} = np.array(", ")"),
    ("assert {name} == ", ""),
    ("yield ", ""),
    ("self.assertEqual({name}, ", ")"),
    ("{name}.extend(", ")"),
    ("{name}[{i}] = ", ""),
    ("{name} = {func}({name}, ", ")"),
    ("expected = ", ""),
    ("{name} += ", ""),
]


def _scalar(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.35:
        return str(rng.randint(-9, 99))
    if kind < 0.45:
        return f"{rng.uniform(-10, 10):.{rng.randint(1, 3)}f}"
    if kind < 0.65:
        return rng.choice(NAMES)
    if kind < 0.8:
        q = rng.choice("\"'")
        return f"{q}{rng.choice(WORDS)}{q}"
    if kind < 0.9:
        return f"{rng.choice(FUNCS)}({rng.choice(NAMES)})"
    return f"{rng.choice(NAMES)}[{rng.randint(0, 9)}]"


def _list(rng: random.Random, depth: int) -> str:
    """A list display whose nesting reaches exactly `depth` along at least one element."""
    n = rng.randint(1, 5)
    deep_at = rng.randrange(n)
    parts = []
    for i in range(n):
        if depth > 1 and (i == deep_at or rng.random() < 0.4):
            parts.append(_list(rng, depth - 1 if i == deep_at else rng.randint(1, depth - 1)))
        else:
            parts.append(_scalar(rng))
    return "[" + ", ".join(parts) + "]"


def _multiline(rng: random.Random, depth: int, indent: str) -> str:
    """The same display with one top-level element per line (the closing ] on its own line)."""
    inner = [(_list(rng, depth - 1) if depth > 1 and rng.random() < 0.7 else _scalar(rng)) for _ in range(rng.randint(2, 4))]
    body = "".join(f"{indent}    {e},\n" for e in inner)
    return "[\n" + body + indent + "]"


def statement(rng: random.Random, indent: str) -> str:
    """One list statement at this indentation, ending in a newline."""
    depth = rng.choices([1, 2, 3], weights=[3, 4, 2])[0]
    display = _multiline(rng, depth, indent) if rng.random() < 0.2 else _list(rng, depth)
    head, tail = rng.choice(WRAPPERS)
    fill = dict(name=rng.choice(NAMES), func=rng.choice(FUNCS), i=rng.randint(0, 9))
    return f"{indent}{head.format(**fill)}{display}{tail.format(**fill)}\n"


def insertion_points(text: str) -> list[tuple[int, str]]:
    """(line index after which a statement may go, its indentation) for every simple statement."""
    points = []
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return points
    first = None  # the first token of the current logical line
    prev = None
    for tok in toks:
        if tok.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING):
            continue
        if first is None:
            first = tok
        if tok.type == tokenize.NEWLINE:
            opens_block = prev is not None and prev.string == ":"
            if not opens_block and first.string not in COMPOUND:
                points.append((tok.end[0] - 1, first.line[: first.start[1]]))
            first = None
        prev = tok
    return points


def inject(text: str, rng: random.Random, rate: float) -> tuple[str, int]:
    """The file with a statement after each insertion point with probability `rate`; (text, statements)."""
    points = [p for p in insertion_points(text) if rng.random() < rate]
    if not points:
        return text, 0
    lines = text.split("\n")  # as tokenize counts lines (str.splitlines also breaks at \f, \x1c, …)
    for line, indent in reversed(points):
        lines.insert(line + 1, statement(rng, indent).removesuffix("\n"))
    return "\n".join(lines), len(points)


def _quote_at(string: str) -> int | None:
    """Where the opening quote of a one-line string literal is, if its quotes can swap without changing
    its value: no prefix but r/b/u (an f-string's fields may hold quotes), not triple-quoted, and no
    quote or backslash inside; None otherwise."""
    at = len(string) - len(string.lstrip("rRbBuU"))
    q, body = string[at : at + 1], string[at + 1 : -1]
    simple = q in ('"', "'") and not string[at:].startswith(q * 3) and not any(c in body for c in "\"'\\\n")
    return at if simple else None


def flip_quotes(text: str, rng: random.Random, rate: float) -> tuple[str, int]:
    """The file with each simple string literal's quote type swapped (" ↔ ') with probability `rate`.

    Real files keep to one quote style, so a model can close a string with "the file's quote" and be
    right on real code while ignoring the opener (training/EXPERIMENTS.md, session 10: 80 % when an
    earlier line holds the other type, 97 % on real closes). Mixed styles make only the opener
    predictive. Returns (text, strings flipped); the text stays valid Python with the same values."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return text, 0
    starts = [0]  # offset of each line as tokenize counts lines (str.splitlines also breaks at \f, \x1c, …)
    for line in text.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    out, flipped = list(text), 0
    for tok in toks:
        at = _quote_at(tok.string) if tok.type == tokenize.STRING and tok.start[0] == tok.end[0] else None
        if at is None or rng.random() >= rate:
            continue
        start, end = starts[tok.start[0] - 1] + tok.start[1], starts[tok.end[0] - 1] + tok.end[1]
        other = "'" if text[end - 1] == '"' else '"'
        out[start + at] = out[end - 1] = other
        flipped += 1
    return "".join(out), flipped
