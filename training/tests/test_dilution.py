"""The context-dilution sweep: its prompts put the bracket task's contrast where the task does, and
its example files hold exactly the case at which the model first goes wrong."""

from pathlib import Path

import pytest

from training import dilution
from training.realcode import onnx_diffs
from training.tasks import first_difference
from training.tokenizer import load as load_tokenizer


@pytest.fixture(scope="module")
def bundle(root: Path) -> Path:
    shipped = sorted(p.parent for p in root.glob("models/*/manifest.json") if (p.parent / "tokenizer.json").exists())
    if not shipped:
        pytest.skip("no bundle under models/")
    return shipped[0]


def test_every_prompt_ends_after_the_first_close_and_contrasts_another_close(bundle):
    tok = load_tokenizer(bundle / "tokenizer.json")
    close = tok.token_to_id("]")
    for name, make in dilution.SWEEPS.items():
        for n in (0, 8):
            left, true_rest, alt_rest = make(n)
            ids, true_id, alt_id = first_difference(tok, left, true_rest, alt_rest, 256)
            assert ids[-1] == close, name  # the list's first "]" is already there
            nested = true_rest == "]]\n"
            assert (true_id if nested else alt_id) == close, name


def test_examples_are_written_for_the_sweeps_that_flip_at_the_most_wrong_length(bundle, tmp_path):
    diffs, block = onnx_diffs(bundle)
    results = dilution.sweep(diffs, load_tokenizer(bundle / "tokenizer.json"), block)
    assert set(results) == set(dilution.SWEEPS)
    written = {p.name: p.read_text() for p in dilution.write_examples(results, tmp_path)}
    for (name, make), slug in zip(dilution.SWEEPS.items(), dilution.SLUGS):
        wrong = sorted((r["logit_diff"], r["length"]) for r in results[name] if not r["right"])
        assert (f"dilution_{slug}.py" in written) == bool(wrong)
        if wrong:
            left, rest, _ = make(wrong[0][1])
            # the case first, with nothing before it (a line above would be its context), then one comment line
            text = written[f"dilution_{slug}.py"]
            assert text.startswith(left + rest) and text[len(left + rest) :].count("\n") == 1


def test_card_text_names_the_first_and_the_most_wrong_length_or_says_none():
    rows = [
        {"length": 0, "tokens": 9, "logit_diff": 2.0, "right": True},
        {"length": 8, "tokens": 30, "logit_diff": -0.5, "right": False},
        {"length": 12, "tokens": 42, "logit_diff": -3.0, "right": False},
        {"length": 48, "tokens": 150, "logit_diff": 0.7, "right": True},
    ]
    text = dilution.card_text({"long inner list": rows, "long nested list": rows[:1]})
    assert "long inner list: wrong from 8 elements (30 tokens; right − wrong logit -0.5), most wrong at 12 (-3.0); right again at 48." in text
    assert "long inner list: wrong from 8 elements (30 tokens; right − wrong logit -0.5)." in dilution.card_text({"long inner list": rows[:2]})
    assert "long nested list: right at every length up to 0 elements (9 tokens)" in text
