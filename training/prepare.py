"""Step 1 of the pipeline: corpus → tokenizer → token arrays.

    python -m training.prepare --out training/data

Writes corpus_{train,val,heldout}.jsonl, tokenizer.json, {train,val,heldout}.bin (uint16 ids,
documents separated by <|endoftext|>), corpus.json (the description that goes into the model card)
and golden_tokenizer.json (text → ids vectors for the TypeScript port).
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from . import corpus, tokenizer

TOKENIZER_SAMPLE_BYTES = 40_000_000  # BPE merges stabilise long before the whole corpus


def encode_files(tok, texts: list[str]) -> np.ndarray:
    eot = tok.token_to_id(tokenizer.EOT)
    ids: list[int] = []
    for enc in tok.encode_batch(texts):
        ids.extend(enc.ids)
        ids.append(eot)
    return np.asarray(ids, dtype=np.uint16)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("training/data"))
    ap.add_argument("--max-train-files", type=int, default=0, help="0 = all (tiny configs use a few)")
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    train, val = corpus.split(corpus.iter_files())
    heldout, _ = corpus.split(corpus.iter_files(held_out=True))
    heldout = [f for f in heldout]  # already disjoint from train/val by package
    if args.max_train_files:
        train, val, heldout = train[: args.max_train_files], val[:20], heldout[:20]
    for name, files in (("train", train), ("val", val), ("heldout", heldout)):
        corpus.write_jsonl(files, out / f"corpus_{name}.jsonl")

    rng = random.Random(0)
    sample, size = [], 0
    for f in rng.sample(train, len(train)):
        if size > TOKENIZER_SAMPLE_BYTES:
            break
        sample.append(f.text)
        size += len(f.text)
    tok = tokenizer.train(sample)
    tok.save(str(out / "tokenizer.json"))

    description = {}
    for name, files in (("train", train), ("val", val), ("heldout", heldout)):
        arr = encode_files(tok, [f.text for f in files])
        arr.tofile(out / f"{name}.bin")
        description[name] = {**corpus.describe(files), "tokens": int(arr.size)}
    description["held_out_package"] = corpus.HELD_OUT_PACKAGE
    description["sources"] = "CPython 3.11 standard library + pinned site-packages (training/requirements.lock)"
    (out / "corpus.json").write_text(json.dumps(description, indent=2))
    tokenizer.write_golden(tok, [f.text[:2000] for f in val[:40]], out / "golden_tokenizer.json")
    print(json.dumps(description, indent=2))


if __name__ == "__main__":
    main()
