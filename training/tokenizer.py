"""Byte-level BPE with tinypython_2k's split regex — brackets apart — trained with Hugging Face `tokenizers`.

Departure from tinypython_2k: each of `( ) [ ] { }` is a pre-token of its own (optionally after one
space), so BPE never merges a bracket with its neighbours. With tinypython_2k's regex the same depth
change is a different token in every context (` [[`, `([[`, `][`, `]])\n`, `"]`, `)]\n`, … ~17 openers
and ~18 closers), and `]]\n` splits as `]` + `]\n`, so "close one more bracket" was confounded with
"the line ends here". Now every `[` is +1 and every `]` −1. Cost: a few percent more tokens.

2047 merges-derived entries plus `<|endoftext|>` as id 2047, as in the paper's tokenizer.
The TypeScript port in src/core/tokenizer.ts must reproduce these ids exactly; the golden
vectors written by `golden_vectors` are checked in both test suites.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

VOCAB_SIZE = 2048
EOT = "<|endoftext|>"
# tinypython_2k's split pattern (openai/circuit_sparsity tiktoken_ext/tinypython.py): the shipped
# pysparse-l2d128 bundle's tokenizer, and the one OpenAI's released models use
TINYPYTHON_PATTERN = r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
# the same with brackets as pre-tokens of their own: excluded from the letter-run prefix and the
# punctuation run, and matched alone (after an optional space)
SPLIT_PATTERN = r"[^\r\n\p{L}\p{N}\[\](){}]?\p{L}+|\p{N}{1,3}| ?[\[\](){}]| ?[^\s\p{L}\p{N}\[\](){}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def new_tokenizer(pattern: str = SPLIT_PATTERN) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    return tok


def train(texts: Iterable[str], pattern: str = SPLIT_PATTERN) -> Tokenizer:
    tok = new_tokenizer(pattern)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - 1,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_special_tokens([EOT])
    assert tok.token_to_id(EOT) == tok.get_vocab_size() - 1  # 2047 on a corpus large enough for 2047 merges
    return tok


def load(path: Path) -> Tokenizer:
    return Tokenizer.from_file(str(path))


def token_id(tok: Tokenizer, text: str) -> int:
    """The id of a string that must be exactly one token (e.g. '")')."""
    ids = tok.encode(text).ids
    if len(ids) != 1:
        raise ValueError(f"{text!r} is not a single token: {ids}")
    return ids[0]


GOLDEN_TEXTS = [
    "",
    "x = 1\n",
    'print("hello, world")\n',
    "values = [[5, 3, 11, 3, 12], [1]]\n",
    "def f(a, b=None):\n    return {'k': a}  # comment\n",
    "s = f'{x!r:>10}' + \"\\n\"\r\n\tif x == True :\n",
    "café = 'naïve' ; λ = 3.14159e-10\n",
    "    \n\n\n   x\t\t\n",
    "emoji = '🐍🚀'  # astral plane\n",
    "while True:\n    pass\n<|endoftext|>",
    "a" * 300,
    "1234567 89 0.5\n",
]


def golden_vectors(tok: Tokenizer, corpus_samples: list[str]) -> list[dict]:
    out = []
    for text in GOLDEN_TEXTS + corpus_samples:
        enc = tok.encode(text)
        out.append({"text": text, "ids": enc.ids})
    return out


def write_golden(tok: Tokenizer, corpus_samples: list[str], path: Path) -> None:
    path.write_text(json.dumps(golden_vectors(tok, corpus_samples), ensure_ascii=False, indent=0))
