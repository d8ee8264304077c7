"""The two-sided firing rule (training/firing.py) on synthetic activations whose answer is known."""

from __future__ import annotations

import json

import torch

from training.firing import KEY_TERMS, fit_firing_rule, rule_outcomes, write_firing

IDS = ["0.attn.resid_delta.1", "0.attn.resid_delta.2", "0.mlp.post_act.3", "1.mlp.post_act.4", "1.mlp.post_act.5", "1.attn.v.6"]


def two_sided(n: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    """acts [n, 6]: node 0 is active before class 0 only, node 1 before class 1 only (as the quote circuit's
    residual channels 109 and 32 are), the rest noise; class_of [n] alternates."""
    g = torch.Generator().manual_seed(0)
    class_of = torch.arange(n) % 2
    acts = 0.05 * torch.randn(n, len(IDS), generator=g)
    acts[:, 0] += (class_of == 0) * (2.0 + 0.3 * torch.randn(n, generator=g))
    acts[:, 1] += (class_of == 1) * (1.5 + 0.3 * torch.randn(n, generator=g))
    return acts, class_of


def test_fires_for_both_classes_with_the_sign_giving_the_class() -> None:
    acts, class_of = two_sided()
    rule = fit_firing_rule(acts, class_of, IDS)
    coef = {t["node"]: t["coef"] for t in rule["terms"]}
    assert len(rule["terms"]) <= KEY_TERMS and rule["threshold"] == 1.0 and rule["positive_class"] == 0
    assert coef[IDS[0]] > 0 and coef[IDS[1]] < 0, coef
    out = rule_outcomes(rule, acts, class_of, IDS)
    for c in ("0", "1"):
        assert out[c]["right"] >= 0.95 and out[c]["wrong"] == 0, out


def test_silent_nodes_read_zero_and_never_fire() -> None:
    acts, class_of = two_sided()
    rule = fit_firing_rule(acts, class_of, IDS)
    out = rule_outcomes(rule, torch.zeros(4, len(IDS)), torch.tensor([0, 1, 0, 1]), IDS)
    assert all(out[c]["quiet"] == 1.0 for c in ("0", "1")), out


def test_the_old_one_node_rule_misses_a_class_the_new_one_finds() -> None:
    acts, class_of = two_sided()
    old = {"terms": [{"node": IDS[0], "coef": 1 / float(acts[:, 0].abs().mean())}], "threshold": 1.0, "positive_class": 0}
    assert rule_outcomes(old, acts, class_of, IDS)["1"]["right"] == 0
    assert rule_outcomes(fit_firing_rule(acts, class_of, IDS), acts, class_of, IDS)["1"]["right"] >= 0.95


def test_write_firing_changes_only_the_firing_field(tmp_path) -> None:
    circuit = {
        "task": "t",
        "nodes": [{"id": IDS[0], "examples": {"top": [1.5, "a\\tb"]}}],
        "firing": {"terms": [], "threshold": 1.0, "positive_class": 0},
        "metrics": {"x": 0.1},
    }
    src = tmp_path / "in" / "t.json"
    src.parent.mkdir()
    src.write_text(json.dumps(circuit, indent=1))
    rule = {"terms": [{"node": IDS[0], "coef": 2.5}], "threshold": 1.0, "positive_class": 0}
    out = write_firing(src, rule, tmp_path / "out")
    assert json.loads(out.read_text()) == {**circuit, "firing": rule}
    assert out.read_text() == json.dumps({**circuit, "firing": rule}, indent=1)
