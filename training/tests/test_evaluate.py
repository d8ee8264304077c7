"""The circuits on real code (evaluate.py): alone keeps only the circuit's nodes, ablated removes them."""

import json

import numpy as np
import torch
from tokenizers import Tokenizer

from training import evaluate, realcode
from training.model import n_nodes
from training.tests.test_export import TINY, _sparse_tiny, _tiny_bundle


def real_text(lines: int = 80, seed: int = 0) -> str:
    """Python lines with nested and flat list closes."""
    rng = np.random.default_rng(seed)
    words = ["alpha", "beta", "x", "y", "count", "item", "7", "42", "None"]
    out = []
    for i in range(lines):
        w = [str(rng.choice(words)) for _ in range(4)]
        out.append(f"v{i} = [[{w[0]}, {w[1]}], [{w[2]}]]" if i % 2 else f"v{i} = [{w[0]}, {w[1]}, {w[3]}]")
    return "\n".join(out) + "\n"


def test_circuit_alone_and_ablated_on_real_code(tmp_path, root):
    gpt = _sparse_tiny(seed=5)
    with torch.no_grad():
        gpt.bigram_table.zero_()  # its random logits would outvote the nodes, whose ablation the test needs to see
    data, bundle = _tiny_bundle(gpt, tmp_path, root)
    # one bracket "circuit" is every node, the other none: alone and ablated swap the full model and every node ablated
    (bundle / "circuits").mkdir()
    every = [{"flat": i} for i in range(n_nodes(TINY))]
    for task, nodes in (("bracket_counting", every), ("bracket_counting_paper", [])):
        (bundle / "circuits" / f"{task}.json").write_text(json.dumps({"task": task, "nodes": nodes, "metrics": {"n_nodes": len(nodes)}}))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["circuits"] = ["circuits/bracket_counting.json", "circuits/bracket_counting_paper.json"]
    tok = Tokenizer.from_file(str(data / "tokenizer.json"))
    picked = realcode.sample([real_text()], 30)
    cases = {"heldout": picked}
    fill = torch.from_numpy(np.fromfile(bundle / "node_means.bin", dtype="<f4"))

    def balanced(mask=None):
        diffs = realcode.torch_diffs(gpt) if mask is None else realcode.torch_diffs(gpt, mask, fill)
        scored = realcode.score(diffs, tok, picked, TINY.block_size)
        return scored["bracket"]["balanced"]

    full, none = balanced(), balanced(torch.zeros_like(fill))
    assert full != none, f"the tiny model must tell the full model ({full}) from every node ablated ({none}), or the test shows nothing"
    alone = evaluate.circuit_real_code(gpt, tok, cases, bundle, manifest, alone=True)
    ablated = evaluate.circuit_real_code(gpt, tok, cases, bundle, manifest, alone=False)
    assert alone == {"bracket_counting": {"heldout": full}, "bracket_counting_paper": {"heldout": none}}
    assert ablated == {"bracket_counting": {"heldout": none}, "bracket_counting_paper": {"heldout": full}}
    real = {source: realcode.score(realcode.torch_diffs(gpt), tok, c, TINY.block_size) for source, c in cases.items()}
    evaluate.write_real_code_evidence(bundle, manifest, real, ablated, alone)
    written = json.loads((bundle / "circuits" / "bracket_counting.json").read_text())["metrics"]
    assert written == {"n_nodes": len(every), "real_code_model": full, "real_code_alone": full, "real_code_ablated": none}
