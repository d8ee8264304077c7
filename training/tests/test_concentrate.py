import json
import random

import numpy as np
import pytest
import torch

from training import concentrate, masks, tasks, train
from training.corpus import read_jsonl
from training.export import load_checkpoint
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


def test_a_concentrating_finetune_of_a_concentrating_run_goes_on_with_its_masks(tmp_path, task_data):
    train.train("tiny", task_data, tmp_path / "base", total_steps=10, log=lambda *_: None)
    first = tmp_path / "first"
    train.train("tiny", task_data, first, total_steps=60, log=lambda *_: None, finetune=_finetune(tmp_path / "base", 0.05))
    saved = train.resume.load_compact(first / train.resume.COMPACT_NAME)[1]["taus"]
    (first / "checkpoint.pt").unlink()  # a committed run has only its compact file
    second = tmp_path / "second"
    train.train("tiny", task_data, second, total_steps=1, log=lambda *_: None, finetune=_finetune(first, 0.05))
    after = train.resume.load_compact(second / train.resume.COMPACT_NAME)[1]["taus"]
    N = n_nodes(train.CONFIGS["tiny"]["model"])
    for task in ("single_double_quote", "bracket_counting"):
        assert sum(t > 0 for t in saved[task]) < N // 2  # the first run closed most of them: a fresh mask would be all open
        # one mask step on from the saved masks: AdamW's first step moves each τ by at most its learning rate
        assert max(abs(a - b) for a, b in zip(after[task], saved[task], strict=True)) <= concentrate.MASK_LR + 1e-4


def test_the_exclusive_term_is_the_share_of_the_difference_the_rest_of_the_model_keeps(tmp_path, task_data):
    """Concentrator.loss with `exclusive` = the loss without it + exclusive × mean(relu(rest's difference)) / the model's."""
    train.train("tiny", task_data, tmp_path / "base", total_steps=10, log=lambda *_: None)
    model = load_checkpoint(tmp_path / "base")
    model.eval()
    examples = {
        "bracket_counting": tasks.build_tasks(train.load_tokenizer(task_data / "tokenizer.json"), read_jsonl(task_data / "corpus_val.jsonl"))[
            "bracket_counting"
        ].train
    }
    N = n_nodes(model.cfg)
    tau = [0.5 if f % 3 else -0.5 for f in range(N)]  # a third of the nodes shut
    fill = torch.zeros(N)

    def concentrator(exclusive: float) -> concentrate.Concentrator:
        spec = concentrate.ConcentrateSpec({"bracket_counting": 1e-3}, noisy=0.0, exclusive=exclusive)
        c = concentrate.Concentrator(spec, model, examples, lambda m: fill, total_steps=10, taus={"bracket_counting": tau})
        c.masks["bracket_counting"].full_diff = 2.0  # the term's reference, whatever the tiny model's own difference
        return c

    plain = concentrator(0.0).loss(model, step=5).item()
    exclusive = concentrator(0.5)
    with_term = exclusive.loss(model, step=5).item()
    batch = random.Random(0).sample(examples["bracket_counting"], 32)  # the batch the first task's mask draws
    mask = (torch.tensor(tau) > 0).float()
    rest = masks.masked_diff(model, batch, 1.0 - mask, fill)  # [B]
    assert with_term == pytest.approx(plain + 0.5 * torch.relu(rest).mean().item() / 2.0, rel=1e-5, abs=1e-6)
    assert exclusive.curve()["bracket_counting"]["rest_keeps"] == round(torch.relu(rest).mean().item() / 2.0, 4)
    assert "rest_keeps" not in concentrator(0.0).curve()["bracket_counting"]
    assert rest.abs().sum() > 0  # the rest of the model does something here: the check above is not 0 = 0
