"""Convert one of OpenAI's released weight-sparse models (openai/circuit_sparsity) into a bundle.

    python -m training.import_openai --model DIR --tokenizer DIR --out models/<name> [--viz [TASK=]viz_data.pt ...]

DIR (model): `beeg_config.json` + `final_model.pt` as published; DIR (tokenizer): the data-gym files
`vocab.bpe` + `encoder.json` of tinypython_2k. The model is rebuilt as our GPT (training/model.py, whose
options cover their architecture), checked strictly (every tensor present with its shape, nothing left
over, no variant we cannot run), and written with training/export.py's bundle writer: model.onnx with the
node-mask interface, tokenizer.json, node means over our validation corpus, manifest.json, plus a
generated MODEL_CARD.md, and with --viz OpenAI's circuits as circuits/<task>.json (training/openai_viz.py).
Format facts: ../shared/research/openai-checkpoints.md and docs/openai-viz-format.md.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from tiktoken import Encoding
from tiktoken.load import data_gym_to_mergeable_bpe_ranks
from tokenizers import Tokenizer, models

from . import export, prepare
from . import tokenizer as our_tokenizer
from .alive import alive_summary
from .compact import MIN_DROPPED, compact_gpt
from .model import GPT, SITES, GPTConfig, node_layout, site_dims
from .openai_format import LOCTYPES, UPSTREAM_DEFAULTS, FormatError, load_published
from .openai_viz import Viz, circuit_file, read_viz

CONFIG, WEIGHTS, VOCAB, ENCODER = "beeg_config.json", "final_model.pt", "vocab.bpe", "encoder.json"
# their AbsTopK location names → our node locations
LOCTYPE_SITE = dict(zip(LOCTYPES, SITES, strict=True))
# keys their loader itself rewrites: the old name of d_mlp, and a training-time option that must be off
RENAMED = {"n_mlp": "d_mlp"}
MUST_BE_FALSE = ("use_tied_aux_matrix",)
# Attention of many heads at a long context is computed in runs of queries, each against the keys up to its own
# end (the same outputs): a yolo1-shaped model's [128, T, T] scores spend 53 % of an 879-token window; in 8 runs
# (64 MB of scores each at its context) its 50-line first screen took 0.71 of the CPU time, in 16 runs 0.70
# (docs/BENCHMARKS.md, session 12). Smaller models (sweep1's 64 MB, ours 1 MB) were not measured and keep one.
CHUNK_SCORES_BYTES = 64 * 2**20
MAX_QUERY_CHUNKS = 16


def read_config(folder: Path) -> tuple[GPTConfig, list[str]]:
    """beeg_config.json → our GPTConfig, and notes on what was tolerated (keys newer code does not know)."""
    path = folder / CONFIG
    if not path.is_file():
        raise FormatError(f"{path} is missing: a model folder holds {CONFIG} and {WEIGHTS} as published.")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise FormatError(f"{path} is not valid JSON ({e}).") from e
    if not isinstance(raw, dict):
        raise FormatError(f"{path} must hold one JSON object of config fields.")
    notes = []
    for old, new in RENAMED.items():
        if old in raw:
            raw.setdefault(new, raw.pop(old))
            notes.append(f"{CONFIG}: read the older key {old} as {new}.")
    for key in MUST_BE_FALSE:
        if raw.pop(key, False):
            raise FormatError(f"{path}: {key} is true, a training-time variant this converter does not support.")
    unknown = sorted(set(raw) - set(UPSTREAM_DEFAULTS))
    if unknown:
        notes.append(
            f"{CONFIG}: ignored keys that current upstream code does not know ({', '.join(unknown)}); older configs carry them and they do not enter the forward pass."
        )
    c = {**UPSTREAM_DEFAULTS, **{k: v for k, v in raw.items() if k in UPSTREAM_DEFAULTS}}
    _check_supported(path, c)
    loctypes = [t for t in c["afrac_loctypes"].split(",") if t]
    cfg = GPTConfig(
        vocab_size=c["vocab_size"],
        block_size=c["block_size"],
        n_layer=c["n_layer"],
        d_model=c["d_model"],
        n_head=c["n_head"],
        d_head=c["d_head"] or c["d_model"] // c["n_head"],
        d_mlp=c["d_mlp"] or 4 * c["d_model"],
        pos_emb=True,
        bigram_table=bool(c["enable_bigram_table"]),
        sink=bool(c["sink"]),
        afrac=c["afrac"],
        bias=bool(c["bias"]),
        logits_bias=True,
        tied_unembed=bool(c["tied_unembed"]),
        activation=c["activation_type"],
        topk_sites=tuple(s for t, s in LOCTYPE_SITE.items() if t in loctypes),
    )
    if cfg.afrac is not None:
        for site in cfg.topk_sites:
            width = site_dims(cfg)[site]
            if int(cfg.afrac * width) < 1:
                raise FormatError(
                    f"{path}: afrac {cfg.afrac} keeps no entry of the {width}-wide {site} location, a degenerate variant this converter does not support."
                )
    return cfg, notes


def _check_supported(path: Path, c: dict) -> None:
    """One sentence for the first variant our GPT cannot run (their defaults filled in)."""
    for key in ("vocab_size", "block_size", "n_layer", "n_head", "d_model"):
        if not isinstance(c[key], int) or c[key] <= 0:
            raise FormatError(f"{path}: {key} must be a positive integer, not {c[key]!r}.")
    if not c["rms_norm"]:
        raise FormatError(f"{path}: rms_norm is false (LayerNorm), a variant this converter does not support.")
    if c["residual_activation_type"] != "identity":
        raise FormatError(
            f"{path}: residual_activation_type is {c['residual_activation_type']!r} (a ReLU residual stream), a variant this converter does not support."
        )
    if c["d_pos_emb"] is not None:
        raise FormatError(f"{path}: d_pos_emb is set (a concatenated position embedding), a variant this converter does not support.")
    if c["activation_type"] not in ("gelu", "relu"):
        raise FormatError(f"{path}: activation_type {c['activation_type']!r} is neither gelu nor relu.")
    if c["afrac"] is not None and not (isinstance(c["afrac"], (int, float)) and 0 < c["afrac"] <= 1):
        raise FormatError(f"{path}: afrac must be null or a fraction in (0, 1], not {c['afrac']!r}.")
    for t in c["afrac_loctypes"].split(","):
        if t and t not in LOCTYPE_SITE:
            raise FormatError(f"{path}: afrac_loctypes names {t!r}, an AbsTopK location this converter does not support (it knows {', '.join(LOCTYPE_SITE)}).")


def their_key(ours: str) -> str:
    """Our parameter name → theirs (only the sink logit lives elsewhere: inside their attention kernel)."""
    return ours.replace("attn.sink_logit", "attn.attn_imp.sink_logit")


def read_weights(folder: Path, cfg: GPTConfig) -> tuple[dict[str, torch.Tensor], list[str]]:
    """final_model.pt → our state dict, every tensor checked against what a GPT of `cfg` holds."""
    path = folder / WEIGHTS
    theirs = load_published(path, f"a model folder holds {CONFIG} and {WEIGHTS} as published", "a PyTorch state dict")
    if not isinstance(theirs, dict) or not all(isinstance(v, torch.Tensor) for v in theirs.values()):
        raise FormatError(f"{path} must hold a dict of tensors (a state_dict).")
    notes = []
    if "final_logits_bias" not in theirs:  # their loader fills it with zeros too
        theirs["final_logits_bias"] = torch.zeros(cfg.vocab_size)
        notes.append(f"{WEIGHTS}: no final_logits_bias; zeros used, as upstream's loader does.")
    if cfg.tied_unembed:
        _tie(path, theirs)
    with torch.device("meta"):  # shapes only, no memory
        wanted = {k: tuple(v.shape) for k, v in GPT(cfg).state_dict().items()}
    ours = {}
    for k, shape in wanted.items():
        t = theirs.pop(their_key(k), None)
        if t is None:
            raise FormatError(f"{path}: tensor {their_key(k)} {list(shape)} is missing, which this config ({CONFIG}) requires.")
        if tuple(t.shape) != shape:
            raise FormatError(f"{path}: tensor {their_key(k)} has shape {list(t.shape)}, but {CONFIG} implies {list(shape)}.")
        if not t.is_floating_point():
            raise FormatError(f"{path}: tensor {their_key(k)} has dtype {t.dtype}, not a floating-point type.")
        ours[k] = t.float()
    if theirs:
        raise FormatError(f"{path}: unexpected tensor {sorted(theirs)[0]} ({len(theirs)} in all) that {CONFIG} does not account for.")
    return ours, notes


def _tie(path: Path, theirs: dict[str, torch.Tensor]) -> None:
    """A tied model's file names the matrix twice, or once: either way both names end up holding it."""
    wte, head = theirs.get("transformer.wte.weight"), theirs.get("lm_head.weight")
    if wte is not None and head is not None and not torch.equal(wte, head):
        raise FormatError(f"{path}: tied_unembed is true but lm_head.weight differs from transformer.wte.weight.")
    one = wte if wte is not None else head
    if one is not None:
        theirs["transformer.wte.weight"] = theirs["lm_head.weight"] = one


def query_chunks(cfg: GPTConfig) -> int:
    """How many runs of queries a converted model's attention computes in (model.CausalSelfAttention.query_chunks):
    enough that one run's fp32 scores at the full context, [n_head, ctx / runs, ctx], stay within
    CHUNK_SCORES_BYTES, a power of two, at most MAX_QUERY_CHUNKS; 1 (a single score tensor) for any model of ours."""
    scores = 4 * cfg.n_head * cfg.block_size**2
    chunks = 1
    while chunks < MAX_QUERY_CHUNKS and scores / chunks > CHUNK_SCORES_BYTES:
        chunks *= 2
    return chunks


def load_model(folder: Path) -> tuple[GPT, list[str]]:
    """Their model folder as our GPT (eval mode, attention in query_chunks runs), and the conversion notes."""
    cfg, notes = read_config(folder)
    state, more = read_weights(folder, cfg)
    gpt = GPT(cfg)
    gpt.load_state_dict(state)
    gpt.chunk_queries(query_chunks(cfg))
    return gpt.eval(), notes + more


def convert_tokenizer(folder: Path) -> Tokenizer:
    """vocab.bpe + encoder.json (GPT-2 data-gym files) → our tokenizer.json form: byte-level BPE with
    tinypython_2k's split regex, the same ids, `<|endoftext|>` as a special token."""
    vocab_path, enc_path = folder / VOCAB, folder / ENCODER
    for p in (vocab_path, enc_path):
        if not p.is_file():
            raise FormatError(f"{p} is missing: a tokenizer folder holds {VOCAB} and {ENCODER} (tinypython_2k, published beside the models).")
    try:
        encoder = json.loads(enc_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise FormatError(f"{enc_path} is not valid JSON ({e}).") from e
    lines = vocab_path.read_text(encoding="utf-8").split("\n")
    if not lines[0].startswith("#version"):
        raise FormatError(f"{vocab_path}: the first line must be the '#version' header of a data-gym merges file.")
    merges = []
    for n, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        pair = line.split(" ")
        if len(pair) != 2:
            raise FormatError(f"{vocab_path}: line {n} is not two tokens separated by one space.")
        merges.append((pair[0], pair[1]))
    eot = encoder.pop(our_tokenizer.EOT, None)
    if eot is None:
        raise FormatError(f"{enc_path} has no {our_tokenizer.EOT} entry.")
    # data-gym ids are 256 bytes, then one id per merge in merge order (tiktoken checks the same)
    for i, (a, b) in enumerate(merges):
        if encoder.get(a + b) != 256 + i:
            raise FormatError(f"{enc_path}: {a + b!r} should have id {256 + i} (merge {i + 1} of {VOCAB}), not {encoder.get(a + b)}.")
    if len(encoder) != 256 + len(merges) or eot != len(encoder):
        raise FormatError(
            f"{enc_path}: expected the 256 bytes, {len(merges)} merges and {our_tokenizer.EOT} = {256 + len(merges)}, found {len(encoder)} tokens and id {eot}."
        )
    tok = our_tokenizer.new_tokenizer(our_tokenizer.TINYPYTHON_PATTERN)
    tok.model = models.BPE(vocab=encoder, merges=merges)
    tok.add_special_tokens([our_tokenizer.EOT])
    return tok


def data_gym_reference(folder: Path, eot_id: int) -> Encoding:
    """The files as upstream reads them: tiktoken's data-gym loader with tinypython_2k's split regex."""
    # tiktoken caches every file it reads under a key made of the path alone, local files too, so a folder
    # whose files changed would be read stale; an empty cache directory turns that off
    saved = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = ""
    try:
        ranks = data_gym_to_mergeable_bpe_ranks(vocab_bpe_file=str(folder / VOCAB), encoder_json_file=str(folder / ENCODER))
    finally:
        if saved is None:
            del os.environ["TIKTOKEN_CACHE_DIR"]
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = saved
    return Encoding(folder.name, pat_str=our_tokenizer.TINYPYTHON_PATTERN, mergeable_ranks=ranks, special_tokens={our_tokenizer.EOT: eot_id})


def check_tokenizer(tok: Tokenizer, folder: Path, texts: list[str]) -> None:
    """Our merge-rule BPE must give upstream's ids (tiktoken merges by the rank of the merged bytes, which
    can differ where a token is reachable by two splits): checked on every text that goes into the bundle."""
    ref = data_gym_reference(folder, tok.token_to_id(our_tokenizer.EOT))
    for text, enc in zip(texts, tok.encode_batch(texts), strict=True):
        want = ref.encode(text, allowed_special="all")
        if enc.ids != want:
            at = next((i for i, (a, b) in enumerate(zip(enc.ids, want, strict=False)) if a != b), min(len(enc.ids), len(want)))
            raise FormatError(
                f"{folder}: the converted tokenizer splits a validation text differently from tiktoken's reading of the same files (token {at}), so its ids would not be the model's."
            )


def val_texts(corpus: Path) -> list[str]:
    """The file texts of a corpus .jsonl (training/data/corpus_val.jsonl: one {"path", "text"} per line)."""
    if not corpus.is_file():
        raise FormatError(f"{corpus} is missing: node means are computed on our validation corpus (training/prepare.py writes it; or pass --val-corpus).")
    return [json.loads(line)["text"] for line in corpus.read_text().splitlines() if line]


def write_bundle(gpt: GPT, tok: Tokenizer, out: Path, name: str, texts: list[str], provenance: dict, mean_windows: int) -> None:
    """export.py's bundle (graph, means, tokenizer, manifest, golden outputs) for the converted model."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        tok.save(str(data / "tokenizer.json"))
        ids = prepare.encode_files(tok, texts)
        if len(ids) <= gpt.cfg.block_size + 1:
            raise FormatError(f"the validation texts give {len(ids)} tokens, fewer than one {gpt.cfg.block_size}-token window for the node means.")
        ids.tofile(data / "val.bin")
        provenance = {
            **provenance,
            "node_means": f"mean of every node over {mean_windows} random {gpt.cfg.block_size}-token windows of our validation corpus ({len(texts)} files, {len(ids):,} tokens), not of OpenAI's training data",
        }
        small = compact_gpt(gpt)
        widths = {"n_head": [b.attn.cfg.n_head for b in small.transformer.h], "d_mlp": [b.mlp.cfg.d_mlp for b in small.transformer.h]}  # per layer
        metrics = {**export.nonzero_stats(gpt), **alive_summary(gpt), "compact_graph": widths}
        # the graph without the dead heads and neurons, exported once; golden.json stays the full model's reference
        dropped = sum(widths["n_head"]) < gpt.cfg.n_layer * gpt.cfg.n_head or sum(widths["d_mlp"]) < gpt.cfg.n_layer * gpt.cfg.d_mlp
        export.write_bundle(gpt, data, out, name, provenance, metrics, mean_windows, bigram_fp16=False, exported=small if dropped else None)


def circuits_line(manifest: dict) -> str:
    if not manifest["circuits"]:
        return "- Circuits: none (pass OpenAI's viz files with --viz to convert their circuits)."
    return (
        f"- Circuits: {', '.join(manifest['circuits'])}, converted from OpenAI's viz files: their kept nodes and ablation losses; "
        + "edges, class tokens, correlations and firing rules computed on this model (docs/openai-viz-format.md)."
    )


def check_viz(gpt: GPT, viz_args: list[str]) -> list[Viz]:
    """Each --viz file read and checked, before the slow part of the conversion runs."""
    vizzes = [read_viz(arg, gpt) for arg in viz_args]
    tasks = [v.task for v in vizzes]
    if len(set(tasks)) != len(tasks):
        raise FormatError(f"two --viz files are for the same task ({sorted(t for t in tasks if tasks.count(t) > 1)[0]}); a bundle holds one circuit per task.")
    return vizzes


def add_circuits(gpt: GPT, tok: Tokenizer, out: Path, vizzes: list[Viz]) -> list[str]:
    """Write each checked viz file's circuit into the bundle and list it in manifest.json."""
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    means = np.fromfile(out / "node_means.bin", dtype="<f4").tolist()
    flat_of = {e["name"]: e["offset"] for e in node_layout(gpt.cfg)}
    (out / "circuits").mkdir(exist_ok=True)
    notes = []
    for viz in vizzes:
        rel = f"circuits/{viz.task}.json"
        (out / rel).write_text(json.dumps(circuit_file(viz, gpt, tok, means, flat_of), indent=1))
        manifest["circuits"] = [*[c for c in manifest["circuits"] if c != rel], rel]
        notes += viz.notes
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return notes


# the editor's and the CLI's analysis window when none is chosen (src/core/analysis.ts DEFAULT_WINDOW_TOKENS)
EDITOR_WINDOW = 256


def window_lines(context: int) -> list[str]:
    """What the card says of the windows the editor reads a model of this context in."""
    if context <= EDITOR_WINDOW:
        return []
    return [
        f"- In the editor and the CLI: windows of {EDITOR_WINDOW} tokens by default, every token read with at least 64 tokens before it;"
        + f" `circuitInspector.windowTokens` (CLI `--window-tokens`) up to the context of {context:,} gives tokens more, at a cost growing with its square.",
    ]


def model_card(manifest: dict, notes: list[str]) -> str:
    m, p, mx = manifest["model"], manifest["provenance"], manifest["metrics"]
    sites = ", ".join(m["topk_sites"]) if m["afrac"] is not None else ""
    topk = f"AbsTopK keeps {m['afrac']:.3g} of each of {len(m['topk_sites'])} node locations ({sites})" if m["afrac"] is not None else "no AbsTopK (afrac null)"
    lines = [
        f"# Model card: {manifest['name']}",
        "",
        f"Converted from OpenAI's released weight-sparse model `{p['source_model']}` (openai/circuit_sparsity, Gao et al. 2025)",
        "by `python -m training.import_openai`; the weights are theirs, unchanged (float32).",
        "",
        "## Architecture",
        f"{m['n_layer']} layers, d_model {m['d_model']}, {m['n_head']} heads × d_head {m['d_head']}, d_mlp {m['d_mlp']}, context {m['block_size']}, vocabulary {m['vocab_size']}.",
        f"RMSNorm, {'biases on every Linear' if m['bias'] else 'no biases'}, {m['activation'].upper()} MLPs, learned position embeddings, "
        + f"{'attention sinks' if m['sink'] else 'no attention sinks'}, {'a bigram table' if m['bigram_table'] else 'no bigram table'}, "
        + f"{'tied' if m['tied_unembed'] else 'untied'} unembedding, {topk}.",
        "",
        "## Bundle",
        f"- Tokenizer: `{p['source_tokenizer']}` (data-gym `vocab.bpe` + `encoder.json`) converted to tokenizer.json, same ids.",
        f"- Node means: {p['node_means']}.",
        f"- Weights: {mx['sparse_weights_nonzero']:,} nonzeros of {mx['sparse_weights_total']:,} in the matrices (density {mx['density']:.5f}).",
        f"- Alive nodes (some weight or bias writes them; the rest are 0 on every input): {mx['alive_nodes']:,} of {mx['total_nodes']:,}; "
        + ", ".join(f"{site} {a:,}/{n:,}" for site, (a, n) in mx["alive_by_site"].items())
        + f"; the graph drops dead heads and MLP neurons where a layer loses at least {MIN_DROPPED:.1%} of them, running {sum(mx['compact_graph']['n_head']):,} of {m['n_layer'] * m['n_head']:,} heads and {sum(mx['compact_graph']['d_mlp']):,} of {m['n_layer'] * m['d_mlp']:,} neurons.",
        circuits_line(manifest),
        *window_lines(m["block_size"]),
        "",
        "## Conversion notes",
        *([f"- {n}" for n in notes] or ["- none: every key and tensor was as expected."]),
        "",
    ]
    return "\n".join(lines)


def convert(model_dir: Path, tok_dir: Path, out: Path, corpus: Path, name: str | None = None, mean_windows: int = 64, viz: tuple[str, ...] = ()) -> list[str]:
    """The whole conversion; returns its notes."""
    gpt, notes = load_model(model_dir)
    vizzes = check_viz(gpt, list(viz))
    tok = convert_tokenizer(tok_dir)
    if tok.get_vocab_size() > gpt.cfg.vocab_size:
        raise FormatError(
            f"{tok_dir / ENCODER} has {tok.get_vocab_size()} tokens but {model_dir / CONFIG} says vocab_size {gpt.cfg.vocab_size}: the wrong tokenizer for this model."
        )
    provenance = {
        "source_model": model_dir.resolve().name,
        "source_tokenizer": tok_dir.resolve().name,
        "converter": "training/import_openai.py",
        "notes": notes,
    }
    texts = val_texts(corpus)
    check_tokenizer(tok, tok_dir, texts)
    write_bundle(gpt, tok, out, name or out.name, texts, provenance, mean_windows)
    notes += add_circuits(gpt, tok, out, vizzes)
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "MODEL_CARD.md").write_text(model_card(manifest, notes))
    return notes


def main() -> None:
    ap = argparse.ArgumentParser(description="Convert an OpenAI circuit_sparsity model folder into a Circuit Inspector bundle.")
    ap.add_argument("--model", type=Path, required=True, help="folder with beeg_config.json and final_model.pt")
    ap.add_argument("--tokenizer", type=Path, required=True, help="folder with vocab.bpe and encoder.json (tinypython_2k)")
    ap.add_argument("--out", type=Path, required=True, help="bundle folder to write, e.g. models/csp_yolo1")
    ap.add_argument(
        "--val-corpus", type=Path, default=Path(__file__).parent / "data/corpus_val.jsonl", help="texts for the node means (.jsonl of {path, text})"
    )
    ap.add_argument(
        "--viz",
        action="append",
        default=[],
        metavar="[TASK=]FILE",
        help="one of OpenAI's viz_data.pt files for this model (repeatable): its circuit becomes circuits/TASK.json; TASK defaults to the folder of upstream's layout <task>/<sweep>/<k>/viz_data.pt",
    )
    ap.add_argument("--name", default=None)
    ap.add_argument(
        "--mean-windows",
        type=int,
        default=64,
        help="context-length windows the node means average over (default 64; csp_yolo1 runs about 30 tokens/s on 2 cores, so 16 take ~10 minutes)",
    )
    args = ap.parse_args()
    torch.set_num_threads(2)
    try:
        notes = convert(args.model, args.tokenizer, args.out, args.val_corpus, args.name, args.mean_windows, tuple(args.viz))
    except FormatError as e:
        raise SystemExit(f"error: {e}") from None
    for n in notes:
        print(f"note: {n}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
