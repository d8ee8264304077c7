"""training/node_examples.py on a tiny exported model: the windows follow the editor's grid, every
example's value is the PyTorch model's activation at that token, the text around it is the file's,
the top examples are the largest and do not overlap, and the rest of the circuit file is kept."""

import json

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

from training import export, node_examples
from training.model import GPT, GPTConfig, n_nodes, node_layout

TINY = GPTConfig(n_layer=2, d_model=32, n_head=2, d_head=16, d_mlp=64, block_size=64)
CONTEXT = 5  # tokens either side
FILES = [
    ("a/strings.py", "def greet(name):\n\tprint(\"hello, \" + name)  # café\n    return 'ok'\n" * 6),
    ("b/lists.py", "values = [[5, 3, 11], [2, 7]]\nwhile True:\n    x = {'a': values[0][1]}\n" * 5),
    ("c/short.py", "x = 1\n"),
]
# sites of a dense node (the residual read) and sparse ones (AbsTopK keeps a quarter); the fixture
# takes each site's most often active node, and one MLP node that is never active in these files
SITES = ["0.attn.act_in", "0.mlp.post_act", "1.attn.resid_delta"]
SILENT = 63  # the MLP node made never active


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory, root):
    """A bundle folder around a tiny random sparse model, with the shipped tokenizer and one circuit."""
    shipped = sorted(root.glob("models/*/tokenizer.json"))
    if not shipped:
        pytest.skip("no bundle under models/ to take a tokenizer from")
    out = tmp_path_factory.mktemp("bundle")
    torch.manual_seed(0)
    gpt = GPT(TINY)
    with torch.no_grad():
        gpt.bigram_table.normal_(0, 0.5)
        for p in gpt.sparse_parameters().values():
            p.mul_((torch.rand_like(p) < 0.3).float())
        gpt.transformer.h[0].mlp.c_fc.weight[SILENT] = 0  # no input: GELU(0) = 0 at every token
    export.round_bigram_fp16_(gpt)
    gpt.eval()
    export.export_onnx(gpt, out / "model.onnx")
    (out / "tokenizer.json").write_bytes(shipped[0].read_bytes())
    means = np.random.default_rng(0).normal(0, 0.1, n_nodes(TINY)).astype("<f4")
    means.tofile(out / "node_means.bin")
    layout = node_layout(TINY)
    span = {e["name"]: (e["offset"], e["offset"] + e["length"]) for e in layout}
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    eot = tok.token_to_id("<|endoftext|>")
    with torch.no_grad():
        active = sum((gpt(torch.tensor([[eot, *tok.encode(t).ids][:64]]), record=True)[1][0] != 0).sum(0) for _, t in FILES)  # [N]
    picks = [(name, int(active[slice(*span[name])].argmax())) for name in SITES]
    picks.append(("0.mlp.post_act", SILENT))
    nodes = []
    for name, index in picks:
        layer, kind, site = name.split(".", 2)
        nodes.append(
            {
                "id": f"{name}.{index}",
                "layer": int(layer),
                "site": f"{kind}.{site}",
                "index": index,
                "flat": span[name][0] + index,
                "label": "x",
                "meaning": "y",
                "mean": 0.0,
                "importance": 0.5,
            }
        )
    circuit = {"task": "t", "title": "T", "nodes": nodes, "edges": [], "metrics": {"n_nodes": 3}}
    (out / "circuits").mkdir()
    (out / "circuits" / "t.json").write_text(json.dumps(circuit, indent=1))
    manifest = {
        "onnx": "model.onnx",
        "tokenizer": "tokenizer.json",
        "eot_id": eot,
        "context": TINY.block_size,
        "nodes": {"count": n_nodes(TINY), "layout": layout, "means": "node_means.bin"},
        "circuits": ["circuits/t.json"],
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    val = out / "val.jsonl"
    val.write_text("".join(json.dumps({"path": p, "text": t}) + "\n" for p, t in FILES))
    return out, val, gpt, tok


def test_grid_windows_tile_the_sequence_like_the_editor():
    context, n_tokens = 64, 150
    windows = node_examples.grid_windows(0, n_tokens, context)
    read = [p for w in windows for p in range(w.start + w.scored_from, w.start + w.length)]
    assert read == list(range(n_tokens + 1)), "every position of [EOT] + tokens is read exactly once, in order"
    assert all(w.length <= context for w in windows)
    assert all(w.scored_from >= context // 2 for w in windows[1:]), "later windows read only positions with half a context on the left"
    assert [(w.start, w.length, w.scored_from) for w in windows] == [(0, 64, 0), (32, 64, 32), (64, 64, 32), (96, 55, 32)]


def test_choose_windows_is_a_fixed_even_spread():
    lengths = [500, 0, 40, 900]
    a = node_examples.choose_windows(lengths, 64, 10)
    assert a == node_examples.choose_windows(lengths, 64, 10)
    every = [w for i, n in enumerate(lengths) if n for w in node_examples.grid_windows(i, n, 64)]
    assert len(a) == 10 and a[0] == every[0] and a[-1] == every[-1] and {w.file for w in a} >= {0, 3}
    assert sorted(a, key=every.index) == a and len(set(a)) == 10, "distinct windows, in corpus order"
    assert node_examples.choose_windows(lengths, 64, 1000) == every


def _reference(gpt, tok, flat: int) -> dict[tuple[int, int], float]:
    """PyTorch activation of node `flat` at every (file, token), each read in the grid window that scores it."""
    eot = tok.token_to_id("<|endoftext|>")
    out = {}
    for f, (_, text) in enumerate(FILES):
        seq = [eot, *tok.encode(text).ids]
        for w in node_examples.grid_windows(f, len(seq) - 1, TINY.block_size):
            with torch.no_grad():
                _, nodes, _ = gpt(torch.tensor([seq[w.start : w.start + w.length]]), record=True)  # [1, T, N]
            for j in range(w.scored_from, w.length):
                if w.start + j >= 1:
                    out[(f, w.start + j - 1)] = float(nodes[0, j, flat])
    return out


def test_examples_are_the_models_activations_in_the_files_text(tiny_bundle):
    bundle, val, gpt, tok = tiny_bundle
    sizes = node_examples.run(bundle, val, windows=1000, top=3, quantiles=(0.5, 0.9), context=CONTEXT)
    assert sizes["t.json"][1] > sizes["t.json"][0]
    written = (bundle / "circuits" / "t.json").read_text()
    node_examples.run(bundle, val, windows=1000, top=3, quantiles=(0.5, 0.9), context=CONTEXT)
    assert (bundle / "circuits" / "t.json").read_text() == written, "a second run gives the same file (fixed windows, examples replaced)"
    circuit = json.loads(written)
    assert circuit["metrics"] == {"n_nodes": 3} and circuit["edges"] == [], "the rest of the circuit file is kept"
    info = circuit["node_examples"]
    assert info["corpus"] == "val.jsonl" and info["files"] == 3 and info["context"] == CONTEXT
    encodings = [tok.encode(t) for _, t in FILES]
    assert info["tokens"] == sum(len(e.ids) for e in encodings), "every token of the small corpus was scanned once"
    paths = [p for p, _ in FILES]
    for node in circuit["nodes"]:
        ref = _reference(gpt, tok, node["flat"])
        ex = node["examples"]
        assert ex["nonzero"] == pytest.approx(np.mean([v != 0 for v in ref.values()]), abs=1e-4)
        if node is circuit["nodes"][-1]:
            assert ex == {"nonzero": 0, "top": [], "quantiles": []}, "a node never active in the corpus has no examples"
            continue
        assert [q["q"] for q in ex["quantiles"]] == [0.5, 0.9]
        top = ex["top"]
        assert len(top) == 3
        assert abs(top[0]["value"]) == pytest.approx(max(abs(v) for v in ref.values()), rel=1e-3), (
            f"{node['id']}: the first top example is the largest |activation|"
        )
        assert [abs(e["value"]) for e in top] == sorted((abs(e["value"]) for e in top), reverse=True)
        ranked = sorted(abs(v) for v in ref.values() if v != 0)
        for q in ex["quantiles"]:
            assert abs(q["example"]["value"]) == pytest.approx(ranked[round(q["q"] * (len(ranked) - 1))], rel=1e-3), f"{node['id']}: the q = {q['q']} example"
        at = []  # (file, token index) of each example
        for e in top + [q["example"] for q in ex["quantiles"]]:
            f = paths.index(e["file"])
            text = FILES[f][1]
            piece = e["before"] + e["token"] + e["after"]
            # the files repeat themselves: the occurrence of the context whose token is on the example's line
            starts = [at + len(e["before"]) for at in range(len(text)) if text.startswith(piece, at)]
            start = next((s for s in starts if text.count("\n", 0, s) + 1 == e["line"]), None)
            assert start is not None, f"the context is a piece of {e['file']} with its token on line {e['line']}"
            i = next(i for i, (s, _) in enumerate(encodings[f].offsets) if s == start)
            # by character offsets: a byte-level token may hold part of a character (é split in two bytes)
            assert text[slice(*encodings[f].offsets[i])] == e["token"]
            at.append((f, i))
            assert e["value"] == pytest.approx(ref[(f, i)], rel=1e-3, abs=1e-6), f"{node['id']}: ONNX value at {e['file']}:{e['line']} is the model's"
            assert len(tok.encode(e["before"]).ids) <= CONTEXT + 1 and len(tok.encode(e["after"]).ids) <= CONTEXT + 1
        tops = at[: len(top)]
        assert all(a[0] != b[0] or abs(a[1] - b[1]) > 2 * CONTEXT for a in tops for b in tops if a is not b), "top contexts do not overlap"


def test_a_node_the_bundle_does_not_have_is_refused(tiny_bundle):
    bundle, val, _, _ = tiny_bundle
    path = bundle / "circuits" / "t.json"
    good = path.read_text()
    circuit = json.loads(good)
    circuit["nodes"][0]["flat"] += 1
    path.write_text(json.dumps(circuit))
    try:
        with pytest.raises(SystemExit, match="says flat"):
            node_examples.run(bundle, val, windows=4, top=1, quantiles=(0.5,), context=CONTEXT)
    finally:
        path.write_text(good)
