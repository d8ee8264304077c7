import torch

from training import sparsity
from training.model import GPT, GPTConfig
from training.train import CONFIGS, make_optimizer, normalize_grad_rms_


def test_projection_keeps_exactly_k_and_the_floor():
    torch.manual_seed(0)
    w = torch.randn(64, 48)
    k = sparsity.nonzeros_for(w.numel(), 1 / 8)
    sparsity.project_(w, k)
    assert int((w != 0).sum()) == k
    assert int((w != 0).sum(1).min()) >= sparsity.MIN_PER_NEURON
    assert int((w != 0).sum(0).min()) >= sparsity.MIN_PER_NEURON


def test_a_density_below_the_floor_keeps_the_floor_alone():
    torch.manual_seed(0)
    w = torch.randn(16, 16)
    floor = sparsity.floor_mask(w)
    kept = sparsity.project_(w, 10)
    assert kept == int(floor.sum()) > 10
    assert torch.equal(w != 0, floor)  # every row and column keeps its 4 largest, nothing else
    assert int((w != 0).sum(1).min()) >= sparsity.MIN_PER_NEURON and int((w != 0).sum(0).min()) >= sparsity.MIN_PER_NEURON


def test_density_anneals_linearly_over_the_first_half():
    assert sparsity.density_at(0, 100, 0.1) == 1.0
    assert abs(sparsity.density_at(25, 100, 0.1) - 0.55) < 1e-9
    assert abs(sparsity.density_at(50, 100, 0.1) - 0.1) < 1e-12
    assert abs(sparsity.density_at(99, 100, 0.1) - 0.1) < 1e-12
    # a fine-tune of an already sparse run: the target from the first step
    assert sparsity.density_at(0, 100, 0.1, anneal_frac=0) == 0.1


def test_nonzeros_exactly_as_scheduled_after_every_step():
    spec = CONFIGS["tiny"]
    torch.manual_seed(0)
    model = GPT(spec["model"])
    opt = make_optimizer(model, 1e-2)
    sparse = model.sparse_parameters()
    assert "transformer.wte.weight" in sparse and "bigram_table" not in sparse
    total = 12
    for step in range(total):
        x = torch.randint(0, 2048, (2, 16))
        logits, _, _ = model(x)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), x.flatten())
        opt.zero_grad()
        loss.backward()
        normalize_grad_rms_(model.parameters())
        opt.step()
        density = sparsity.density_at(step + 1, total, spec["density"])
        sparsity.project_model_(sparse, density)
        for name, p in sparse.items():
            assert int((p != 0).sum()) == sparsity.nonzeros_for(p.numel(), density), (step, name)
            assert int((p != 0).sum(1).min()) >= 4 and int((p != 0).sum(0).min()) >= 4, name


def test_grad_rms_normalised_to_one():
    m = GPT(GPTConfig(n_layer=1, d_model=16, n_head=2, d_head=8, d_mlp=32, block_size=16, bigram_table=False))
    x = torch.randint(0, 2048, (2, 8))
    logits, _, _ = m(x)
    logits.sum().backward()
    normalize_grad_rms_(m.parameters())
    grads = torch.cat([p.grad.flatten() for p in m.parameters() if p.grad is not None])
    assert abs(float(grads.pow(2).mean().sqrt()) - 1.0) < 1e-4
