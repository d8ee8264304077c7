import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from training import export
from training import model as model_mod
from training.model import GPT, GPTConfig, n_nodes

TINY = GPTConfig(n_layer=2, d_model=32, n_head=2, d_head=16, d_mlp=64, block_size=64)
GAP = 1e-5  # a top-k boundary closer than this (relative) may legitimately flip between two float engines


def _sparse_tiny(seed=0) -> GPT:
    torch.manual_seed(seed)
    gpt = GPT(TINY)
    with torch.no_grad():
        gpt.bigram_table.normal_(0, 0.5)
        for p in gpt.sparse_parameters().values():
            p.mul_((torch.rand_like(p) < 0.3).float())
    export.round_bigram_fp16_(gpt)
    return gpt.eval()


def _tiny_bundle(gpt, tmp_path, root, name: str = "bundle"):
    """`gpt` exported as a bundle under tmp_path (with a data folder of random validation tokens and the
    fixture tokenizer): (data folder, bundle folder)."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    np.random.default_rng(0).integers(0, 2047, 20_000).astype(np.uint16).tofile(data / "val.bin")
    (data / "tokenizer.json").write_text((root / "test/fixtures/tokenizer.json").read_text())
    out = tmp_path / name
    export.write_bundle(gpt, data, out, "tiny", {"corpus": "test"}, {"val_loss": None})
    return data, out


def _first_near_tie(gpt, ids, mask, fill) -> int:
    """Index of the first position at which any AbsTopK boundary's relative gap is below GAP (T if none).

    Hard top-k is discontinuous at ties; causal attention spreads a flipped choice only to later
    positions, so positions before the first near-tie must agree exactly up to float rounding."""
    with export.topk_gap_probe() as gaps, torch.no_grad():
        gpt(ids, mask, fill, record=True)
    per_pos = torch.stack(gaps).amin(0)[0]  # [T]
    bad = (per_pos < GAP).nonzero()
    return int(bad[0]) if len(bad) else ids.shape[1]


@pytest.mark.parametrize("ablate", [False, True])
def test_onnx_matches_pytorch(tmp_path, ablate):
    gpt = _sparse_tiny()
    path = tmp_path / "m.onnx"
    export.export_onnx(gpt, path)
    m = onnx.load(str(path))
    assert len(m.graph.sparse_initializer) > 0, "mostly-zero weights should be stored sparse"
    assert any(i.name.endswith("bigram_table_fp16") and i.data_type == onnx.TensorProto.FLOAT16 for i in m.graph.initializer), "bigram table stored in fp16"
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    N = n_nodes(TINY)
    rng = np.random.default_rng(1)
    mask = np.ones(N, np.float32)
    if ablate:
        mask[rng.choice(N, N // 5, replace=False)] = 0
    fill = rng.normal(0, 0.1, N).astype(np.float32)
    watch = np.sort(rng.choice(N, 24, replace=False)).astype(np.int64)
    compared = 0
    # the graph returns positions score_from.. and vocabulary entries read_ids only: all, then a cut
    for start, read in [(0, np.arange(2048)), (0, np.arange(2048)), (17, np.array([5, 900, 2047])), (40, np.array([3]))]:
        ids = torch.from_numpy(rng.integers(0, 2048, (2, 48)))
        feeds = {
            "input_ids": ids.numpy(),
            "node_mask": mask[None],
            "node_fill": fill[None],
            "watch": watch,
            "score_from": np.array([start], np.int64),
            "read_ids": read.astype(np.int64),
        }
        logits_o, watched_o = sess.run(["logits", "watched"], feeds)
        assert logits_o.shape == (2, 48 - start, len(read)) and watched_o.shape == (2, 48 - start, len(watch))
        with torch.no_grad():
            logits_t, nodes_t, _ = gpt(ids, torch.from_numpy(mask), torch.from_numpy(fill), record=True)
        for b in range(2):
            cut = _first_near_tie(gpt, ids[b : b + 1], torch.from_numpy(mask), torch.from_numpy(fill))
            compared += max(0, cut - start)
            want_logits = logits_t[b, start:cut][:, read].numpy()
            want_nodes = nodes_t[b, start:cut][:, watch].numpy()
            got_nodes = watched_o[b, : max(0, cut - start)]
            assert np.abs(logits_o[b, : max(0, cut - start)] - want_logits).max(initial=0) <= 1e-4
            assert np.array_equal(got_nodes == 0, want_nodes == 0), "AbsTopK kept another set than PyTorch"
            assert np.abs(got_nodes - want_nodes).max(initial=0) <= 1e-4
    assert compared >= 0.5 * 2 * (48 + 48 + 31 + 8), f"too few positions free of near-ties to compare ({compared})"


def test_bundle_files_and_manifest(tmp_path, root):
    gpt = _sparse_tiny()
    data, out = _tiny_bundle(gpt, tmp_path, root)
    manifest = json.loads((out / "manifest.json").read_text())
    N = manifest["nodes"]["count"]
    assert N == n_nodes(TINY)
    assert np.fromfile(out / "node_means.bin", dtype="<f4").shape == (N,)
    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input_ids", "node_mask", "node_fill", "watch", "score_from", "read_ids"]
    assert [o.name for o in sess.get_outputs()] == ["logits", "watched", *export.NEXT_OUTPUTS]
    # the bench's sparsity limit (src/sparseLimit.ts) and PyTorch reference (bench_torch.py) read the weights by these names
    graph = onnx.load(str(out / "model.onnx")).graph
    names = [i.name for i in graph.initializer] + [s.values.name for s in graph.sparse_initializer]
    assert {f"gpt.{n}" for n in gpt.sparse_parameters()} <= set(names)
    assert manifest["mask_rows"] is True and (out / manifest["weights"]["file"]).exists()
    assert manifest["attention"] == export.attention_params(gpt)
    golden = json.loads((out / "golden.json").read_text())
    assert len(golden["cases"]) == 6 and len(golden["watch"]) == 16
    assert manifest["model"]["afrac"] == TINY.afrac and manifest["model"]["bigram_table"] == TINY.bigram_table
    # a checkpoint exported mid-schedule: the manifest says what its graph computes (src/core/wasmForward.ts reads it)
    gpt.afrac_now, gpt.bigram_on = 0.75, False
    export.write_bundle(gpt, data, tmp_path / "mid", "mid", {"corpus": "test"}, {"val_loss": None})
    mid = json.loads((tmp_path / "mid" / "manifest.json").read_text())["model"]
    assert (mid["afrac"], mid["bigram_table"]) == (0.75, False)


def test_node_interface_cuts_match_the_full_forward():
    """The exported module runs the last layer at the scored positions only and picks the watched nodes
    per location; at every scored position it must give what the full forward gives (equal up to
    float rounding — a one-row matmul may round differently — and the same AbsTopK choices)."""
    gpt = _sparse_tiny(seed=3)
    N = n_nodes(TINY)
    rng = np.random.default_rng(4)
    mask = torch.ones(N)
    mask[torch.from_numpy(rng.choice(N, N // 5, replace=False))] = 0
    fill = torch.from_numpy(rng.normal(0, 0.1, N).astype(np.float32))
    watch = torch.from_numpy(rng.permutation(N)[:40])  # unsorted, across every location
    interface = export.NodeInterface(gpt)
    for start in (0, 17, 47):
        ids = torch.from_numpy(rng.integers(0, 2048, (2, 48)))
        with torch.no_grad():
            logits, watched = interface(ids, mask, fill, watch, torch.tensor([start]), torch.arange(2048))
            full_logits, nodes, _ = gpt(ids, mask, fill, record=True)
        assert logits.shape == (2, 48 - start, 2048) and watched.shape == (2, 48 - start, 40)
        for b in range(2):
            cut = max(0, _first_near_tie(gpt, ids[b : b + 1], mask, fill) - start)
            want = nodes[b, start:][:cut][:, watch]
            assert torch.equal(watched[b, :cut] == 0, want == 0), "another AbsTopK choice than the full forward"
            assert np.abs((watched[b, :cut] - want).numpy()).max(initial=0) <= 1e-5
            assert np.abs((logits[b, :cut] - full_logits[b, start:][:cut]).numpy()).max(initial=0) <= 1e-5


def test_mask_rows_equal_separate_runs(tmp_path):
    """One call with M mask rows (one window under M single-node ablations, or M windows with a mask each)
    gives what M separate one-row calls give: the batched path that discovery in the editor relies on."""
    gpt = _sparse_tiny(seed=5)
    path = tmp_path / "m.onnx"
    export.export_onnx(gpt, path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    N = n_nodes(TINY)
    rng = np.random.default_rng(6)
    fill = rng.normal(0, 0.1, N).astype(np.float32)
    M = 24
    masks = np.ones((M, N), np.float32)
    masks[np.arange(M), rng.choice(N, M, replace=False)] = 0  # row m ablates one node
    masks[0] = 1  # and row 0 nothing
    fills = np.tile(fill, (M, 1))
    window = rng.integers(0, 2048, (1, 40))
    base = {"watch": np.arange(0, N, 7, dtype=np.int64), "score_from": np.array([30], np.int64), "read_ids": np.arange(2048, dtype=np.int64)}

    def run(ids, mask, fill_rows):
        return sess.run(["logits", "watched"], {"input_ids": ids, "node_mask": mask, "node_fill": fill_rows, **base})

    separate = [run(window, masks[m : m + 1], fills[m : m + 1]) for m in range(M)]
    for ids in (window, np.repeat(window, M, axis=0)):  # B = 1 (broadcast over the rows) and B = M
        logits, watched = run(ids, masks, fills)
        assert logits.shape == (M, 10, 2048) and watched.shape == (M, 10, len(base["watch"]))
        for m, (want_logits, want_watched) in enumerate(separate):
            assert np.abs(logits[m] - want_logits[0]).max() <= 1e-5
            assert np.abs(watched[m] - want_watched[0]).max() <= 1e-5
            assert np.array_equal(np.argsort(-logits[m], -1)[:, :10], np.argsort(-want_logits[0], -1)[:, :10]), "another top-10"
    # one mask row applies to every batch row
    two = rng.integers(0, 2048, (2, 40))
    logits, _ = run(two, masks[3:4], fills[3:4])
    assert np.abs(logits[1] - run(two[1:], masks[3:4], fills[3:4])[0][0]).max() <= 1e-5
    assert any(np.abs(s[0] - separate[0][0]).max() > 1e-4 for s in separate[1:]), "no single-node ablation changed anything: the rows were not applied"


def test_weights_file_holds_the_nonzero_weights(tmp_path):
    gpt = _sparse_tiny(seed=2)
    entry = export.write_weights(gpt, tmp_path)
    rec = np.fromfile(tmp_path / entry["file"], dtype=[("source", "<i4"), ("target", "<i4"), ("weight", "<f4")])
    at = 0
    for (src, dst, W), m in zip(export.weight_matrices(gpt), entry["matrices"]):
        assert (m["source"], m["target"]) == (src, dst)
        part = rec[at : at + m["count"]]
        at += m["count"]
        dense = np.zeros(W.shape, np.float32)
        dense[part["target"], part["source"]] = part["weight"]
        assert np.array_equal(dense, W.detach().numpy()) and m["count"] == int((W != 0).sum())
    assert at == len(rec)
    assert entry["matrices"][-1] == {"source": "resid", "target": "logits", "count": int((gpt.lm_head.weight != 0).sum())}


@pytest.mark.parametrize("width", [128, export.LARGEST_FROM_WIDTH])
def test_exported_abs_topk_keeps_what_the_model_keeps_at_ties(tmp_path, width):
    """The graph's AbsTopK (either TopK direction, by width) keeps exactly the entries model.abs_topk keeps:
    those with |x| at least the k-th largest |x|, every entry tied with it included, in onnxruntime."""
    k = width // 4
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (6, width)).astype(np.float32)
    order = np.argsort(-np.abs(x[1]))
    tie = np.abs(x[1, order[k - 1]])
    x[1, order[k - 3 : k + 2]] = tie * np.array([1, -1, 1, -1, 1])  # five entries tie at the k-th largest |x|
    x[2, k // 2 :] = 0  # fewer than k nonzeros: the threshold is 0
    x[3] = -2.0  # every entry ties
    kth4 = np.abs(x[4, np.argsort(-np.abs(x[4]))[k - 1]])
    x[4, np.argsort(-np.abs(x[4]))[k]] = np.nextafter(kth4, np.float32(0))  # the (k+1)-th one ulp below the k-th

    class Select(torch.nn.Module):
        def forward(self, v):
            return export.abs_topk_for_onnx(v, k)

    path = tmp_path / "topk.onnx"
    torch.onnx.export(Select(), (torch.from_numpy(x),), str(path), opset_version=export.OPSET, dynamo=False, input_names=["x"], output_names=["y"])
    directions = [a.i for n in onnx.load(str(path)).graph.node if n.op_type == "TopK" for a in n.attribute if a.name == "largest"]
    assert directions == [int(width >= export.LARGEST_FROM_WIDTH)], "the TopK direction this width is meant to take"
    (got,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    kth = -np.sort(-np.abs(x), axis=-1)[:, k - 1 : k]
    assert np.array_equal(got, x * (np.abs(x) >= kth))
    assert np.array_equal(got, export.abs_topk(torch.from_numpy(x), k).numpy())
    assert (got[1] != 0).sum() == k + 2 and (got[3] != 0).all() and (got[4] != 0).sum() == k


def test_attention_params_redraw_the_models_attention_from_q_and_k():
    # the editor (src/core/attention.ts) redraws a head's pattern from the recorded q, k nodes and these parameters
    gpt = _sparse_tiny()
    with torch.no_grad():
        for block in gpt.transformer.h:
            block.attn.sink_logit.normal_(0, 2)
        ids = torch.randint(0, TINY.vocab_size, (1, 40))
        _, nodes, probs = gpt(ids, record=True, want_attn=True)  # nodes [1, T, N]; probs per layer [1, nh, T, T]
    params = export.attention_params(gpt)
    offset = {e["name"]: e["offset"] for e in export.node_layout(TINY)}
    hd = TINY.n_head * TINY.d_head
    for L in range(TINY.n_layer):
        # each [T, nh, dh]
        q, k = (nodes[0, :, offset[f"{L}.attn.{s}"] : offset[f"{L}.attn.{s}"] + hd].view(40, TINY.n_head, TINY.d_head) for s in "qk")
        scores = torch.einsum("qhd,khd->hqk", q, k) * params["scale"]  # [nh, T, T]
        scores = scores.masked_fill(~torch.tril(torch.ones(40, 40, dtype=torch.bool)), float("-inf"))
        sink = torch.tensor(params["sink_logits"][L]).view(-1, 1, 1).expand(-1, 40, 1)
        redrawn = torch.softmax(torch.cat([scores, sink], dim=-1), dim=-1)[..., :40]
        assert torch.allclose(redrawn, probs[L][0], atol=1e-6)


def test_next_token_outputs_rank_and_sum_the_read_logits(tmp_path):
    """model.onnx's logsumexp, top_values and top_ids are computed from its own logits output: the float64
    log-sum-exp of each row, and its NEXT_TOP_K largest entries with their read ids, largest first and equal
    values in read order; fewer read ids than NEXT_TOP_K pad with -inf and id -1; the width is in the graph."""
    gpt = _sparse_tiny(seed=7)
    path = tmp_path / "m.onnx"
    export.export_onnx(gpt, path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    K = export.NEXT_TOP_K
    assert [o.shape[2] for o in sess.get_outputs()[3:]] == [K, K]
    N = n_nodes(TINY)
    rng = np.random.default_rng(8)
    masks = np.ones((3, N), np.float32)
    masks[1, rng.choice(N, N // 4, replace=False)] = 0
    reads = [np.arange(2048), rng.permutation(2048)[:300], np.array([9, 4, 9, 4, 1000, 9, 4, 9, 4, 77]), np.array([5, 900, 3])]
    for read in reads:
        for B, M in ((2, 1), (1, 3)):
            feeds = {
                "input_ids": rng.integers(0, 2048, (B, 30)),
                "node_mask": masks[:M],
                "node_fill": np.zeros((M, N), np.float32),
                "watch": np.arange(3, dtype=np.int64),
                "score_from": np.array([12], np.int64),
                "read_ids": read.astype(np.int64),
            }
            logits, _, lse, values, ids = sess.run(None, feeds)
            assert logits.shape == (max(B, M), 18, len(read)) and lse.dtype == np.float64 and values.shape == ids.shape == (max(B, M), 18, K)
            wide = logits.astype(np.float64)
            top = wide.max(-1)
            assert np.abs(lse - (top + np.log(np.exp(wide - top[..., None]).sum(-1)))).max() <= 1e-12 * np.abs(lse).max()
            order = np.argsort(-logits, axis=-1, kind="stable")[..., :K]  # equal logits: the earlier read id first
            k = min(K, len(read))
            assert np.array_equal(ids[..., :k], read[order[..., :k]])
            assert np.array_equal(values[..., :k], np.take_along_axis(logits, order[..., :k], -1))
            assert (values[..., k:] == -np.inf).all() and (ids[..., k:] == -1).all()


def test_whole_vocabulary_read_passes_the_gathers_by(tmp_path):
    """model.onnx gathers by read_ids through an If (export.whole_vocabulary_ungathered): read_ids = 0..V−1
    passes the tensors through, any other read gathers; the logits are bit for bit the same either way."""
    gpt = _sparse_tiny(seed=5)
    path = tmp_path / "whole_vocab.onnx"
    export.export_onnx(gpt, path)
    graph = onnx.load(str(path)).graph
    assert sum(n.op_type == "If" for n in graph.node) == 2, "the unembedding's and the bigram table's gathers"
    assert not any(n.op_type == "Gather" and n.input[1] == "read_ids" for n in graph.node)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    N, V = n_nodes(TINY), TINY.vocab_size
    rng = np.random.default_rng(6)
    feeds = {
        "input_ids": rng.integers(0, V, (1, 40)),
        "node_mask": np.ones((1, N), np.float32),
        "node_fill": np.zeros((1, N), np.float32),
        "watch": np.arange(3, dtype=np.int64),
        "score_from": np.array([5], np.int64),
    }
    (whole,) = sess.run(["logits"], {**feeds, "read_ids": np.arange(V, dtype=np.int64)})
    swapped = np.arange(V)
    swapped[[7, 1500]] = swapped[[1500, 7]]
    for read in (swapped, np.arange(V - 1), rng.permutation(V)[:50]):
        (got,) = sess.run(["logits"], {**feeds, "read_ids": read.astype(np.int64)})
        assert np.array_equal(got.view(np.uint32), whole[..., read].view(np.uint32))


@pytest.mark.parametrize("ablate", [False, True])
def test_sink_in_mix_graph_is_bit_for_bit_the_sliced_one(tmp_path, ablate):
    """The exported attention (model.CausalSelfAttention.sink_in_mix: probabilities with the sink slot times
    values with a zero row) gives onnxruntime's outputs of the graph that slices the slot off, bit for bit."""
    gpt = _sparse_tiny(seed=9)
    with torch.no_grad():
        for block in gpt.transformer.h:
            block.attn.sink_logit.normal_(0, 2)
    N = n_nodes(TINY)
    args = (torch.zeros(1, 8, dtype=torch.long), torch.ones(1, N), torch.zeros(1, N), torch.zeros(1, dtype=torch.long), torch.tensor([2]), torch.arange(4))
    outputs = {"logits": {0: "B", 1: "P", 2: "R"}, "watched": {0: "B", 1: "P", 2: "K"}}
    sessions = []
    for mixed in (False, True):
        path = tmp_path / f"mixed-{mixed}.onnx"
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(model_mod.CausalSelfAttention, "sink_in_mix", mixed)
            export._trace(export.NodeInterface(gpt).eval(), args, path, outputs)
        sessions.append(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]))
    pads = [sum(n.op_type == "Pad" for n in onnx.load(str(tmp_path / f"mixed-{mixed}.onnx")).graph.node) for mixed in (False, True)]
    assert pads == [0, TINY.n_layer], "each layer's values padded with the sink's zero row"
    rng = np.random.default_rng(10)
    mask = np.ones((2, N), np.float32)
    if ablate:
        mask[:, rng.choice(N, N // 5, replace=False)] = 0
    for T, start in ((64, 0), (64, 40), (33, 7), (1, 0)):
        feeds = {
            "input_ids": rng.integers(0, TINY.vocab_size, (2, T)),
            "node_mask": mask,
            "node_fill": rng.normal(0, 0.1, (2, N)).astype(np.float32),
            "watch": np.arange(N, dtype=np.int64),
            "score_from": np.array([start], np.int64),
            "read_ids": np.arange(TINY.vocab_size, dtype=np.int64),
        }
        for a, b in zip(*(s.run(None, feeds) for s in sessions)):
            assert np.array_equal(a.view(np.uint32), b.view(np.uint32))
