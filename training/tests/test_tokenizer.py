import json

from tokenizers import Tokenizer

from training import tokenizer as tk


def test_golden_vectors_match_the_shipped_tokenizer(root):
    tok = Tokenizer.from_file(str(root / "test/fixtures/tokenizer.json"))
    golden = json.loads((root / "test/fixtures/golden_tokenizer.json").read_text())
    assert len(golden) > 40
    for g in golden:
        assert tok.encode(g["text"]).ids == g["ids"], g["text"][:80]


def test_round_trip_and_special_token(root):
    tok = Tokenizer.from_file(str(root / "test/fixtures/tokenizer.json"))
    assert tok.get_vocab_size() == tk.VOCAB_SIZE
    assert tok.token_to_id(tk.EOT) == 2047
    for text in tk.GOLDEN_TEXTS:
        assert tok.decode(tok.encode(text).ids, skip_special_tokens=False) == text


def test_training_a_tokenizer_uses_the_split_regex():
    texts = ["def f(x):\n    return x + 1\n"] * 50 + ["print('hi')\n"] * 50
    tok = tk.train(texts)
    assert tok.token_to_id(tk.EOT) == tok.get_vocab_size() - 1
    assert tok.decode(tok.encode(texts[0]).ids) == texts[0]
    # tinypython's split: a space joins the following word or punctuation run; digits stand alone;
    # brackets are pre-tokens of their own, so ")" and the newline part and "[" never joins a name
    pieces = tok.pre_tokenizer.pre_tokenize_str("x = foo(1)\n")
    assert [p for p, _ in pieces] == ["x", "Ġ=", "Ġfoo", "(", "1", ")", "Ċ"]
    pieces = tok.pre_tokenizer.pre_tokenize_str('y = [[a, "b"]]\n')
    assert [p for p, _ in pieces] == ["y", "Ġ=", "Ġ[", "[", "a", ",", 'Ġ"', "b", '"', "]", "]", "Ċ"]


def test_tinypython_regex_is_kept_for_its_bundles():
    pieces = tk.new_tokenizer(tk.TINYPYTHON_PATTERN).pre_tokenizer.pre_tokenize_str("x = foo(1)\n")
    assert [p for p, _ in pieces] == ["x", "Ġ=", "Ġfoo", "(", "1", ")Ċ"]
