import json

import numpy as np
import pytest

from training import train
from training.model import n_nodes


@pytest.fixture
def task_data(tmp_path, root):
    """A data folder with the shipped tokenizer, validation files for the tasks' real examples (this
    package's own Python) and token streams that repeat one pattern."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "tokenizer.json").write_text((root / "models/pysparse-depth/tokenizer.json").read_text())
    sources = sorted((root / "training").glob("*.py"))[:12]
    (data / "corpus_val.jsonl").write_text("".join(json.dumps({"path": p.name, "text": p.read_text()}) + "\n" for p in sources))
    np.tile(np.arange(100, 132, dtype=np.uint16), 400).tofile(data / "train.bin")
    np.tile(np.arange(100, 132, dtype=np.uint16), 50).tofile(data / "val.bin")
    return data


def _finetune(base, coef: float) -> dict:
    spec = train.ConcentrateSpec({"single_double_quote": coef, "bracket_counting": coef}, refresh_every=10)
    return {"init_from": str(base), "lr_scale": 1.0, "focus_frac": 0.0, "concentrate": spec.to_dict()}


def test_a_concentrating_finetune_closes_task_masks_and_resumes_them(tmp_path, task_data):
    train.train("tiny", task_data, tmp_path / "base", total_steps=10, log=lambda *_: None)
    out = tmp_path / "fine"
    cadence = train.Cadence(eval_every=20, ckpt_every=20)
    train.train("tiny", task_data, out, total_steps=100, cadence=cadence, log=lambda *_: None, finetune=_finetune(tmp_path / "base", 0.05))
    rows = [json.loads(line) for line in (out / "curve.jsonl").read_text().splitlines()]
    N = n_nodes(train.CONFIGS["tiny"]["model"])
    first, last = rows[0]["concentrate"], rows[-1]["concentrate"]
    for task in ("single_double_quote", "bracket_counting"):
        assert first[task]["open"] == N  # τ starts at 0.3 for every node
        assert last[task]["open"] < N // 2, last  # λ 0.05 a node shuts most of them in 100 steps (τ moves ≤ the learning rate a step)
        assert np.isfinite(last[task]["task_loss"])
    # the masks travel with the compact resume file, and a resumed run starts from them
    meta = train.resume.load_compact(out / train.resume.COMPACT_NAME)[1]
    saved = meta["taus"]
    assert sum(t > 0 for t in saved["bracket_counting"]) == last["bracket_counting"]["open"]
    (out / "checkpoint.pt").unlink()
    train.train("tiny", task_data, out, total_steps=101, retarget=True, cadence=cadence, log=lambda *_: None)
    resumed = json.loads((out / "curve.jsonl").read_text().splitlines()[-1])
    assert resumed["step"] == 101
    assert abs(resumed["concentrate"]["bracket_counting"]["open"] - last["bracket_counting"]["open"]) <= 2  # one mask step on


def test_a_concentrating_run_names_an_unknown_task(tmp_path, task_data):
    train.train("tiny", task_data, tmp_path / "base", total_steps=2, log=lambda *_: None)
    spec = train.ConcentrateSpec({"bracket_depth": 1e-3})
    finetune = {"init_from": str(tmp_path / "base"), "lr_scale": 1.0, "focus_frac": 0.0, "concentrate": spec.to_dict()}
    with pytest.raises(SystemExit, match="no task named bracket_depth"):
        train.train("tiny", task_data, tmp_path / "fine", total_steps=2, log=lambda *_: None, finetune=finetune)
