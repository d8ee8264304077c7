"""The cone graphs (export.ConeInterface, manifest "cones"): the watched nodes up to a cone's last node
location, computed without the rest of the model, must be what model.onnx gives for them."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from training import export
from training.model import GPTConfig, n_nodes, node_layout
from training.tests.test_export import TINY, _sparse_tiny


def _end(upto: str) -> int:
    """Flat index after the last node of location `upto`."""
    e = next(e for e in node_layout(TINY) if e["name"] == upto)
    return e["offset"] + e["length"]


def test_cone_ends_are_in_compute_order():
    assert export.cone_ends(TINY) == ["0.mlp.act_in", "0.mlp.resid_delta", "1.mlp.act_in"]
    deep = GPTConfig(**{**TINY.to_dict(), "n_layer": export.MAX_CONE_LAYERS + 1})
    assert export.cone_ends(deep) == [], "a deep model would store its layers once per cone"


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    gpt = _sparse_tiny(seed=2)
    out = tmp_path_factory.mktemp("cones")
    export.export_onnx(gpt, out / "model.onnx")
    (out / "cone-stale.onnx").write_bytes(b"")  # left by an earlier export: write_cones removes it
    cones = export.write_cones(gpt, out)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    full = ort.InferenceSession(str(out / "model.onnx"), opts, providers=["CPUExecutionProvider"])
    sessions = {c["upto"]: ort.InferenceSession(str(out / c["onnx"]), opts, providers=["CPUExecutionProvider"]) for c in cones}
    return out, cones, full, sessions


def test_cones_are_listed_and_stale_ones_removed(graphs):
    out, cones, _, sessions = graphs
    assert [c["upto"] for c in cones] == export.cone_ends(TINY)
    assert json.loads(json.dumps(cones)) == cones
    assert sorted(p.name for p in out.glob("cone-*.onnx")) == sorted(c["onnx"] for c in cones)
    for s in sessions.values():
        assert [i.name for i in s.get_inputs()] == ["input_ids", "node_mask", "node_fill", "watch", "score_from"]
        assert [o.name for o in s.get_outputs()] == ["watched"]


def test_cones_leave_out_what_follows_their_end(graphs):
    """Each cone holds fewer TopKs than the one after it and none of the unembedding or bigram table."""
    out, cones, _, _ = graphs
    topks = []
    for c in cones:
        m = onnx.load(str(out / c["onnx"]))
        names = [i.name for i in m.graph.initializer] + [i.values.name for i in m.graph.sparse_initializer]
        assert not any("lm_head" in n or "bigram" in n or "ln_f" in n for n in names), c["upto"]
        topks.append(sum(n.op_type == "TopK" for n in m.graph.node))
    full = onnx.load(str(out / "model.onnx"))
    assert topks == sorted(topks) and topks[-1] < sum(n.op_type == "TopK" for n in full.graph.node)


@pytest.mark.parametrize("ablate", [False, True])
def test_cone_watched_equals_the_full_graph(graphs, ablate):
    """Unsorted watched nodes across the cone, one or several mask rows, cut and uncut windows: the same
    values (≤ 1e-5) and the same AbsTopK choices (the same zeros) as model.onnx."""
    _, cones, full, sessions = graphs
    N = n_nodes(TINY)
    rng = np.random.default_rng(7)
    for c in cones:
        end = _end(c["upto"])
        watch = rng.permutation(end)[: min(end, 60)].astype(np.int64)
        for B, M, start in [(1, 1, 0), (2, 1, 17), (1, 3, 30), (3, 3, 47)]:
            masks = np.ones((M, N), np.float32)
            if ablate:
                masks[rng.random((M, N)) < 0.2] = 0
            fills = rng.normal(0, 0.1, (M, N)).astype(np.float32)
            feeds = {
                "input_ids": rng.integers(0, 2048, (B, 48)),
                "node_mask": masks,
                "node_fill": fills,
                "watch": watch,
                "score_from": np.array([start], np.int64),
            }
            (got,) = sessions[c["upto"]].run(None, feeds)
            _, want = full.run(["logits", "watched"], {**feeds, "read_ids": np.array([1, 2], np.int64)})
            assert got.shape == want.shape == (max(B, M), 48 - start, len(watch))
            assert np.array_equal(got == 0, want == 0), f"{c['upto']}: AbsTopK kept another set than model.onnx"
            assert np.abs(got - want).max() <= 1e-5, c["upto"]
            assert np.count_nonzero(got) > got.size // 10, "too few kept nodes for the comparison to mean anything"


def test_a_watched_node_after_the_cone_reads_zero(graphs):
    _, cones, _, sessions = graphs
    c = cones[0]
    feeds = {
        "input_ids": np.arange(1, 21, dtype=np.int64)[None],
        "node_mask": np.ones((1, n_nodes(TINY)), np.float32),
        "node_fill": np.zeros((1, n_nodes(TINY)), np.float32),
        "watch": np.array([_end(c["upto"]), n_nodes(TINY) - 1], np.int64),
        "score_from": np.array([5], np.int64),
    }
    (got,) = sessions[c["upto"]].run(None, feeds)
    assert got.shape == (1, 15, 2) and not got.any()
