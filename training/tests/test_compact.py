import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from training import export, import_openai, openai_format
from training.alive import alive_masks
from training.compact import CompactGPT, compact_gpt, dead_per_layer, dead_totals
from training.model import n_nodes, node_layout


def test_dead_per_layer_counts_what_was_cut(tmp_path):
    """On a fixture with nothing dead, cutting one neuron's inputs, another's outputs, a whole head's v and
    one q channel shows up as exactly those counts, in their layers."""
    config = openai_format.FIXTURES["sink_bigram_8sites"]
    folder = openai_format.write_model(tmp_path / "m", config, seed=5)
    before, _ = import_openai.load_model(folder)
    assert all(dead == 0 for dead, _ in dead_totals(dead_per_layer(before)).values())
    sd = torch.load(folder / import_openai.WEIGHTS, weights_only=True)
    hd, dh = config["n_head"] * config["d_head"], config["d_head"]
    sd["transformer.h.0.mlp.c_fc.weight"][7] = 0  # neuron 7: nothing writes it
    sd["transformer.h.0.mlp.c_fc.bias"][7] = 0
    sd["transformer.h.0.mlp.c_proj.weight"][:, 9] = 0  # neuron 9: nothing reads it
    v_head2 = slice(2 * hd + 2 * dh, 2 * hd + 3 * dh)  # layer 1, head 2's v channels
    sd["transformer.h.1.attn.c_attn.weight"][v_head2] = 0
    sd["transformer.h.1.attn.c_attn.bias"][v_head2] = 0
    sd["transformer.h.1.attn.c_attn.weight"][3] = 0  # layer 1, q channel 3 (head 0)
    sd["transformer.h.1.attn.c_attn.bias"][3] = 0
    torch.save(sd, folder / import_openai.WEIGHTS)
    after, _ = import_openai.load_model(folder)
    rows = dead_per_layer(after)
    dead = [{k: v[0] for k, v in r.items() if k != "layer" and v[0]} for r in rows]
    assert dead == [
        {"mlp_unwritten": 1, "mlp_unread": 1},
        {"v_unwritten": dh, "heads_dead": 1, "q_unwritten": 1, "qk_pair_dead": 1},
    ]
    assert rows[1]["heads_dead"] == [1, config["n_head"]] and rows[0]["mlp_unread"] == [1, config["d_mlp"]]


def _with_dead_parts(tmp_path, name: str) -> Path:
    """A fixture whose layer 0 loses 40 MLP neurons, layer 1 loses 10, and both lose head 2 (q, k and v)."""
    config = openai_format.FIXTURES[name]
    folder = openai_format.write_model(tmp_path / name, config, seed=3)
    sd = torch.load(folder / import_openai.WEIGHTS, weights_only=True)
    hd, dh = config["n_head"] * config["d_head"], config["d_head"]
    cuts = {"transformer.h.0.mlp.c_fc": torch.arange(0, 80, 2), "transformer.h.1.mlp.c_fc": torch.arange(50, 60)}
    for L in range(config["n_layer"]):
        cuts[f"transformer.h.{L}.attn.c_attn"] = torch.cat([torch.arange(2 * dh, 3 * dh) + i * hd for i in range(3)])
    for key, rows in cuts.items():
        sd[key + ".weight"][rows] = 0
        if key + ".bias" in sd:
            sd[key + ".bias"][rows] = 0
    torch.save(sd, folder / import_openai.WEIGHTS)
    return folder


def test_compact_gpt_is_the_same_model(tmp_path):
    """The compacted GPT is smaller, yet gives the same logits and every node's value at its original index
    (so the same AbsTopK sets), with and without ablation, where 4 or 8 locations run AbsTopK."""
    for name in ("sink_bigram_8sites", "plain_4sites_tied"):
        gpt, _ = import_openai.load_model(_with_dead_parts(tmp_path, name))
        small = compact_gpt(gpt)
        body = lambda m: sum(p.numel() for n, p in m.named_parameters() if ".h." in n)  # noqa: E731
        assert body(small) < body(gpt) and small.cfg == gpt.cfg
        # layer 1's 10 dead of 128 neurons are fewer than MIN_DROPPED of them: its MLP stays whole
        assert [b.mlp.c_fc.weight.shape[0] for b in small.transformer.h] == [gpt.cfg.d_mlp - 40, gpt.cfg.d_mlp]
        assert [b.attn.c_proj.weight.shape[1] for b in small.transformer.h] == [(gpt.cfg.n_head - 1) * gpt.cfg.d_head] * 2
        ids = torch.randint(0, gpt.cfg.vocab_size, (2, 48), generator=torch.Generator().manual_seed(1))
        N = n_nodes(gpt.cfg)
        mask = (torch.rand(N, generator=torch.Generator().manual_seed(2)) > 0.05).float()
        # fills as node means are: 0 at the dead nodes, which never take another value
        alive = torch.cat([alive_masks(gpt)[e["name"]] for e in node_layout(gpt.cfg)])  # [N]
        fill = torch.randn(N, generator=torch.Generator().manual_seed(3)) * alive
        for m, f in ((None, None), (mask, fill)):
            with torch.no_grad():
                want, want_nodes, _ = gpt(ids, m, f, record=True)  # [B, T, V], [B, T, N]
                got, got_nodes, _ = small(ids, m, f, record=True)
            assert (got - want).abs().max() < 1e-4
            assert ((got_nodes != 0) == (want_nodes != 0)).all() and (got_nodes - want_nodes).abs().max() < 1e-4


def _feeds(gpt) -> dict:
    """Two mask rows (none and 40 nodes ablated) and watched nodes: a q channel of the dropped head 2, a
    dropped and a kept neuron, the last node."""
    N, at = n_nodes(gpt.cfg), {e["name"]: e["offset"] for e in node_layout(gpt.cfg)}
    mask = np.ones((2, N), np.float32)
    mask[1, np.random.default_rng(0).choice(N, 40, replace=False)] = 0
    watch = [at["0.attn.q"] + 2 * gpt.cfg.d_head, at["0.mlp.post_act"] + 4, at["0.mlp.post_act"] + 5, N - 1]
    return {
        "input_ids": np.random.default_rng(1).integers(0, gpt.cfg.vocab_size, (1, 40)),
        "node_mask": mask,
        "node_fill": np.zeros((2, N), np.float32),
        "watch": np.array(watch, np.int64),
        "score_from": np.array([8], np.int64),
        "read_ids": np.arange(50, dtype=np.int64),
    }


def _same_outputs(path: Path, gpt) -> None:
    """The graph at `path` gives the full model's logits and watched nodes (dead ones included) within 1e-4."""
    feeds = _feeds(gpt)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["logits", "watched"], feeds)
    with torch.no_grad():
        want = export.NodeInterface(gpt)(*(torch.from_numpy(v) for v in feeds.values()))
    for g, w in zip(got, want, strict=True):
        assert g.shape == tuple(w.shape) and np.abs(g - w.numpy()).max() < 1e-4


def test_compact_onnx_matches_the_full_model(tmp_path):
    """The compacted ONNX takes the same inputs (original node ids) and gives the same outputs."""
    gpt, _ = import_openai.load_model(_with_dead_parts(tmp_path, "sink_bigram_8sites"))
    export.export_onnx(compact_gpt(gpt), tmp_path / "compact.onnx", bigram_fp16=False)
    _same_outputs(tmp_path / "compact.onnx", gpt)


def test_compact_graph_traces_the_exported_abs_topk(tmp_path, monkeypatch):
    """While a graph is exported, the compacted model's AbsTopK goes through export.abs_topk_for_onnx, as the
    full model's does (onnxruntime's cheaper TopK direction at wide locations), at every AbsTopK location."""
    gpt, _ = import_openai.load_model(_with_dead_parts(tmp_path, "sink_bigram_8sites"))
    calls = []
    monkeypatch.setattr(export, "abs_topk_for_onnx", lambda x, k: calls.append(x.shape[-1]) or x)
    with torch.no_grad(), export.exported_abs_topk():
        compact_gpt(gpt)(torch.zeros(1, 4, dtype=torch.long))
    assert len(calls) == gpt.cfg.n_layer * len(gpt.cfg.topk_sites)
    assert gpt.cfg.d_mlp - 40 in calls  # the compacted width of layer 0's neurons


def test_converted_bundle_runs_the_compact_graph(tmp_path, root, monkeypatch):
    """import_openai writes the compacted graph, exported once, says so in the manifest and card, and keeps the
    full layout."""
    folder = _with_dead_parts(tmp_path, "plain_4sites_tied")
    openai_format.write_tokenizer(tmp_path / "tok", 512)
    corpus = tmp_path / "val.jsonl"
    corpus.write_text("".join(json.dumps({"path": p.name, "text": p.read_text()}) + "\n" for p in sorted((root / "src/core").glob("*.ts"))))
    exported, export_onnx = [], export.export_onnx
    monkeypatch.setattr(export, "export_onnx", lambda g, *a, **k: exported.append(type(g)) or export_onnx(g, *a, **k))
    import_openai.convert(folder, tmp_path / "tok", tmp_path / "bundle", corpus, mean_windows=4)
    assert exported == [CompactGPT]
    gpt, _ = import_openai.load_model(folder)
    manifest = json.loads((tmp_path / "bundle/manifest.json").read_text())
    assert manifest["metrics"]["compact_graph"] == {"n_head": [gpt.cfg.n_head - 1] * 2, "d_mlp": [gpt.cfg.d_mlp - 40, gpt.cfg.d_mlp]}
    assert manifest["nodes"]["layout"] == node_layout(gpt.cfg)
    assert "running 6 of 8 heads and 216 of 256 neurons" in (tmp_path / "bundle/MODEL_CARD.md").read_text()
    _same_outputs(tmp_path / "bundle/model.onnx", gpt)


def test_a_layer_with_no_neuron_alive_keeps_one(tmp_path):
    """A width of 0 would not export, so a layer whose MLP is all dead keeps one dead neuron, and the model
    is still the same."""
    config = openai_format.FIXTURES["sink_bigram_8sites"]
    folder = openai_format.write_model(tmp_path / "m", config, seed=4)
    sd = torch.load(folder / import_openai.WEIGHTS, weights_only=True)
    sd["transformer.h.1.mlp.c_fc.weight"][:] = 0
    sd["transformer.h.1.mlp.c_fc.bias"][:] = 0
    torch.save(sd, folder / import_openai.WEIGHTS)
    gpt, _ = import_openai.load_model(folder)
    small = compact_gpt(gpt)
    assert [b.mlp.cfg.d_mlp for b in small.transformer.h] == [config["d_mlp"], 1]
    export.export_onnx(small, tmp_path / "compact.onnx", bigram_fp16=False)
    _same_outputs(tmp_path / "compact.onnx", gpt)
