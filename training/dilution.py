"""The bracket circuit's predicted failure: context dilution (Gao et al. 2025, §bracket counting).

    python -m training.dilution --bundle models/pysparse-depth [--write-examples docs/examples]

A model that reads list depth by averaging "how many `[` against `]`" over the visible context
(one attention head writing the mean into the residual stream) loses the count when the context
holds many other brackets: a long flat list before a nested one dilutes the nested one's opening
`[[`, and a long nested list dilutes its own. This sweeps both lengths and prints, per length, the
logit difference nested − flat at the list's end (after its first `]`: another `]` against the end
of the line, the bracket task's contrast) and whether the model still gets it right.

With --write-examples, the shortest length at which each sweep flips is written as a Python file,
so the failure can be shown with the CLI (`circuit-inspector analyze FILE --at L:C`) and in the editor.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .realcode import onnx_diffs
from .tasks import first_difference
from .tokenizer import load as load_tokenizer

LENGTHS = (0, 2, 4, 8, 12, 16, 20, 24, 28, 32, 48, 64, 96)


def flat_then_nested(n: int) -> tuple[str, str, str]:
    """A flat list of n numbers, then a nested list that must close with "]]"."""
    flat = f"values = [{', '.join(str(i) for i in range(n))}]\n" if n else ""
    return flat + "pairs = [[1, 2], [3, 4", "]]\n", "]\n"


def long_nested(n: int) -> tuple[str, str, str]:
    """A nested list of n + 1 pairs on one line: the last pair's close must be followed by "]"."""
    pairs = "".join(f"[{2 * i}, {2 * i + 1}], " for i in range(n))
    return f"pairs = [{pairs}[{2 * n}, {2 * n + 1}", "]]\n", "]\n"


def long_inner(n: int) -> tuple[str, str, str]:
    """One inner list of n + 2 numbers: the only sign of depth 2 is the "[[" that opened it."""
    return f"rows = [[{', '.join(str(i) for i in range(n + 2))}", "]]\n", "]\n"


def nested_then_flat(n: int) -> tuple[str, str, str]:
    """A nested list of n pairs, then a flat list that must end its line after one "]"."""
    nested = f"pairs = [{', '.join(f'[{2 * i}, {2 * i + 1}]' for i in range(n))}]\n" if n else ""
    return nested + "values = [1, 2, 3", "]\n", "]]\n"


SWEEPS = {
    "flat list before a nested one": flat_then_nested,
    "long nested list": long_nested,
    "long inner list": long_inner,
    "nested list before a flat one": nested_then_flat,
}
SLUGS = ("flat_before_nested", "long_nested", "long_inner", "nested_before_flat")  # example file names, in SWEEPS' order


def sweep(diffs, tok, block: int) -> dict[str, list[dict]]:
    """Per sweep and length: the logit difference true − wrong at the contrast token (> 0: right)."""
    out = {}
    for name, make in SWEEPS.items():
        rows = []
        for n in LENGTHS:
            left, true_rest, alt_rest = make(n)
            prompt = first_difference(tok, left, true_rest, alt_rest, block)
            if prompt is None:
                continue
            diff = float(diffs([prompt])[0])
            rows.append({"length": n, "tokens": len(prompt[0]), "logit_diff": round(diff, 3), "right": diff > 0})
        out[name] = rows
    return out


def clearest_flip(rows: list[dict]) -> dict | None:
    """The length read most wrongly: the first flip can sit at a margin of −0.0, which the line before it
    in an example file (the base case) is enough to turn back."""
    wrong = [r for r in rows if not r["right"]]
    return min(wrong, key=lambda r: r["logit_diff"]) if wrong else None


def write_examples(results: dict[str, list[dict]], folder: Path) -> list[Path]:
    """For each sweep that flips, a file whose first line is the clearest flipping case, with nothing before
    it as the sweep scores it (a line above it is context: the base case, and even a comment line, made the
    shipped model right there), and after it a comment with the base case's margin."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for (name, make), slug in zip(SWEEPS.items(), SLUGS):
        flipped = clearest_flip(results[name])
        if flipped is None:
            continue
        base = next(r for r in results[name] if r["length"] == 0)
        left, rest, _ = make(flipped["length"])
        path = folder / f"dilution_{slug}.py"
        path.write_text(
            f"{left}{rest}"
            f"# {name}: right at length 0 (right − wrong logit {base['logit_diff']:+.1f}), wrong at length {flipped['length']} ({flipped['logit_diff']:+.1f})\n"
        )
        written.append(path)
    return written


def card_text(results: dict[str, list[dict]]) -> str:
    """One model-card line per sweep: the shortest length read wrongly and the most wrongly read one, or the
    longest read rightly."""
    lines = []
    for name, rows in results.items():
        flipped, worst = next((r for r in rows if not r["right"]), None), clearest_flip(rows)
        if flipped is None:
            lines.append(f"- {name}: right at every length up to {rows[-1]['length']} elements ({rows[-1]['tokens']} tokens).")
            continue
        line = f"- {name}: wrong from {flipped['length']} elements ({flipped['tokens']} tokens; right − wrong logit {flipped['logit_diff']:+.1f})"
        if worst is not flipped:
            line += f", most wrong at {worst['length']} ({worst['logit_diff']:+.1f})"
        right_later = [r["length"] for r in rows if r["right"] and r["length"] > flipped["length"]]
        if right_later:
            line += f"; right again at {', '.join(map(str, right_later))}"
        lines.append(line + ".")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--write-examples", type=Path, help="folder for one Python file per sweep that flips")
    args = ap.parse_args()
    diffs, block = onnx_diffs(args.bundle)
    results = sweep(diffs, load_tokenizer(args.bundle / "tokenizer.json"), block)
    print(json.dumps(results, indent=1))
    if args.write_examples:
        for path in write_examples(results, args.write_examples):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
