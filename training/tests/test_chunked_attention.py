"""Attention in runs of queries (model.CausalSelfAttention.query_chunks, issue 18): the same model, exported
and in PyTorch, as the single score tensor; and only imported models of many narrow heads use it."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from training import export, import_openai, openai_format
from training.compact import compact_gpt
from training.model import GPT, chunk_edges, n_nodes
from training.tests.test_export import _first_near_tie
from training.tests.test_import_openai import FIXTURES, assert_same_logits, reference_logits
from training.train import CONFIGS


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("openai")
    for seed, (name, config) in enumerate(sorted(openai_format.FIXTURES.items())):
        openai_format.write_model(root / name, config, seed=seed)
    return root


def _chunked(folders, name: str, chunks: int = 3) -> GPT:
    gpt, _ = import_openai.load_model(folders / name)
    gpt.chunk_queries(chunks)  # 3 runs: uneven over 64 queries, and empty ones below 3
    return gpt


def test_chunk_edges_cut_every_length_into_consecutive_runs():
    for n in range(12):
        for chunks in range(1, 6):
            edges = chunk_edges(n, chunks)
            assert len(edges) == chunks and edges[0][0] == 0 and edges[-1][1] == n
            assert all(b == a2 for (_, b), (a2, _) in zip(edges, edges[1:], strict=False))
            assert max(b - a for a, b in edges) - min(b - a for a, b in edges) <= 1


@pytest.mark.parametrize("name", FIXTURES)
def test_chunked_forward_matches_the_reference_forward(folders, name):
    """Logits within 1e-4 of the format's reference forward and the same AbsTopK sets at every location as the
    single score tensor, before each row's first near-tie."""
    gpt = _chunked(folders, name)
    config = json.loads((folders / name / import_openai.CONFIG).read_text())
    sd = torch.load(folders / name / import_openai.WEIGHTS, weights_only=True)
    ids = torch.from_numpy(np.random.default_rng(0).integers(0, config["vocab_size"], (2, 64)))
    with torch.no_grad():
        ours, nodes, _ = gpt(ids, record=True)  # [B, T, V], [B, T, N]
        assert_same_logits(gpt, ids, ours, reference_logits(config, sd, ids))
        gpt.chunk_queries(1)
        _, whole, _ = gpt(ids, record=True)
    for b in range(ids.shape[0]):
        cut = ids.shape[1] if gpt.cfg.afrac is None else _first_near_tie(gpt, ids[b : b + 1], None, None)
        assert torch.equal(nodes[b, :cut] != 0, whole[b, :cut] != 0)
        assert (nodes[b, :cut] - whole[b, :cut]).abs().max() <= 1e-4


def _feeds(ids: np.ndarray, n: int, vocab: int, score_from: int) -> dict:
    return {
        "input_ids": ids,
        "node_mask": np.ones((1, n), np.float32),
        "node_fill": np.zeros((1, n), np.float32),
        "watch": np.arange(n, dtype=np.int64),
        "score_from": np.array([score_from], np.int64),
        "read_ids": np.arange(vocab, dtype=np.int64),
    }


def test_chunked_graph_matches_the_single_score_tensor_at_any_length(folders, tmp_path):
    """The runs' edges follow the window's length at run time: windows shorter than the number of runs (some
    runs empty), uneven ones and the last layer's queries from score_from on, against our forward without runs."""
    gpt = _chunked(folders, "sink_bigram_8sites")
    export.export_onnx(compact_gpt(gpt), tmp_path / "model.onnx", bigram_fp16=False)
    softmaxes = [n for n in onnx.load(str(tmp_path / "model.onnx")).graph.node if n.op_type == "Softmax"]
    assert len(softmaxes) == 3 * gpt.cfg.n_layer
    gpt.chunk_queries(1)
    sess = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    N, V = n_nodes(gpt.cfg), gpt.cfg.vocab_size
    for T in (1, 2, 5, 64):
        ids = np.random.default_rng(T).integers(0, V, (1, T))
        with torch.no_grad():
            want, nodes, _ = gpt(torch.from_numpy(ids), record=True)  # [1, T, V], [1, T, N]
        cut = _first_near_tie(gpt, torch.from_numpy(ids), None, None)
        for start in sorted({0, T // 2, T - 1}):
            logits, watched = sess.run(["logits", "watched"], _feeds(ids, N, V, start))  # [1, P, V], [1, P, N]
            assert np.abs(logits[0, : max(cut - start, 0)] - want[0, start:cut].numpy()).max(initial=0) <= 1e-4
            assert np.abs(watched[0, : max(cut - start, 0)] - nodes[0, start:cut].numpy()).max(initial=0) <= 1e-4


def test_only_imported_models_of_many_narrow_heads_run_in_chunks(folders, tmp_path):
    """Our own models (every training configuration) keep the single score tensor, so their exports are as
    before; a yolo1-shaped model is converted with runs, and the compacted graph keeps them."""
    assert {name: import_openai.query_chunks(c["model"]) for name, c in CONFIGS.items()} == dict.fromkeys(CONFIGS, 1)
    assert all(import_openai.load_model(folders / name)[0].transformer.h[0].attn.query_chunks == 1 for name in FIXTURES)
    (tmp_path / import_openai.CONFIG).write_text(json.dumps(openai_format.LARGE["yolo1_shape"]))
    assert import_openai.query_chunks(import_openai.read_config(tmp_path)[0]) > 1
    gpt = _chunked(folders, "sink_bigram_8sites", chunks=4)
    assert all(block.attn.query_chunks == 4 for block in compact_gpt(gpt).transformer.h)
