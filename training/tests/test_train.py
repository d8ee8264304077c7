import json

import numpy as np
import torch

from training import train


def _pattern_data(tmp_path):
    """A data folder whose train and val streams repeat one 32-token pattern: learnable in a few steps."""
    data = tmp_path / "data"
    data.mkdir()
    np.tile(np.arange(100, 132, dtype=np.uint16), 400).tofile(data / "train.bin")
    np.tile(np.arange(100, 132, dtype=np.uint16), 50).tofile(data / "val.bin")
    return data


def test_a_few_steps_reduce_the_loss_and_resume(tmp_path):
    data = _pattern_data(tmp_path)
    out = tmp_path / "run"
    train.train("tiny", data, out, total_steps=30, cadence=train.Cadence(eval_every=10, ckpt_every=10), log=lambda *_: None)
    rows = [json.loads(line) for line in (out / "curve.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 30
    vals = [r["val_loss"] for r in rows if "val_loss" in r]
    assert vals[-1] < vals[0] - 0.5, vals
    # resuming a finished run is a no-op that keeps its step count
    train.train("tiny", data, out, total_steps=30, log=lambda *_: None)
    assert len((out / "curve.jsonl").read_text().splitlines()) == 30


def test_a_sparser_cadence_and_a_larger_batch_as_a_gpu_run_asks(tmp_path):
    # a GPU run (training/README.md) evaluates, saves and writes curve rows every few hundred steps
    data = _pattern_data(tmp_path)
    out = tmp_path / "run"
    cadence = train.Cadence(eval_every=10, probe_every=10, ckpt_every=15, curve_every=4)
    train.train("tiny", data, out, total_steps=30, cadence=cadence, batch=8, log=lambda *_: None)
    rows = [json.loads(line) for line in (out / "curve.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [4, 8, 10, 12, 16, 20, 24, 28, 30]
    assert [r["step"] for r in rows if "val_loss" in r] == [10, 20, 30]
    seq = train.CONFIGS["tiny"]["seq"]
    assert {r["tokens"] for r in rows if r["step"] == 30} == {30 * 8 * seq}
    assert train.resume.load_compact(out / train.resume.COMPACT_NAME)[1]["step"] == 30


def test_a_fitted_schedule_ends_within_the_minutes_at_its_own_last_step(tmp_path, monkeypatch):
    # a lent GPU's one call: the schedule is re-timed from the pace of its first steps (here a few of them)
    monkeypatch.setattr(train, "FIT_FROM", 2)
    monkeypatch.setattr(train, "FIT_AFTER", 12)

    class Clock:  # every reading 10 ms after the last: the same pace on any machine
        now = 0.0

        def time(self):
            self.now += 0.01
            return self.now

    monkeypatch.setattr(train, "time", Clock())
    data = _pattern_data(tmp_path)
    out = tmp_path / "run"
    cadence = train.Cadence(eval_every=10**6, ckpt_every=10**6, curve_every=1)
    train.train("tiny", data, out, total_steps=10**7, minutes=0.05, cadence=cadence, fit=True, log=lambda *_: None)
    meta = train.resume.load_compact(out / train.resume.COMPACT_NAME)[1]
    rows = [json.loads(line) for line in (out / "curve.jsonl").read_text().splitlines()]
    assert 12 < meta["total_steps"] < 10**7
    assert rows[-1]["step"] == meta["step"] == meta["total_steps"]  # the schedule's end, not the time budget's cut
    assert "val_loss" in rows[-1]


def test_focused_windows_hold_their_answer_as_a_target_after_enough_context(tmp_path):
    np.arange(5000, dtype=np.uint16).tofile(tmp_path / "train.bin")  # every token is its own position
    answers = {"rare": np.array([100, 2500, 4990]), "none": np.array([], dtype=np.int64)}
    b = train.Batches(tmp_path / "train.bin", batch=64, seq=128, seed=0, focus=answers, focus_frac=1.0)
    _, y = b.next()
    for row in y.tolist():
        at = [i for i, pos in enumerate(row) if pos in answers["rare"]]
        assert len(at) == 1 and at[0] >= train.FOCUS_CONTEXT - 1, (row[0], at)
    assert train.Batches(tmp_path / "train.bin", batch=4, seq=128, seed=0).focus_frac == 0.0


def test_fine_tune_starts_from_the_run_and_keeps_its_density(tmp_path):
    data = _pattern_data(tmp_path)
    base = train.train("tiny", data, tmp_path / "base", total_steps=30, log=lambda *_: None)
    fine = train.train(
        "tiny", data, tmp_path / "fine", total_steps=5, log=lambda *_: None, finetune={"init_from": str(tmp_path / "base"), "lr_scale": 0.0, "focus_frac": 0.0}
    )
    rows = [json.loads(line) for line in (tmp_path / "fine" / "curve.jsonl").read_text().splitlines()]
    assert {r["density"] for r in rows} == {train.CONFIGS["tiny"]["density"]}
    # learning rate 0: the fine-tuned weights are the base run's, sparse pattern and all
    for (name, p), q in zip(base.state_dict().items(), fine.state_dict().values()):
        assert torch.equal(p, q), name


def test_fine_tune_starts_from_a_run_that_has_only_its_compact_resume_file(tmp_path):
    # a fresh checkout holds a run's resume.pt, not its checkpoint.pt
    data = _pattern_data(tmp_path)
    train.train("tiny", data, tmp_path / "base", total_steps=30, log=lambda *_: None)
    (tmp_path / "base" / "checkpoint.pt").unlink()
    compact, _ = train.resume.load_compact(tmp_path / "base" / train.resume.COMPACT_NAME)
    fine = train.train(
        "tiny", data, tmp_path / "fine", total_steps=5, log=lambda *_: None, finetune={"init_from": str(tmp_path / "base"), "lr_scale": 0.0, "focus_frac": 0.0}
    )
    for name, q in fine.state_dict().items():
        assert torch.equal(compact[name], q), name
