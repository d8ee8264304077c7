"""The tail graphs (export.TailInterface, manifest "tails"): for mask rows that agree before a tail's first
node location, its logits plus the bigram table's term must be what model.onnx gives for the same rows."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from training import export
from training.model import GPTConfig, n_nodes, node_layout
from training.tests.test_export import TINY, _sparse_tiny

LAYOUT = {e["name"]: e for e in node_layout(TINY)}


def _rows(rng, start: str, M: int) -> np.ndarray:
    """M mask rows [M, N]: row 0 ablates a fifth of the nodes before `start` (the part every row shares) and
    nothing after; each other row is row 0 with one node at or after start ablated."""
    N = n_nodes(TINY)
    first = LAYOUT[start]["offset"]
    mask = np.ones((M, N), np.float32)
    mask[:, rng.choice(first, first // 5, replace=False)] = 0
    for r in range(1, M):
        mask[r, rng.integers(first, N)] = 0
    return mask


def test_tail_starts_in_layout_order():
    assert export.tail_starts(TINY) == ["0.attn.v", "0.mlp.post_act", "1.attn.act_in", "1.attn.q"]
    deep = GPTConfig(**{**TINY.to_dict(), "n_layer": export.MAX_CONE_LAYERS + 1})
    assert export.tail_starts(deep) == [], "a deep model would store its layers once per tail"


def test_tail_interface_equals_node_interface_in_pytorch():
    gpt = _sparse_tiny(seed=5)
    N = n_nodes(TINY)
    rng = np.random.default_rng(6)
    ids = torch.from_numpy(rng.integers(0, 2048, (1, 40)))
    fill = torch.from_numpy(rng.normal(0, 0.1, N).astype(np.float32))
    read = torch.arange(2048)
    full = export.NodeInterface(gpt)
    for start in export.tail_starts(TINY):
        mask = torch.from_numpy(_rows(rng, start, 6))
        fills = fill.expand(6, N)
        with torch.no_grad():
            want, _ = full(ids, mask, fills, torch.zeros(1, dtype=torch.long), torch.tensor([30]), read)  # [M, P, V]
            got = export.TailInterface(gpt, start)(ids, mask, fills, torch.tensor([30]), read)
        bigram = gpt.bigram_table[ids[0, 30:]]  # [P, V]: the term the tail leaves out
        assert torch.allclose(got + bigram, want, atol=1e-5), start


def _session(path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    """The tiny model's model.onnx and tails in one folder, with a session of each."""
    gpt = _sparse_tiny(seed=2)
    out = tmp_path_factory.mktemp("tails")
    export.export_onnx(gpt, out / "model.onnx")
    tails = export.write_tails(gpt, out)  # removing stale ones as write_cones does (test_cones.py)
    return gpt, out, tails, _session(out / "model.onnx"), {t["from"]: _session(out / t["onnx"]) for t in tails}


def test_tails_are_listed_without_the_bigram_table(graphs):
    _, out, tails, _, sessions = graphs
    assert [t["from"] for t in tails] == export.tail_starts(TINY)
    assert json.loads(json.dumps(tails)) == tails
    assert sorted(p.name for p in out.glob("tail-*.onnx")) == sorted(t["onnx"] for t in tails)
    for t in tails:
        s = sessions[t["from"]]
        assert [i.name for i in s.get_inputs()] == ["input_ids", "node_mask", "node_fill", "score_from", "read_ids"]
        assert [o.name for o in s.get_outputs()] == ["logits"]
        m = onnx.load(str(out / t["onnx"]))
        names = [i.name for i in m.graph.initializer] + [i.values.name for i in m.graph.sparse_initializer]
        assert not any("bigram" in n for n in names), t["from"]


@pytest.mark.parametrize("mode", ["mean", "zero"])
def test_tails_equal_model_onnx_under_single_node_ablations(graphs, mode):
    """Every tail, 12 windows each, 9 rows (a shared ablation before the tail, one node more at or after it):
    max |logit difference| ≤ 1e-4 against model.onnx run with the same rows, at every scored position."""
    gpt, _, _, full, sessions = graphs
    N = n_nodes(TINY)
    rng = np.random.default_rng(7)
    fill = rng.normal(0, 0.1, N).astype(np.float32) if mode == "mean" else np.zeros(N, np.float32)
    read = rng.choice(2048, 5, replace=False).astype(np.int64)
    worst = 0.0
    for start, tail in sessions.items():
        for _ in range(12):
            T = int(rng.integers(2, 64))
            score_from = int(rng.integers(0, T))
            ids = rng.integers(0, 2048, (1, T)).astype(np.int64)
            mask = _rows(rng, start, 9)
            fills = np.broadcast_to(fill, mask.shape).copy()
            common = {"input_ids": ids, "node_mask": mask, "node_fill": fills, "score_from": np.array([score_from], np.int64), "read_ids": read}
            (want, _) = full.run(["logits", "watched"], {**common, "watch": np.zeros(1, np.int64)})  # [M, P, R]
            (got,) = tail.run(None, common)
            bigram = gpt.bigram_table.detach().numpy()[ids[0, score_from:]][:, read]  # [P, R]
            assert got.shape == want.shape == (9, T - score_from, len(read))
            worst = max(worst, float(np.abs(got + bigram - want).max()))
    assert worst <= 1e-4, f"max |tail − model.onnx| = {worst:.2e}"
