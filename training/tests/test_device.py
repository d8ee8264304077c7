"""training/device.sh's run on the GPU machine, tried here on the CPU: packed arrays in, the run's
compact resume file, curve and log out (the device gives back only what lands in $OUT)."""

import json
import lzma
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

from training import resume

ROOT = Path(__file__).resolve().parents[2]
PACKED_FILES = ["train.bin", "tests.bin", "synth.bin", "quotes.bin", "val.bin", "tokenizer.json", "corpus_heldout.jsonl", "corpus_val.jsonl"]


def packed_machine(tmp_path):
    """Packed arrays of a repeating pattern, and the environment of the device machine's call, on the CPU."""
    packed, data, out = tmp_path / "packed", tmp_path / "data", tmp_path / "out"
    packed.mkdir()
    out.mkdir()
    pattern = np.tile(np.arange(100, 132, dtype=np.uint16), 400).tobytes()
    for name in PACKED_FILES:
        (packed / f"{name}.xz").write_bytes(lzma.compress(pattern if name.endswith(".bin") else b"{}"))
    env = os.environ | {"OUT": str(out), "PACKED": str(packed), "DATA": str(data), "DEVICE": "cpu", "PY": sys.executable}
    return env, data, out, pattern


def unpacked_run(out: Path, name: str, into: Path) -> Path:
    with tarfile.open(out / f"{name}.tar") as tar:
        tar.extractall(into / name, filter="data")
    return into / name


TINY = "--config tiny --steps 20 --eval-every 10 --curve-every 5"


def test_train_unpacks_the_arrays_and_leaves_the_resume_file_curve_and_log_in_out(tmp_path):
    env, data, out, pattern = packed_machine(tmp_path)
    run = subprocess.run(["bash", "training/device.sh", "train", "tiny-run", *TINY.split()], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["tiny-run.tar"]
    assert (data / "train.bin").read_bytes() == pattern
    got = unpacked_run(out, "tiny-run", tmp_path)
    assert sorted(p.name for p in got.iterdir()) == ["curve.jsonl", "resume.pt", "train.log"]
    steps = [json.loads(line)["step"] for line in (got / "curve.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20]
    assert resume.load_compact(got / "resume.pt")[1]["step"] == 20
    assert "training on cpu" in (got / "train.log").read_text()
    assert "training on cpu" in run.stdout


def test_a_plan_runs_its_lines_at_once_and_a_failed_run_still_returns_its_log(tmp_path):
    env, _, out, _ = packed_machine(tmp_path)
    plan = tmp_path / "plan"
    plan.write_text(f"first {TINY}\n\nsecond {TINY} --curve-every 10\nbroken --config no-such-config\n")
    run = subprocess.run(["bash", "training/device.sh", "plan", str(plan)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["broken.tar", "first.tar", "second.tar"]
    assert [json.loads(line)["step"] for line in (unpacked_run(out, "second", tmp_path) / "curve.jsonl").read_text().splitlines()] == [10, 20]
    assert resume.load_compact(unpacked_run(out, "first", tmp_path) / "resume.pt")[1]["step"] == 20
    broken = unpacked_run(out, "broken", tmp_path)
    assert sorted(p.name for p in broken.iterdir()) == ["train.log"]
    assert "invalid choice: 'no-such-config'" in (broken / "train.log").read_text()
    assert "first: done" in run.stdout and "second: done" in run.stdout and "broken: failed" in run.stdout
