"""training/device.sh's run on the GPU machine, tried here on the CPU: packed arrays in, the run's
compact resume file, curve and log out (the device gives back only what lands in $OUT)."""

import json
import lzma
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from training import resume

ROOT = Path(__file__).resolve().parents[2]
PACKED_FILES = ["train.bin", "tests.bin", "synth.bin", "quotes.bin", "val.bin", "tokenizer.json", "corpus_heldout.jsonl", "corpus_val.jsonl"]


def test_train_unpacks_the_arrays_and_leaves_the_resume_file_curve_and_log_in_out(tmp_path):
    packed, data, out = tmp_path / "packed", tmp_path / "data", tmp_path / "out"
    packed.mkdir()
    out.mkdir()
    pattern = np.tile(np.arange(100, 132, dtype=np.uint16), 400).tobytes()
    for name in PACKED_FILES:
        (packed / f"{name}.xz").write_bytes(lzma.compress(pattern if name.endswith(".bin") else b"{}"))
    env = os.environ | {"OUT": str(out), "PACKED": str(packed), "DATA": str(data), "DEVICE": "cpu", "PY": sys.executable}
    args = ["--config", "tiny", "--steps", "20", "--eval-every", "10", "--curve-every", "5"]
    run = subprocess.run(["bash", "training/device.sh", "train", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["curve.jsonl", "resume.pt", "train.log"]
    assert (data / "train.bin").read_bytes() == pattern
    steps = [json.loads(line)["step"] for line in (out / "curve.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20]
    assert resume.load_compact(out / "resume.pt")[1]["step"] == 20
    assert "training on cpu" in (out / "train.log").read_text()
