"""Step 1 of the pipeline: corpus → tokenizer → token arrays.

    python -m training.prepare --out training/data [--tokenizer training/runs/depth/tokenizer.json]
    python -m training.prepare --out training/data --add-quotes   # only quotes.bin, from the files there

Writes corpus_{train,val,heldout,sdk}.jsonl, tokenizer.json, token arrays (uint16 ids, documents
separated by <|endoftext|>), corpus.json (the description that goes into the model card) and
golden_tokenizer.json (text → ids vectors for the TypeScript port). The training arrays are the
three sources of the mixture `train.py` draws from:
    train.bin  library code (standard library + site-packages, test suites excluded)
    tests.bin  test suites (site-packages' and the pinned wheels' tests/ folders): list-rich code
    synth.bin  library code with synthetic list statements injected (`synthetic.py`)
    quotes.bin library code with half of its simple strings' quotes swapped (`synthetic.flip_quotes`):
               mixed quote styles, so only a string's opener says how it closes
and val.bin (all validation files), heldout.bin (the held-out package). corpus_sdk.jsonl holds the
"eval" wheels (LLM client SDKs): real code for evaluation only, never tokenized for training.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from . import corpus, sources, synthetic, tokenizer

TOKENIZER_SAMPLE_BYTES = 40_000_000  # BPE merges stabilise long before the whole corpus
SYNTH_RATE = 0.25  # a list statement after a quarter of the simple statements of an injected file
SYNTH_SOURCE_BYTES = 40_000_000  # library code taken (in random order) to inject into
QUOTE_FLIP_RATE = 0.5  # each simple string's quotes swapped with this probability


def encode_files(tok, texts: list[str]) -> np.ndarray:
    eot = tok.token_to_id(tokenizer.EOT)
    ids: list[int] = []
    for enc in tok.encode_batch(texts):
        ids.extend(enc.ids)
        ids.append(eot)
    return np.asarray(ids, dtype=np.uint16)


def sample_texts(files: list[corpus.CorpusFile], max_bytes: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out, size = [], 0
    for f in rng.sample(files, len(files)):
        if size > max_bytes:
            break
        out.append(f.text)
        size += len(f.text)
    return out


def changed_texts(code: list[corpus.CorpusFile], seed: int, change) -> tuple[list[str], int]:
    """A sample of library code (in the order of its own seed), each file through `change(text, rng)`
    (synthetic.py: list statements injected, quotes flipped); (texts, changes made)."""
    rng = random.Random(seed)
    texts, changes = [], 0
    for text in sample_texts(code, SYNTH_SOURCE_BYTES, seed=seed):
        text, n = change(text, rng)
        texts.append(text)
        changes += n
    return texts, changes


def flipped_texts(code: list[corpus.CorpusFile]) -> tuple[list[str], int]:
    """The texts of quotes.bin and the strings flipped."""
    return changed_texts(code, 2, lambda text, rng: synthetic.flip_quotes(text, rng, QUOTE_FLIP_RATE))


def add_quotes(out: Path) -> dict:
    """quotes.bin from an existing corpus_train.jsonl and tokenizer.json (data prepared before it
    existed), and its line in corpus.json."""
    with (out / "corpus_train.jsonl").open() as fh:
        rows = [json.loads(line) for line in fh]
    code = [corpus.CorpusFile("", r["path"], r["text"]) for r in rows]
    texts, flipped = flipped_texts([f for f in code if not f.is_test])
    arr = encode_files(tokenizer.load(out / "tokenizer.json"), texts)
    arr.tofile(out / "quotes.bin")
    line = {"files": len(texts), "bytes": sum(len(t.encode()) for t in texts), "tokens": int(arr.size), "strings_flipped": flipped}
    description = json.loads((out / "corpus.json").read_text())
    description["quotes"] = line
    (out / "corpus.json").write_text(json.dumps(description, indent=2))
    return line


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("training/data"))
    ap.add_argument("--max-train-files", type=int, default=0, help="0 = all (tiny configs use a few)")
    ap.add_argument("--tokenizer", type=Path, help="use this tokenizer.json instead of training one (a run's own, to resume it)")
    ap.add_argument("--add-quotes", action="store_true", help="only write quotes.bin from the corpus and tokenizer already in --out")
    args = ap.parse_args()
    out: Path = args.out
    if args.add_quotes:
        print(json.dumps(add_quotes(out)))
        return
    out.mkdir(parents=True, exist_ok=True)

    sources.fetch()
    train, val = corpus.split(corpus.iter_files() + corpus.iter_wheel_files("tests"))
    heldout, _ = corpus.split(corpus.iter_files(held_out=True))
    sdk, _ = corpus.split(corpus.iter_wheel_files("eval"))
    if args.max_train_files:
        train, val, heldout, sdk = train[: args.max_train_files], val[:20], heldout[:20], sdk[:20]
    for name, files in (("train", train), ("val", val), ("heldout", heldout), ("sdk", sdk)):
        corpus.write_jsonl(files, out / f"corpus_{name}.jsonl")

    tok = tokenizer.load(args.tokenizer) if args.tokenizer else tokenizer.train(sample_texts(train, TOKENIZER_SAMPLE_BYTES, seed=0))
    tok.save(str(out / "tokenizer.json"))

    code = [f for f in train if not f.is_test]
    tests = [f for f in train if f.is_test]
    injected, statements = changed_texts(code, 1, lambda text, rng: synthetic.inject(text, rng, SYNTH_RATE))
    flipped, strings_flipped = flipped_texts(code)

    description = {}
    for name, texts in (
        ("train", [f.text for f in code]),
        ("tests", [f.text for f in tests]),
        ("synth", injected),
        ("quotes", flipped),
        ("val", [f.text for f in val]),
        ("heldout", [f.text for f in heldout]),
    ):
        arr = encode_files(tok, texts)
        arr.tofile(out / f"{name}.bin")
        description[name] = {"files": len(texts), "bytes": sum(len(t.encode()) for t in texts), "tokens": int(arr.size)}
    description["sdk"] = {}
    for name, files in (("train", train), ("val", val), ("heldout", heldout), ("sdk", sdk)):
        description[name]["file_list"] = corpus.describe(files)
    description["synth"]["statements"] = statements
    description["quotes"]["strings_flipped"] = strings_flipped
    description["held_out_package"] = corpus.HELD_OUT_PACKAGE
    description["excluded_packages"] = sorted(corpus.EXCLUDED_PACKAGES)
    description["eval_only_wheels"] = [w.file for w in sources.pinned() if w.role == "eval"]
    description["sources"] = (
        "CPython 3.11 standard library + pinned site-packages (training/requirements.lock) + "
        "the test suites of the pinned wheels in training/extra-sources.lock"
    )
    description["split_pattern"] = tokenizer.SPLIT_PATTERN
    (out / "corpus.json").write_text(json.dumps(description, indent=2))
    tokenizer.write_golden(tok, [f.text[:2000] for f in val[:40]], out / "golden_tokenizer.json")
    print(json.dumps(description, indent=2))


if __name__ == "__main__":
    main()
