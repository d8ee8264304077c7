"""OpenAI's circuits (`viz_data.pt`) → our circuit files (training/openai_viz.py), on clean-room fixtures in
their format (training/openai_format.py): node names and flat indices, edges against the weights as their
state dict holds them, classes from the paper's token pairs and the model's own preference, and one-sentence
refusals of malformed files."""

import json

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

from training import import_openai, openai_evidence, openai_format, openai_samples, openai_viz
from training.masks import circuit_mask
from training.model import n_nodes, node_layout
from training.prune import EVIDENCE_THRESHOLDS

MODEL = "sink_bigram_8sites"
TASK = "bracket_counting_beeg"


@pytest.fixture(scope="module")
def made(tmp_path_factory, root):
    """A fixture model, its tokenizer, a viz file in upstream's layout, and the bundle converted with it."""
    base = tmp_path_factory.mktemp("viz")
    config = openai_format.FIXTURES[MODEL]
    openai_format.write_model(base / MODEL, config, seed=3)
    openai_format.write_tokenizer(base / "tok", config["vocab_size"])
    state = torch.load(base / MODEL / import_openai.WEIGHTS, weights_only=True)
    viz_path = openai_format.write_viz(
        base / openai_format.VIZ_PATH.format(model=MODEL), openai_format.random_viz(config, state, openai_format.fixture_prompts(config, 3), 3)
    )
    corpus = base / "val.jsonl"
    corpus.write_text("".join(json.dumps({"path": p.name, "text": p.read_text()}) + "\n" for p in sorted((root / "src/core").glob("*.ts"))))
    notes = import_openai.convert(base / MODEL, base / "tok", base / "bundle", corpus, mean_windows=4, viz=(str(viz_path),))
    return {"base": base, "viz": torch.load(viz_path, weights_only=True), "viz_path": viz_path, "state": state, "config": config, "notes": notes}


def circuit(made) -> dict:
    return json.loads((made["base"] / "bundle" / f"circuits/{TASK}.json").read_text())


def test_the_bundle_lists_the_circuit_and_its_card_says_so(made):
    manifest = json.loads((made["base"] / "bundle/manifest.json").read_text())
    assert manifest["circuits"] == [f"circuits/{TASK}.json"]
    card = (made["base"] / "bundle/MODEL_CARD.md").read_text()
    assert f"circuits/{TASK}.json" in card and "final_resid" in card  # the note on the location we lack


def test_nodes_are_the_kept_channels_under_our_names(made):
    c = circuit(made)
    manifest = json.loads((made["base"] / "bundle/manifest.json").read_text())
    cfg, _ = import_openai.read_config(made["base"] / MODEL)
    offset = {e["name"]: e["offset"] for e in node_layout(cfg)}
    means = np.fromfile(made["base"] / "bundle/node_means.bin", dtype="<f4")
    kept = made["viz"]["circuit_data"]
    want = [f"{loc}.{i}" for loc, idx in kept.items() if loc != "final_resid" for i in idx.tolist()]
    assert [n["id"] for n in c["nodes"]] == want and manifest["nodes"]["count"] == len(means)
    losses = made["viz"]["importances"]["ch_interv_losses"]
    for n in c["nodes"]:
        loc = f"{n['layer']}.{n['site']}"
        assert n["flat"] == offset[loc] + n["index"] and n["mean"] == pytest.approx(float(means[n["flat"]]), abs=1e-5)
        stored = losses[loc][kept[loc].tolist().index(n["index"])]
        assert n["importance"] == pytest.approx((stored - made["viz"]["importances"]["interv_loss"]) / 2, abs=1e-5)
    assert c["metrics"]["n_nodes"] == len(want) and c["metrics"]["upstream_num_total_nodes"] == made["viz"]["num_total_nodes"]


def their_weight(state: dict, config: dict, src: str, dst: str, i: int, j: int) -> float:
    """The weight from node src.i to node dst.j, read from their state dict by their key names."""
    layer, s_site = src.split(".", 1)
    t_site = dst.split(".", 1)[1]
    hd = config["n_head"] * config["d_head"]
    p = f"transformer.h.{layer}."
    part = {"attn.q": 0, "attn.k": 1, "attn.v": 2}
    if s_site == "attn.act_in":
        return float(state[p + "attn.c_attn.weight"][part[t_site] * hd + j, i])
    matrix = {"attn.v": "attn.c_proj", "mlp.act_in": "mlp.c_fc", "mlp.post_act": "mlp.c_proj"}[s_site]
    return float(state[p + matrix + ".weight"][j, i])


def test_edges_are_the_weights_between_kept_nodes(made):
    c = circuit(made)
    weight_edges = [e for e in c["edges"] if e["kind"] == "weight"]
    for e in weight_edges:
        (src, i), (dst, j) = (e["source"].rsplit(".", 1), e["target"].rsplit(".", 1))
        assert e["weight"] == pytest.approx(their_weight(made["state"], made["config"], src, dst, int(i), int(j)), abs=1e-5)
    # every nonzero weight inside a block of their pair_data (kept sources × kept targets) is an edge
    expected = 0
    for m, srcs, _, _ in made["viz"]["importances"]["pair_data"]:
        rows = [r for r, s in enumerate(srcs) if s != "bias"]
        expected += int((m[rows] != 0).sum())
    assert len(weight_edges) == expected == c["metrics"]["n_edges"] > 0


def test_classes_take_the_token_the_model_prefers_on_each_half(made):
    """Class 0 is the first half of the task prompts: its token is the one of the paper's pair
    (`]]\\n` vs `]\\n`, first tokens) that the model prefers there more often than on the second half."""
    c = circuit(made)
    gpt, _ = import_openai.load_model(made["base"] / MODEL)
    tok = Tokenizer.from_file(str(made["base"] / "bundle/tokenizer.json"))
    a, b = tok.encode("]]\n").ids[0], tok.encode("]\n").ids[0]
    docs = made["viz"]["importances"]["task_samples"][0]
    ends = openai_viz.prompt_ends(docs)
    with torch.no_grad():
        logits = torch.stack([gpt(docs[k : k + 1, : int(ends[k]) + 1])[0][0, -1] for k in range(len(docs))])
    prefers_a = logits[:, a] > logits[:, b]
    half = len(docs) // 2
    first = a if prefers_a[:half].float().mean() >= prefers_a[half:].float().mean() else b
    assert [t["id"] for t in c["classes"][0]["tokens"]] == [first] and {c["classes"][1]["tokens"][0]["id"], first} == {a, b}
    assert c["scope"] == {"kind": "list-close"}
    correct = torch.where(torch.arange(len(docs)) < half, prefers_a == (first == a), prefers_a != (first == a))
    assert c["metrics"]["accuracy_model"] == pytest.approx(float(correct.float().mean()), abs=1e-5)
    assert [e["class"] for e in c["examples"]] == [0, 1] * half and c["firing"]["terms"][0]["node"] in {n["id"] for n in c["nodes"]}


def test_a_task_the_table_lacks_takes_the_pair_its_prompts_show_and_applies_anywhere(made):
    gpt, _ = import_openai.load_model(made["base"] / MODEL)
    tok = Tokenizer.from_file(str(made["base"] / "bundle/tokenizer.json"))
    viz = openai_viz.read_viz(f"my_task={made['viz_path']}", gpt)
    means = np.zeros(sum(e["length"] for e in node_layout(gpt.cfg))).tolist()
    c = openai_viz.circuit_file(viz, gpt, tok, means, {e["name"]: e["offset"] for e in node_layout(gpt.cfg)})
    assert c["task"] == "my_task" and c["scope"] == {"kind": "anywhere"} and "differs most between the halves" in c["description"]
    docs = viz.docs
    ends = openai_viz.prompt_ends(docs)
    with torch.no_grad():
        lp = torch.stack([gpt(docs[k : k + 1, : int(ends[k]) + 1])[0][0, -1] for k in range(len(docs))]).log_softmax(-1)
    shift = lp[: len(docs) // 2].mean(0) - lp[len(docs) // 2 :].mean(0)
    assert {c["classes"][0]["tokens"][0]["id"], c["classes"][1]["tokens"][0]["id"]} == {int(shift.argmax()), int(shift.argmin())}
    assert [k["label"] for k in c["classes"]] == list(openai_viz.HALVES) and "evidence_thresholds" not in c


def test_node_examples_are_their_top_samples_in_our_format(made):
    """Each node's examples: its stored top-0.1 % contexts (both sides), largest |activation| first, ±20 tokens
    decoded with the converted tokenizer, the stored activation; no share of active tokens, as the file has none."""
    c = circuit(made)
    tok = Tokenizer.from_file(str(made["base"] / "bundle/tokenizer.json"))
    assert c["node_examples"]["corpus"] == openai_samples.SOURCE and c["node_examples"]["context"] == 20
    for n in c["nodes"]:
        bucket = made["viz"]["samples"][f"{n['layer']}.{n['site']}"][n["index"]][0.001]
        stored = sorted(((float(acts[pos]), ids, pos) for side in bucket for ids, acts, pos in side), key=lambda e: -abs(e[0]))[:5]
        ex = n["examples"]
        assert "nonzero" not in ex and ex["quantiles"] == [] and len(ex["top"]) == len(stored) > 0
        for got, (value, ids, pos) in zip(ex["top"], stored, strict=True):
            assert got["value"] == pytest.approx(value, rel=1e-3)
            assert got["token"] == tok.decode([int(ids[pos])]) and got["before"] == tok.decode(ids[max(0, pos - 20) : pos].tolist())
            assert got["after"] == tok.decode(ids[pos + 1 : pos + 21].tolist())
    assert c["node_examples"]["files"] == sum(len(n["examples"]["top"]) for n in c["nodes"])


def masked_contrast(gpt, docs, classes, keep: list[int], fill: torch.Tensor) -> torch.Tensor:
    """Class-token logit difference (own class − other) at each prompt's last token, with only `keep` live [D]."""
    ends, half = openai_viz.prompt_ends(docs), len(docs) // 2
    ids = [k["tokens"][0]["id"] for k in classes]
    mask = circuit_mask(n_nodes(gpt.cfg), keep)
    with torch.no_grad():
        logits = torch.stack([gpt(docs[i : i + 1, : int(ends[i]) + 1], node_mask=mask, node_fill=fill)[0][0, -1] for i in range(len(docs))])
    own = torch.tensor([ids[int(i >= half)] for i in range(len(docs))])
    return logits.gather(1, own[:, None])[:, 0] - logits.gather(1, torch.tensor([ids[int(i < half)] for i in range(len(docs))])[:, None])[:, 0]


def test_the_circuit_alone_is_measured_with_the_other_nodes_at_their_means(made):
    """task_loss_circuit and logit_diff_recovered: the circuit's nodes live, every other node at the bundle's
    mean, on the task prompts; and the paper's pair lets the file make its claim with our thresholds."""
    c = circuit(made)
    gpt, _ = import_openai.load_model(made["base"] / MODEL)
    fill = torch.from_numpy(np.fromfile(made["base"] / "bundle/node_means.bin", dtype="<f4"))
    docs = made["viz"]["importances"]["task_samples"][0]
    d = masked_contrast(gpt, docs, c["classes"], [n["flat"] for n in c["nodes"]], fill)
    full = masked_contrast(gpt, docs, c["classes"], list(range(n_nodes(gpt.cfg))), fill)
    m = c["metrics"]
    assert m["task_loss_circuit"] == pytest.approx(float(torch.nn.functional.softplus(-d).mean()), abs=1e-4)
    assert m["logit_diff_recovered"] == pytest.approx(float(d.mean() / full.mean()), rel=1e-3)
    assert m["model"]["task_loss"] == pytest.approx(m["task_loss_model"], abs=1e-4) and m["random_same_size"]["trials"] == 5
    assert c["evidence_thresholds"] == EVIDENCE_THRESHOLDS


def test_a_circuit_of_every_node_recovers_all_and_an_empty_one_none(made):
    """Keeping every node is the full model (100 % of its logit difference). Keeping none leaves only the
    direct path from the last token, so on prompts of one length that end on one token both halves get the
    same logits: the class contrast cancels (0 % recovered) and half the prompts are wrong."""
    gpt, _ = import_openai.load_model(made["base"] / MODEL)
    fill = torch.from_numpy(np.fromfile(made["base"] / "bundle/node_means.bin", dtype="<f4"))
    docs = made["viz"]["importances"]["task_samples"][0].clone()
    docs[:, -1] = 7  # every prompt full length, ending on one token
    ends = openai_viz.prompt_ends(docs)
    classes = [{"label": x, "tokens": [{"id": i, "text": x}]} for x, i in (("a", 11), ("b", 12))]
    every = openai_evidence.circuit_evidence(gpt, docs, ends, classes, list(range(n_nodes(gpt.cfg))), fill)
    assert every["logit_diff_recovered"] == pytest.approx(1.0, abs=1e-5) and every["task_loss_circuit"] == pytest.approx(every["model"]["task_loss"], abs=1e-5)
    none = openai_evidence.circuit_evidence(gpt, docs, ends, classes, [], fill)
    assert abs(none["circuit"]["logit_diff"]) < 1e-4 and abs(none["logit_diff_recovered"]) < 1e-3 and none["circuit"]["accuracy"] == 0.5
    assert none["task_loss_circuit"] >= float(np.log(2)) - 1e-6  # at or past chance


def test_the_task_comes_from_upstreams_folders_or_the_argument(tmp_path):
    assert openai_viz.parse_viz_arg("/x/viz/csp_yolo1/single_double_quote/prune_v2/64/viz_data.pt")[0] == "single_double_quote"
    assert openai_viz.parse_viz_arg("quote=/tmp/viz_data.pt") == ("quote", openai_viz.Path("/tmp/viz_data.pt"))
    with pytest.raises(openai_format.FormatError, match="cannot tell which task"):
        openai_viz.parse_viz_arg(str(tmp_path / "viz_data.pt"))


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda v: v.pop("circuit_data"), "has no circuit_data key"),
        (lambda v: v["circuit_data"].update({"7.attn.q": torch.tensor([1])}), "circuit_data names location '7.attn.q'"),
        (lambda v: v["circuit_data"].update({"0.attn.q": torch.tensor([1, 40])}), "circuit_data['0.attn.q'] holds an index outside 0..31"),
        (lambda v: v["circuit_data"].update({"0.attn.q": torch.tensor([1.5])}), "circuit_data['0.attn.q'] must be a 1-D tensor of integer"),
        (lambda v: v["importances"]["ch_interv_losses"].update({"0.mlp.post_act": [0.1]}), "ch_interv_losses['0.mlp.post_act'] has 1 entries"),
        (lambda v: v["importances"]["ch_interv_losses"].pop("1.attn.v"), "ch_interv_losses has no entry for 1.attn.v"),
        (lambda v: v["importances"].pop("interv_loss"), "importances.interv_loss must be a finite number"),
        (lambda v: v["importances"].update({"task_samples": (torch.zeros(3, 8, dtype=torch.long), {})}), "task_samples[0] must be integer token ids"),
        (lambda v: v["importances"].update({"task_samples": (torch.full((2, 8), 9999), {})}), "ids outside the vocabulary"),
    ],
)
def test_malformed_viz_files_are_refused_in_one_sentence(made, tmp_path, edit, says):
    viz = torch.load(made["viz_path"], weights_only=True)
    edit(viz)
    path = openai_format.write_viz(tmp_path / "viz_data.pt", viz)
    gpt, _ = import_openai.load_model(made["base"] / MODEL)
    with pytest.raises(openai_format.FormatError) as e:
        openai_viz.read_viz(f"t={path}", gpt)
    assert says in str(e.value) and str(path) in str(e.value) and str(e.value).count(". ") == 0


def test_a_missing_or_unreadable_file_is_named(made, tmp_path):
    path = tmp_path / "viz_data.pt"
    gpt, _ = import_openai.load_model(made["base"] / MODEL)
    with pytest.raises(openai_format.FormatError, match=r"viz_data\.pt is missing: --viz names one viz_data\.pt of this model\.$"):
        openai_viz.read_viz(f"t={path}", gpt)
    path.write_bytes(b"not a pickle")
    with pytest.raises(openai_format.FormatError, match=r"viz_data\.pt is not a viz file that loads with weights_only=True"):
        openai_viz.read_viz(f"t={path}", gpt)
