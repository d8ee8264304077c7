"""Step 1 of the pipeline: corpus → tokenizer → token arrays.

    python -m training.prepare --out training/data [--tokenizer training/runs/depth/tokenizer.json]

Writes corpus_{train,val,heldout,sdk}.jsonl, tokenizer.json, token arrays (uint16 ids, documents
separated by <|endoftext|>), corpus.json (the description that goes into the model card) and
golden_tokenizer.json (text → ids vectors for the TypeScript port). The training arrays are the
three sources of the mixture `train.py` draws from:
    train.bin  library code (standard library + site-packages, test suites excluded)
    tests.bin  test suites (site-packages' and the pinned wheels' tests/ folders): list-rich code
    synth.bin  library code with synthetic list statements injected (`synthetic.py`)
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("training/data"))
    ap.add_argument("--max-train-files", type=int, default=0, help="0 = all (tiny configs use a few)")
    ap.add_argument("--tokenizer", type=Path, help="use this tokenizer.json instead of training one (a run's own, to resume it)")
    args = ap.parse_args()
    out: Path = args.out
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
    rng = random.Random(1)
    injected, statements = [], 0
    for text in sample_texts(code, SYNTH_SOURCE_BYTES, seed=1):
        text, n = synthetic.inject(text, rng, SYNTH_RATE)
        injected.append(text)
        statements += n

    description = {}
    for name, texts in (
        ("train", [f.text for f in code]),
        ("tests", [f.text for f in tests]),
        ("synth", injected),
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
