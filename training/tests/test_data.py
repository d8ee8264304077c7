"""The data and measurement pieces of issue 16's recipe: synthetic list statements, flipped quotes, real-code
contrasts, the compact resume file and the late-sparsity schedule."""

import ast
import random

import torch

from training import evaluate, realcode, resume, synthetic, tasks, train
from training import tokenizer as tk
from training.model import GPT, GPTConfig

SOURCE = '''import os


@decorator
def f(a, b=[1, 2]):
    x = g(a)  # a comment with ] and "
    if x: return [x]
    try: y = 1
    except ValueError: pass
    s = """a docstring
    with [ lines ]
    """
    return [[a, b], x[0]]


class C:
    values = {"k": ['v', "w"]}
'''


def test_injected_statements_keep_the_file_valid_python_and_reach_each_depth():
    rng = random.Random(0)
    depths = set()
    for _ in range(200):
        text, n = synthetic.inject(SOURCE, rng, 0.5)
        ast.parse(text)
        new = [line for line in text.split("\n") if line not in SOURCE.split("\n")]
        for line in new:
            depth = max_depth = 0
            for ch in line:
                depth += (ch == "[") - (ch == "]")
                max_depth = max(max_depth, depth)
            depths.add(max_depth)
    assert {1, 2, 3} <= depths


def test_no_statement_goes_inside_a_block_header_a_decorator_or_a_string():
    points = synthetic.insertion_points(SOURCE)
    lines = SOURCE.split("\n")
    after = [lines[i].strip() for i, _ in points]
    assert "@decorator" not in after and "if x: return [x]" not in after and "try: y = 1" not in after
    assert all(not line.startswith("with [") for line in after)
    assert ('    x = g(a)  # a comment with ] and "', "    ") in [(lines[i], ind) for i, ind in points]


QUOTED = """x = "abc" + 'd\f' + r"e" + f"{x!r}" + "it's" + '''doc''' + "a\\"b"
y = b'q'  # "a comment"
z = ""
"""


def test_flipped_quotes_keep_every_value_and_skip_what_cannot_flip():
    text, n = synthetic.flip_quotes(QUOTED, random.Random(0), 1.0)
    assert n == 5  # "abc", 'd', r"e", b'q', "" — not the f-string, "it's", the triple-quoted or the escaped one
    assert ast.dump(ast.parse(text)) == ast.dump(ast.parse(QUOTED))
    assert "x = 'abc' + \"d\f\" + r'e' + f\"{x!r}\"" in text and 'y = b"q"  # "a comment"' in text and "z = ''" in text
    assert synthetic.flip_quotes(QUOTED, random.Random(0), 0.0) == (QUOTED, 0)


def test_real_cases_classify_nested_and_flat_closes_and_one_line_strings():
    kinds = [(c.kind, c.true_rest, c.alt_rest) for c in realcode.cases(SOURCE)]
    # "return [[a, b], x[0]]": ], ] (nested: another ] follows) and the last ] (flat)
    assert ("nested", "]]\n", "]\n") in kinds
    assert ("flat", "]\n", "]]\n") in kinds
    assert ("flat", "], x[0]]\n", "]], x[0]]\n") in kinds
    quotes = [(k, t) for k, t, _ in kinds if k in ("double", "single")]
    assert ("single", '\', "w"]}\n') in quotes and ("double", '"]}\n') in quotes
    assert not any("docstring" in t for _, t in quotes)  # triple-quoted strings are not one-line cases


def test_mixed_quote_cases_hold_both_classes_where_the_code_holds_one():
    # black-formatted code: double-quoted one-line strings only, the case the mixed source is for
    black = "".join(f'x{i} = "v{i}"\nprint("w{i}")\n' for i in range(40))
    assert {c.kind for c in realcode.cases(black)} == {"double"}
    picked = evaluate.mixed_quote_cases([black])
    assert not picked["nested"] and not picked["flat"]
    double, single = len(picked["double"]), len(picked["single"])
    assert double + single == 80 and 25 <= single <= 55, (double, single)  # each string's type drawn at ½
    for c in picked["single"]:
        assert c.text[c.at] == "'" and c.alt_rest[0] == '"'  # the true close is the flipped string's own quote
        ast.parse(c.text)


def test_ablated_figures_put_the_first_source_first():
    assert evaluate.ablated_text(None) == "—"
    both = {evaluate.MIXED_QUOTES: 0.5102, "heldout": 0.7}
    assert evaluate.ablated_text(both) == "51.0 % (heldout: 70.0 %)"
    assert evaluate.ablated_text({"heldout": 0.6}) == "60.0 %"


def test_first_difference_finds_the_tokenizer_own_contrast():
    tok = tk.train([SOURCE * 3, 'x = [[1, 2], [3]]\nprint("a")\n' * 40])
    prompt, true_id, alt_id = tasks.first_difference(tok, "x = [[1, 2], [3", "]]\n", "]\n")
    assert tok.decode([true_id]) == "]" and tok.decode([alt_id]) == "\n"  # after the first ]
    assert tok.decode(prompt).endswith("[3]")
    # a contrast that BPE merges into the left context is not the task's: an empty string's quotes
    found = tasks.first_difference(tok, 'x = "', '"\n', "'\n")
    assert found is None or tok.decode(found[0]).endswith('x = "')


def test_the_paper_form_of_the_tasks_holds_one_string_or_one_list_statement():
    tok = tk.train([SOURCE * 3, "print(\"a b\")\nx.get('c d')\n" * 40])
    built = tasks.build_tasks(tok, [SOURCE], n_train=64, n_test=32)
    paper = built["single_double_quote_paper"]
    assert len(paper.train) == 64 and len(paper.test) == 32
    for e in paper.train + paper.test:
        text = tok.decode(e.prompt)
        opener = [ch for ch in text if ch in "\"'"]
        assert len(opener) == 1 and "\n" not in text  # one line: the call and its string alone
        assert tok.decode([e.correct]).startswith(opener[0]) and not tok.decode([e.wrong]).startswith(opener[0])
    # the same contrast as the editor's task: one prediction per token whichever circuit is open
    assert paper.classes == built["single_double_quote"].classes and paper.scope == built["single_double_quote"].scope
    assert {e.correct for e in paper.train} <= {t["id"] for c in paper.classes for t in c["tokens"]}
    lists = built["bracket_counting_paper"]
    for e in lists.train + lists.test:
        text = tok.decode(e.prompt)
        assert "\n" not in text  # the list statement alone (prompts keep its last tokens): no earlier line
    assert lists.classes == built["bracket_counting"].classes and lists.scope == built["bracket_counting"].scope


def test_compact_resume_file_round_trips_sparse_and_dense_weights(tmp_path):
    gpt = GPT(GPTConfig(n_layer=1, d_model=32, n_head=2, d_head=16, d_mlp=64, block_size=64))
    with torch.no_grad():
        w = gpt.transformer.h[0].mlp.c_fc.weight
        w.mul_((torch.rand_like(w) < 0.1).float())
    resume.save_compact(gpt, {"step": 7}, tmp_path / "r.pt")
    state, meta = resume.load_compact(tmp_path / "r.pt")
    assert meta == {"step": 7}
    assert torch.equal(state["transformer.h.0.mlp.c_fc.weight"], w)  # sparse: exact
    ln = gpt.transformer.h[0].ln_1.weight
    assert torch.allclose(state["transformer.h.0.ln_1.weight"], ln, atol=1e-3)  # dense: fp16
    # a matrix a third nonzero (halfway through density annealing) is smaller as fp16 than as indices + values
    with torch.no_grad():
        w.copy_(torch.randn_like(w) * (torch.rand_like(w) < 1 / 3).float())
    resume.save_compact(gpt, {"step": 8}, tmp_path / "r.pt")
    saved = torch.load(tmp_path / "r.pt", weights_only=True)["tensors"]["transformer.h.0.mlp.c_fc.weight"]
    assert "dense" in saved and saved["dense"].dtype == torch.float16
    assert torch.allclose(resume.load_compact(tmp_path / "r.pt")[0]["transformer.h.0.mlp.c_fc.weight"], w, atol=1e-2, rtol=1e-3)


def test_the_depth_schedule_starts_dense_without_abstopk_and_ends_at_the_targets():
    spec = train.CONFIGS["depth"]
    s = train.Schedule(spec, 1000, None)
    assert (s.density(0), s.afrac(0), s.bigram_on(0)) == (1.0, 1.0, False)
    assert (s.density(250), s.afrac(250)) == (1.0, 1.0)
    assert 1 / 16 < s.density(400) < 1 and 0.25 < s.afrac(400) < 1
    assert (s.density(600), s.afrac(600), s.bigram_on(600)) == (1 / 16, 0.25, True)
    old = train.Schedule(train.CONFIGS["small"], 1000, None)
    assert old.afrac(0) == 0.25 and old.density(0) == 1.0 and old.density(500) == 1 / 16 and old.bigram_on(0)


def test_a_finetune_anneals_the_kept_fraction_from_its_parents_when_asked_and_is_sparse_throughout():
    finetune = {"init_from": "parent", "lr_scale": 0.25, "focus_frac": 0.0, "afrac_from": 0.5, "afrac_until": 0.5}
    s = train.Schedule(train.CONFIGS["depth-quotes"], 1000, finetune)
    assert (s.afrac(0), s.afrac(250), s.afrac(500), s.afrac(999)) == (0.5, 0.375, 0.25, 0.25)
    assert s.density(0) == s.density(999) == 1 / 16
    switched = train.Schedule(train.CONFIGS["depth-quotes"], 1000, {k: finetune[k] for k in ("init_from", "lr_scale", "focus_frac")})
    assert switched.afrac(0) == 0.25


def test_a_finetune_anneals_the_density_from_its_parents_when_asked():
    finetune = {"init_from": "parent", "lr_scale": 0.25, "focus_frac": 0.0, "density_from": 1 / 16, "density_until": 0.5}
    s = train.Schedule(train.CONFIGS["depth-half-sparse"], 1000, finetune)
    assert (s.density(0), s.density(250), s.density(500), s.density(999)) == (1 / 16, 3 / 64, 1 / 32, 1 / 32)
    assert s.afrac(0) == s.afrac(999) == 0.5
    # the learning rate follows the current density (× 1/√density), as in the from-scratch schedule
    assert s.lr(250) == train.lr_at(250, 1000, train.CONFIGS["depth-half-sparse"]["lr"] * 0.25, 3 / 64)


def test_a_resume_with_fresh_optimizer_moments_ramps_the_learning_rate_up_again():
    spec = train.CONFIGS["depth"]
    plain, rewarmed = train.Schedule(spec, 1000, None), train.Schedule(spec, 1000, None, rewarm_from=400)
    assert rewarmed.lr(400) == plain.lr(400) / train.REWARM_STEPS
    assert plain.lr(450) / 2 < rewarmed.lr(450) < plain.lr(450)
    assert rewarmed.lr(400 + train.REWARM_STEPS) == plain.lr(400 + train.REWARM_STEPS)
