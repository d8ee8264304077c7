import math
import random

import pytest
import torch

from training import circuit_search, evidence, masks, tasks
from training.model import GPT, GPTConfig, n_nodes, node_layout

CFG = GPTConfig(n_layer=1, d_model=16, n_head=2, d_head=8, d_mlp=32, block_size=16, pos_emb=False)
TOK_X, TOK_Y, ANS_A, ANS_B = 10, 11, 20, 21
C_IN, NEURON, C_OUT = 3, 7, 9


def planted_model() -> GPT:
    """A model whose only route from 'prompt ends in X' to 'answer A' is 0.mlp.act_in.3 → 0.mlp.post_act.7 →
    0.mlp.resid_delta.9; everything else is zero or noise that does not reach the answer."""
    torch.manual_seed(0)
    g = GPT(CFG)
    with torch.no_grad():
        for p in g.parameters():
            if p.ndim == 2:
                p.zero_()
        g.transformer.wte.weight[:, 0] = 1.0  # every token writes channel 0 (noise the task does not need)
        g.transformer.wte.weight[TOK_X, C_IN] = 1.0
        g.transformer.wte.weight[TOK_Y, C_IN] = -1.0
        mlp = g.transformer.h[0].mlp
        mlp.c_fc.weight[NEURON, C_IN] = 3.0
        mlp.c_fc.weight[1, 0] = 3.0  # an always-on neuron unrelated to the task
        mlp.c_proj.weight[C_OUT, NEURON] = 3.0
        mlp.c_proj.weight[2, 1] = 3.0
        g.lm_head.weight[ANS_A, C_OUT] = 4.0
        g.lm_head.weight[ANS_B, C_OUT] = -4.0
        g.bigram_table[TOK_Y, ANS_B] = 6.0  # Y's answer needs no nodes
    return g.eval()


@pytest.mark.parametrize(("settle", "recover"), [(0.0, 0.0), (0.5, 0.0), (0.5, 0.9)])
def test_pruning_recovers_the_planted_circuit(settle, recover):
    g = planted_model()
    examples = []
    for i in range(64):
        filler = [30 + (i * 7 + j) % 50 for j in range(i % 5)]
        examples.append(tasks.Example(filler + [TOK_X], ANS_A, ANS_B, "template"))
        examples.append(tasks.Example(filler + [TOK_Y], ANS_B, ANS_A, "template"))
    fill = torch.zeros(n_nodes(CFG))  # zero-ablation keeps the planted path the only way to answer A
    best = circuit_search.prune_task(g, examples, fill, target=0.15, coefs=(1e-3,), log=lambda *_: None, settle=settle, min_recovered=recover, recover=recover)
    kept = set(best["order"][: best["k"]].tolist())
    offsets = {e["name"]: e["offset"] for e in node_layout(CFG)}
    planted = {offsets["0.mlp.act_in"] + C_IN, offsets["0.mlp.post_act"] + NEURON, offsets["0.mlp.resid_delta"] + C_OUT}
    assert kept == planted, sorted(kept)
    edges = evidence.circuit_edges(g, sorted(kept))
    assert {(e["source"], e["target"]) for e in edges if e["kind"] == "weight"} == {
        (f"0.mlp.act_in.{C_IN}", f"0.mlp.post_act.{NEURON}"),
        (f"0.mlp.post_act.{NEURON}", f"0.mlp.resid_delta.{C_OUT}"),
    }


def test_several_mask_seeds_keep_the_smallest_circuit_within_the_target_on_held_out_examples(monkeypatch):
    monkeypatch.setattr(circuit_search, "BISECT_EXAMPLES", 64)  # the planted task has 128 examples: search on 64, hold out 64
    g = planted_model()
    examples = [tasks.Example([30 + i % 50, TOK_X], ANS_A, ANS_B, "template") for i in range(64)]
    examples += [tasks.Example([30 + i % 50, TOK_Y], ANS_B, ANS_A, "template") for i in range(64)]
    random.Random(0).shuffle(examples)
    fill = torch.zeros(n_nodes(CFG))
    seen = []
    best = circuit_search.prune_task(g, examples, fill, target=0.15, coefs=(1e-3,), log=seen.append, seeds=(0, 1))
    assert sum("mask seed" in line for line in seen) == 2
    assert best["seed"] in (0, 1) and best["held_out_loss"] <= 0.15
    assert best["k"] == 3


def test_frozen_norms_change_nothing_without_ablation_and_hold_scales_under_it():
    torch.manual_seed(1)
    g = GPT(CFG).eval()
    ids = torch.randint(0, 2048, (2, 12))
    N = n_nodes(CFG)
    free, _, _ = g(ids)
    frozen, _, _ = masks.FrozenNorms(g)(ids, node_mask=torch.ones(N), node_fill=torch.zeros(N))
    assert torch.allclose(free, frozen, atol=1e-6), "nothing ablated: the frozen scales are the live ones"
    mask = torch.ones(N)
    mask[: N // 2] = 0
    live, _, _ = g(ids, node_mask=mask, node_fill=torch.zeros(N))
    held, _, _ = masks.FrozenNorms(g)(ids, node_mask=mask, node_fill=torch.zeros(N))
    assert not torch.allclose(live, held, atol=1e-4), "under ablation the norms divide by the unablated scales"


def test_calibration_shift_lives_in_class_space():
    # the same class logit difference D for every example, half the labels each way: the class
    # difference carries no information, so no scale or shift may do better than chance (ln 2);
    # a shift on correct − wrong would have driven this loss to 0
    d = torch.tensor([2.0, -2.0, 2.0, -2.0])  # correct − wrong = sign · D with D = 2
    sign = torch.tensor([1.0, -1.0, 1.0, -1.0])
    a, b, loss = evidence.calibrate(d, sign)
    assert abs(loss - math.log(2)) < 1e-3, (a, b, loss)


def test_size_curve_takes_the_smallest_circuit_within_each_target():
    from training.compare_dense import smallest_within

    points = [
        {"n_nodes": 16, "n_edges": 20, "train_task_loss": 0.34},
        {"n_nodes": 21, "n_edges": 30, "train_task_loss": 0.39},  # greedy elimination found a larger one here
        {"n_nodes": None, "n_edges": None},
    ]  # a target the model cannot reach
    assert smallest_within(points, 0.40)["n_nodes"] == 16
    assert smallest_within(points, 0.35)["n_nodes"] == 16
    assert smallest_within(points, 0.30) is None


def test_bisection_stays_inside_the_open_set_or_just_past_it_when_the_loss_is_not_monotone_past_it():
    # the shape measured on depth-half-quotes' bracket mask: its open nodes reach the target, the prefixes
    # that add the nodes just below τ = 0 miss it, and only the whole model reaches it again
    def loss_at(k: int) -> float:
        return 1.0 if k < 60 else 0.03 if k <= 100 else 0.5 if k < 689 else 0.1

    def reaches(k: int) -> bool:
        return loss_at(k) <= 0.15

    assert circuit_search.shortest_prefix(reaches, 2816, n_open=100) == 60
    # without the open set, bisection over every node lands past the bad stretch
    assert circuit_search.shortest_prefix(reaches, 2816) == 689
    # an open set just short of the target grows by the next nodes one at a time
    assert circuit_search.shortest_prefix(reaches, 2816, n_open=40) == 60
    # one farther than OPEN_SET_EXTENSION from it falls back to the whole order
    assert circuit_search.shortest_prefix(lambda k: k >= 689, 2816, n_open=40) == 689


def test_elimination_keeps_the_share_of_the_logit_difference_it_is_asked_for():
    g = planted_model()
    examples = [tasks.Example([30 + i % 5, TOK_X], ANS_A, ANS_B, "template") for i in range(16)]
    examples += [tasks.Example([30 + i % 5, TOK_Y], ANS_B, ANS_A, "template") for i in range(16)]
    fill = torch.zeros(n_nodes(CFG))
    offsets = {e["name"]: e["offset"] for e in node_layout(CFG)}
    planted = [offsets["0.mlp.act_in"] + C_IN, offsets["0.mlp.post_act"] + NEURON, offsets["0.mlp.resid_delta"] + C_OUT]
    spare = [offsets["0.mlp.post_act"] + 1, offsets["0.mlp.resid_delta"] + 2, offsets["0.attn.act_in"]]  # the unrelated neuron's path
    nodes, _ = circuit_search.refine(g, examples, planted + spare, fill, target=0.15)
    assert sorted(nodes) == sorted(planted)
    # a share no circuit keeps (10× the model's difference) allows no drop at all
    nodes, _ = circuit_search.refine(g, examples, planted + spare, fill, target=0.15, floor=circuit_search.recovered_floor(g, examples, fill, 10.0))
    assert sorted(nodes) == sorted(planted + spare)
    # bisection honours the floor too: with the planted nodes first, three reach the loss, none the floor
    order = torch.tensor(planted + [f for f in range(n_nodes(CFG)) if f not in planted])
    assert circuit_search.smallest_k(g, examples, order, fill, 0.15)[0] == 3
    floor = circuit_search.recovered_floor(g, examples, fill, 10.0)
    assert circuit_search.smallest_k(g, examples, order, fill, 0.15, floor=floor)[0] == n_nodes(CFG)
