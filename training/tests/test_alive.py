import torch

from training import import_openai, openai_format
from training.alive import alive_masks, alive_summary
from training.model import node_layout


def test_dead_nodes_are_zero_on_every_input(tmp_path):
    """A neuron, a q channel and a residual channel with nothing writing them are counted dead, and every
    node counted dead is exactly 0 in the forward pass, with and without AbsTopK."""
    config = openai_format.FIXTURES["sink_bigram_8sites"]
    folder = openai_format.write_model(tmp_path / "m", config, seed=5)
    sd = torch.load(folder / import_openai.WEIGHTS, weights_only=True)
    for key in ("transformer.h.0.mlp.c_fc", "transformer.h.1.attn.c_attn"):
        sd[key + ".weight"][7] = 0
        sd[key + ".bias"][7] = 0
    for key in ("transformer.wte.weight", "transformer.wpe.weight"):
        sd[key][:, 3] = 0
    for L in range(config["n_layer"]):
        for key in ("attn.c_proj", "mlp.c_proj"):
            sd[f"transformer.h.{L}.{key}.weight"][3] = 0
            sd[f"transformer.h.{L}.{key}.bias"][3] = 0
    torch.save(sd, folder / import_openai.WEIGHTS)
    gpt, _ = import_openai.load_model(folder)
    masks = alive_masks(gpt)
    assert not masks["0.mlp.post_act"][7] and not masks["1.attn.q"][7] and not masks["1.mlp.act_in"][3]
    summary = alive_summary(gpt)
    assert summary["alive_nodes"] == sum(int(m.sum()) for m in masks.values()) <= summary["total_nodes"] - 2 - 2 * 4
    dead = torch.cat([~masks[e["name"]] for e in node_layout(gpt.cfg)])  # [N]
    ids = torch.randint(0, config["vocab_size"], (2, 64), generator=torch.Generator().manual_seed(0))
    for afrac in (gpt.cfg.afrac, 1.0):
        gpt.afrac_now = afrac
        with torch.no_grad():
            _, nodes, _ = gpt(ids, record=True)  # [B, T, N]
        assert (nodes[..., dead] == 0).all()
        assert (nodes[..., ~dead] != 0).any(dim=(0, 1)).float().mean() > 0.9  # the rest do take values
