"""Clean-room fixtures in the file format of OpenAI's released weight-sparse models.

The format facts (docs: ../shared/research/openai-checkpoints.md, issue 18) are written down here from
reading the public openai/circuit_sparsity repository; no code of theirs is used. A model folder holds
`beeg_config.json` (their GPTConfig's fields as JSON) and `final_model.pt` (a plain torch.save of the
state dict); the tokenizer folder holds GPT-2 "data-gym" files `vocab.bpe` (merges) and `encoder.json`.
The writer fills every tensor with random sparse values, so that tests exercise the converter
(training/import_openai.py) on every variant the released models use, without their weights. A circuit
upstream found is one `viz_data.pt` (docs/openai-viz-format.md); `random_viz` writes one for a fixture model
with random kept nodes, losses, prompts and contexts, and weight blocks taken from its state dict.

    python -m training.openai_format --out /tmp/openai-fixtures            # every fixture + a tokenizer + viz files
    python -m training.openai_format --out /tmp/yolo1 --only yolo1_shape    # the large speed fixture
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from tokenizers import pre_tokenizers, trainers

from . import tokenizer as our_tokenizer


class FormatError(ValueError):
    """A file of theirs we cannot convert; the message is one sentence naming the file and the key."""


def load_published(path: Path, missing: str, what: str):
    """One of their torch files, read as their code reads it (weights_only=True); a missing or unreadable
    file is one sentence: `missing` says what belongs there, `what` what the file should be."""
    if not path.is_file():
        raise FormatError(f"{path} is missing: {missing}.")
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # noqa: BLE001 — any unreadable file gets the same one sentence
        raise FormatError(f"{path} is not {what} that loads with weights_only=True ({type(e).__name__}: {e}).") from e


# their AbsTopK location names (`afrac_loctypes`), in our node-location order
LOCTYPES = ("attn_in", "attn_q", "attn_k", "attn_v", "attn_out", "mlp_in", "mlp_neuron", "mlp_out")
DEFAULT_LOCTYPES = "attn_in,attn_out,mlp_in,mlp_out"  # their GPTConfig's default: 4 sites

# the fields of their current GPTConfig, and what they default to there when a file leaves them out
UPSTREAM_DEFAULTS = {
    "block_size": 1024,
    "vocab_size": 50304,
    "n_layer": 12,
    "n_head": 12,
    "d_head": None,
    "d_model": 768,
    "dropout": 0.0,
    "bias": True,
    "ln_bias": True,
    "rms_norm": False,
    "residual_activation_type": "identity",
    "activation_type": "gelu",
    "afrac": None,
    "afrac_loctypes": DEFAULT_LOCTYPES,
    "debug_nans": False,
    "tied_unembed": True,
    "tokenizer_name": "tinypython_2k",
    "grad_checkpointing": True,
    "d_mlp": None,
    "enable_bigram_table": False,
    "learnable_bigram_table": False,
    "d_pos_emb": None,
    "dropout_cat_pos_emb": False,
    "sinusoidal_cat_pos_emb": False,
    "enable_sparse_kernels": False,
    "flash": True,
    "sink": False,
}

# a config as their training code writes it for the released models (every field; RMSNorm, biases, 8 sites)
BASE = {
    **UPSTREAM_DEFAULTS,
    "block_size": 64,
    "vocab_size": 512,
    "n_layer": 2,
    "n_head": 4,
    "d_head": 8,
    "d_model": 32,
    "rms_norm": True,
    "afrac": 0.25,
    "afrac_loctypes": ",".join(LOCTYPES),
    "tied_unembed": False,
    "d_mlp": 128,
    "enable_bigram_table": True,
}

# the variants CI converts: sinks on/off, bigram on/off, 4 vs 8 AbsTopK sites, tied/untied, afrac null,
# ReLU MLPs, and an older config with keys current upstream code rejects (tolerated by our converter)
FIXTURES: dict[str, dict] = {
    "sink_bigram_8sites": {**BASE, "sink": True},
    "plain_4sites_tied": {**BASE, "enable_bigram_table": False, "afrac_loctypes": DEFAULT_LOCTYPES, "tied_unembed": True},
    "dense_relu_afrac_null": {**BASE, "afrac": None, "activation_type": "relu", "sink": True, "n_layer": 1},
    "legacy_keys": {
        **{k: v for k, v in BASE.items() if k not in ("d_mlp", "sink")},
        "n_mlp": 96,  # the old name of d_mlp
        "pfrac": 0.0625,
        "expansion_factor": 4,
        "use_tied_aux_matrix": False,
    },
}

# released models' shapes, for speed scripts (training/bench_openai.py), far too large for CI:
# csp_sweep1_1x_* (8 layers, d 256, 16 heads × 16, d_mlp 1024, ctx 1024: 11.8M parameters = its 47.3 MB),
# csp_yolo1 (≈ 12 layers, d 1024, 128 heads × 8, d_mlp 4096, bigram, no sink) and csp_yolo2, with their weight
# densities (UNCERTAIN: ≈ 1/16, 1/256 and 1/1024 from the training code's sparsity settings)
LARGE = {
    "sweep1_shape": {**BASE, "block_size": 1024, "vocab_size": 2048, "n_layer": 8, "n_head": 16, "d_head": 16, "d_model": 256, "d_mlp": 1024},
    "yolo1_shape": {**BASE, "block_size": 1024, "vocab_size": 2048, "n_layer": 12, "n_head": 128, "d_head": 8, "d_model": 1024, "d_mlp": 4096},
    # csp_yolo2 (≈ 8 layers, d 2048, d_mlp 8192, sinks; heads guessed as csp_bridges2's 128 × 16): 1.67 GB
    "yolo2_shape": {**BASE, "block_size": 1024, "vocab_size": 2048, "n_layer": 8, "n_head": 128, "d_head": 16, "d_model": 2048, "d_mlp": 8192, "sink": True},
}
LARGE_DENSITY = {"sweep1_shape": 1 / 16, "yolo1_shape": 1 / 256, "yolo2_shape": 1 / 1024}


def d_mlp(config: dict) -> int:
    return config.get("d_mlp") or config.get("n_mlp") or 4 * config["d_model"]


def state_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """Every state-dict key of a model with this config and its shape (float32), in their module order."""
    V, d, ctx, f = config["vocab_size"], config["d_model"], config["block_size"], d_mlp(config)
    hd = config["n_head"] * (config.get("d_head") or d // config["n_head"])
    shapes: dict[str, tuple[int, ...]] = {"transformer.wte.weight": (V, d), "transformer.wpe.weight": (ctx, d)}
    for L in range(config["n_layer"]):
        p = f"transformer.h.{L}."
        shapes[p + "ln_1.weight"] = (d,)
        shapes[p + "attn.c_attn.weight"] = (3 * hd, d)
        if config.get("bias", True):
            shapes[p + "attn.c_attn.bias"] = (3 * hd,)
        shapes[p + "attn.c_proj.weight"] = (d, hd)
        if config.get("bias", True):
            shapes[p + "attn.c_proj.bias"] = (d,)
        if config.get("sink"):
            shapes[p + "attn.attn_imp.sink_logit"] = (config["n_head"],)
        shapes[p + "ln_2.weight"] = (d,)
        shapes[p + "mlp.c_fc.weight"] = (f, d)
        if config.get("bias", True):
            shapes[p + "mlp.c_fc.bias"] = (f,)
        shapes[p + "mlp.c_proj.weight"] = (d, f)
        if config.get("bias", True):
            shapes[p + "mlp.c_proj.bias"] = (d,)
    shapes["transformer.ln_f.weight"] = (d,)
    shapes["lm_head.weight"] = (V, d)
    shapes["final_logits_bias"] = (V,)
    if config.get("enable_bigram_table"):
        shapes["bigram_table"] = (V, V)
    return shapes


def random_state(config: dict, seed: int, density: float) -> dict[str, torch.Tensor]:
    """Random weights at this density (every matrix and bias, as their training sparsifies them), scaled so
    that activations stay of order 1; norm gains near 1; a dense bigram table; a small logits bias.
    A tied model's state dict names the one matrix twice (transformer.wte.weight and lm_head.weight)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in state_shapes(config).items():
        if key.endswith("ln_1.weight") or key.endswith("ln_2.weight") or key == "transformer.ln_f.weight":
            t = 1 + 0.2 * torch.randn(shape, generator=g)
        elif key.endswith("sink_logit"):
            t = torch.randn(shape, generator=g)
        elif key == "bigram_table":
            t = 0.5 * torch.randn(shape, generator=g)
        elif key == "final_logits_bias":
            t = 0.1 * torch.randn(shape, generator=g)
        else:
            fan_in = shape[-1] if len(shape) == 2 and not key.startswith("transformer.w") else 1
            t = torch.randn(shape, generator=g) * (1 / (fan_in * density) ** 0.5 if len(shape) == 2 else 0.1)
            t = t * (torch.rand(shape, generator=g) < density)
        state[key] = t.float()
    if config.get("tied_unembed"):
        state["lm_head.weight"] = state["transformer.wte.weight"]
    return state


def write_model(folder: Path, config: dict, seed: int = 0, density: float = 0.25) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "beeg_config.json").write_text(json.dumps(config, indent=2))
    torch.save(random_state(config, seed, density), folder / "final_model.pt")
    return folder


# the locations their pruning masks, per layer, in their hook names (= ours), and the one after the last layer
VIZ_SITES = ("attn.act_in", "attn.q", "attn.k", "attn.v", "attn.resid_delta", "mlp.act_in", "mlp.post_act", "mlp.resid_delta")
# within-sublayer weight blocks the viewer draws: (source, target, state-dict matrix, rows of it)
VIZ_PAIRS = (
    ("attn.act_in", "attn.q", "attn.c_attn", 0),
    ("attn.act_in", "attn.k", "attn.c_attn", 1),
    ("attn.act_in", "attn.v", "attn.c_attn", 2),
    ("attn.v", "attn.resid_delta", "attn.c_proj", None),
    ("mlp.act_in", "mlp.post_act", "mlp.c_fc", None),
    ("mlp.post_act", "mlp.resid_delta", "mlp.c_proj", None),
)
VIZ_QUANTILES = (0.001, 0.01, 0.1, 0.5)
# where a fixture's circuit goes: upstream's layout viz/<model>/<task>/<sweep>/<k>/viz_data.pt
VIZ_PATH = "viz/{model}/bracket_counting_beeg/prune_v4/k_optim/viz_data.pt"


def site_widths(config: dict) -> dict[str, int]:
    d, hd = config["d_model"], config["n_head"] * (config.get("d_head") or config["d_model"] // config["n_head"])
    return {s: hd if s in ("attn.q", "attn.k", "attn.v") else d_mlp(config) if s == "mlp.post_act" else d for s in VIZ_SITES}


def _pair_blocks(config: dict, state: dict, kept: dict[str, torch.Tensor]) -> list[list]:
    """Their pair_data layout: [matrix [sources (+ a bias row), targets], source ids (+ "bias"), target ids,
    (source location, target location)] for every weight block inside a sublayer, from the state dict."""
    hd = site_widths(config)["attn.q"]
    blocks = []
    for L in range(config["n_layer"]):
        for src, tgt, module, part in VIZ_PAIRS:
            a, b = kept.get(f"{L}.{src}"), kept.get(f"{L}.{tgt}")
            if a is None or b is None:
                continue
            p = f"transformer.h.{L}.{module}"
            rows = slice(None) if part is None else slice(part * hd, (part + 1) * hd)
            w, bias = state[p + ".weight"][rows], state.get(p + ".bias")
            m = w[b][:, a].T  # [sources, targets]
            if bias is not None:
                m = torch.cat([m, bias[rows][b][None]])
            blocks.append([m.clone(), [*a.tolist(), *(["bias"] if bias is not None else [])], b.tolist(), (f"{L}.{src}", f"{L}.{tgt}")])
    return blocks


def random_viz(config: dict, state: dict, docs: torch.Tensor, seed: int = 0, per_site: int = 3) -> dict:
    """A viz file's content for a model of this config and state: per_site kept channels at each location
    (final_resid too), stored losses doubled as upstream stores them, the task prompts `docs` [D, T] (first
    half one class) with activations, and top/bottom contexts per quantile for every kept node."""
    g = torch.Generator().manual_seed(seed)
    widths = site_widths(config)
    locs = [(f"{L}.{s}", widths[s]) for L in range(config["n_layer"]) for s in VIZ_SITES] + [("final_resid", config["d_model"])]
    kept = {loc: torch.randperm(w, generator=g)[:per_site].sort().values for loc, w in locs}
    D, T = docs.shape

    def context():
        ids = torch.randint(1, config["vocab_size"] - 1, (T,), generator=g)
        return (ids, torch.randn(T, generator=g), int(torch.randint(0, T, (), generator=g)))

    samples = {
        loc: {c: {q: ([context() for _ in range(2)], [context() for _ in range(2)]) for q in VIZ_QUANTILES} for c in chans.tolist()}
        for loc, chans in kept.items()
    }
    interv = 0.3
    blocks = _pair_blocks(config, state, kept)
    return {
        "circuit_data": kept,
        "importances": {
            "ch_interv_losses": {loc: (interv + torch.rand(len(c), generator=g)).tolist() for loc, c in kept.items()},
            "layer_interv_losses": {f"{L}.{k}": 1.0 + L for L in range(config["n_layer"]) for k in ("attn", "mlp")},
            "interv_loss": interv,
            "loss": 0.2,
            "pair_data": blocks,
            "pair_data_connections": [[m.abs(), *rest] for m, *rest in blocks],
            "task_samples": (docs, {loc: {c: torch.randn(D, T, generator=g) for c in chans.tolist()} for loc, chans in kept.items()}),
            "beeg_model_config": dict(config),
        },
        "samples": samples,
        "prune_config": {"k_coef": 1e-4, "target_loss": 0.15},
        "num_total_nodes": sum(w for _, w in locs),
        "all_loss": [(0, 0.9), (1, interv)],
    }


def fixture_prompts(config: dict, seed: int, n: int = 8, tokens: int = 48) -> torch.Tensor:
    """n task prompts [n, T] of random ids (never 0, their padding id) and random lengths from T/2 to
    T = min(context, tokens), zero-padded."""
    g = torch.Generator().manual_seed(seed)
    T = min(config["block_size"], tokens)
    docs = torch.randint(1, config["vocab_size"] - 1, (n, T), generator=g)
    ends = torch.randint(T // 2, T + 1, (n,), generator=g)
    return docs * (torch.arange(T)[None] < ends[:, None])


def write_viz(path: Path, content: dict) -> Path:
    """viz_data.pt as upstream publishes it: one torch.save'd dict, loadable with weights_only=True."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(content, path)
    return path


def data_gym_byte_order() -> list[int]:
    """Byte values in the order of a data-gym vocabulary's first 256 ids: the printable Latin-1 characters
    other than space first, then the rest (which data-gym spells as characters from U+0100 up)."""
    first = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    return first + [b for b in range(256) if b not in first]


def byte_chars() -> dict[int, str]:
    """The character data-gym (and byte-level BPE) spells each byte as: itself if printable, else the next
    character from U+0100 on, in byte order."""
    others = [b for b in range(256) if not (chr(b).isprintable() and chr(b) != " ")]
    return {b: chr(256 + others.index(b)) if b in others else chr(b) for b in range(256)}


def write_tokenizer(folder: Path, vocab_size: int) -> Path:
    """A data-gym tokenizer of `vocab_size` ids with tinypython_2k's split regex, its merges learned from the
    frozen FIXTURE_TEXT and LIST_LINES: ids 0..255 the bytes (data-gym order), 256.. the merges in rank
    order, then `<|endoftext|>`."""
    n_merges = vocab_size - 257
    folder.mkdir(parents=True, exist_ok=True)
    tok = our_tokenizer.new_tokenizer(our_tokenizer.TINYPYTHON_PATTERN)
    trainer = trainers.BpeTrainer(vocab_size=256 + n_merges, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([FIXTURE_TEXT.read_text(), LIST_LINES], trainer=trainer)
    merges = json.loads(tok.to_str())["model"]["merges"]  # [[a, b], ...] in rank order
    if len(merges) != n_merges:
        raise ValueError(f"the fixture text gives only {len(merges)} merges, not {n_merges}")
    return write_data_gym(folder, merges)


def write_data_gym(folder: Path, merges: list[tuple[str, str]]) -> Path:
    """encoder.json + vocab.bpe for these merges (pairs of byte-level strings, in rank order)."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = byte_chars()
    encoder = {chars[b]: i for i, b in enumerate(data_gym_byte_order())}
    for a, b in merges:
        encoder[a + b] = len(encoder)
    encoder[our_tokenizer.EOT] = len(encoder)
    (folder / "encoder.json").write_text(json.dumps(encoder, ensure_ascii=False))
    (folder / "vocab.bpe").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")
    return folder


# The fixtures' merges are learned from frozen Python (5,000 standard-library lines, unchanged since the
# bench was added; with the repository's own training code, as before, every edit to it moved the
# fixtures' token ids), which also gives the fixture bundles' node means, and from list statements ending
# in `]]\n` and `]\n`: the stdlib lines alone, at 255 merges, leave both continuations of the bracket task
# beginning with `]`, and a converted circuit needs them to differ.
FIXTURE_TEXT = Path(__file__).resolve().parents[1] / "bench" / "stdlib-5000.py"
LIST_LINES = "".join(f"rows = [[{i}, {i + 1}]]\nrow = [{i}]\n" for i in range(100))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--only", choices=sorted([*FIXTURES, *LARGE]), help="one model fixture (default: every CI fixture)")
    args = ap.parse_args()
    chosen = {args.only: {**FIXTURES, **LARGE}[args.only]} if args.only else FIXTURES
    for seed, (name, config) in enumerate(chosen.items()):
        write_model(args.out / name, config, density=LARGE_DENSITY.get(name, 0.25))
        state = torch.load(args.out / name / "final_model.pt", weights_only=True)
        write_viz(args.out / VIZ_PATH.format(model=name), random_viz(config, state, fixture_prompts(config, seed), seed))
        write_tokenizer(args.out / f"tokenizer_{config['vocab_size']}", config["vocab_size"])
    print(f"wrote {', '.join(chosen)} to {args.out}")


if __name__ == "__main__":
    main()
