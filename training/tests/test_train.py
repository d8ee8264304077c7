import json

import numpy as np

from training import train


def test_a_few_steps_reduce_the_loss_and_resume(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    # a learnable stream: a repeating 32-token pattern
    np.tile(np.arange(100, 132, dtype=np.uint16), 400).tofile(data / "train.bin")
    np.tile(np.arange(100, 132, dtype=np.uint16), 50).tofile(data / "val.bin")
    out = tmp_path / "run"
    train.train("tiny", data, out, total_steps=30, eval_every=10, ckpt_every=10, log=lambda *_: None)
    rows = [json.loads(line) for line in (out / "curve.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 30
    vals = [r["val_loss"] for r in rows if "val_loss" in r]
    assert vals[-1] < vals[0] - 0.5, vals
    # resuming a finished run is a no-op that keeps its step count
    train.train("tiny", data, out, total_steps=30, log=lambda *_: None)
    assert len((out / "curve.jsonl").read_text().splitlines()) == 30
