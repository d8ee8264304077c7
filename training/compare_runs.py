"""Several training runs side by side: validation loss, task accuracy and held-out accuracy.

    python -m training.compare_runs --run training/runs/pos --run training/runs/nopos --out comparison.json

What the model card reports for the shipped run, for any runs (e.g. issue 3's learned position
embedding against none, trained for the same steps).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from tokenizers import Tokenizer

from . import tasks as tasks_mod
from .corpus import read_jsonl
from .evaluate import model_metrics, real_code_cases
from .export import load_run, round_bigram_fp16_


def measure(run: Path, tok, all_tasks, cases: dict) -> dict:
    gpt, info = load_run(run)
    round_bigram_fp16_(gpt)
    info.pop("curve")  # the runs' own curve.jsonl files hold it
    return {"run": str(run), **info, **model_metrics(gpt, tok, all_tasks, cases)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, action="append", required=True)
    ap.add_argument("--data", type=Path, default=Path("training/data"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tok = Tokenizer.from_file(str(args.data / "tokenizer.json"))
    all_tasks = tasks_mod.build_tasks(tok, read_jsonl(args.data / "corpus_val.jsonl"))
    cases = real_code_cases(args.data)  # read once: every run is scored on the same cases
    runs = [measure(run, tok, all_tasks, cases) for run in args.run]
    args.out.write_text(json.dumps({"command": "python -m training.compare_runs " + " ".join(f"--run {r}" for r in args.run), "runs": runs}, indent=1))
    for r in runs:
        accs = ", ".join(f"{k} {v['accuracy'] * 100:.1f} %" for k, v in r["tasks"].items())
        real = "; ".join(
            f"{src}: bracket {f['bracket']['balanced'] * 100:.1f} % balanced, quote {f['quote']['balanced'] * 100:.1f} %" for src, f in r["real_code"].items()
        )
        print(f"{r['run']}: {r['steps']} steps, val loss {r['val_loss']}; {accs}; real code: {real}")


if __name__ == "__main__":
    main()
