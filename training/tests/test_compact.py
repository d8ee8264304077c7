import torch

from training import import_openai, openai_format
from training.compact import dead_per_layer, dead_totals


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
