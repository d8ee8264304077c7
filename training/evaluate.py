"""Step 5: measure the model and write MODEL_CARD.md and the manifest's metrics.

    python -m training.evaluate --run training/runs/depth --bundle models/pysparse-depth

Task accuracy on the fixed test sets, and both tasks on real code that is not in the corpus (the
held-out package and the LLM client SDK wheels), with the tokenizer-aware contrasts of realcode.py.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from . import dilution as dilution_mod
from . import realcode, synthetic
from . import tasks as tasks_mod
from .corpus import read_jsonl
from .export import load_from_bundle, nonzero_stats, run_info
from .model import GPT

REAL_CODE_SOURCES = ("heldout", "sdk")  # networkx, and the LLM client SDK wheels: never trained on
REAL_CODE_CASES = 1000  # per kind (nested, flat, double, single) and source
# Black-formatted code (networkx, the SDKs) has double-quoted one-line strings only, so there a model that
# ignores the opening quote is right by following the file's style, and ablating the quote circuit can
# leave the task at 70 % through that path alone (session 16). This source is networkx with each one-line
# string's quote type drawn at random (synthetic.flip_quotes, rate ½, seed 0): both classes in every file,
# and only the opener tells how a string closes. Quote cases only: the flip leaves brackets as they are.
MIXED_QUOTES = "heldout, quote types mixed"
# where each task's circuit is ablated on real code: the first source is the card's figure
ABLATION_SOURCES = {"bracket": ("heldout",), "quote": (MIXED_QUOTES, "heldout")}
# the circuits whose task realcode.py measures on real code, and its figure there (realcode.TASK_KINDS);
# the paper-form circuits are measured on the same real code as their task's
REAL_CODE_FIGURE = {"bracket_counting": "bracket", "single_double_quote": "quote", "bracket_counting_paper": "bracket", "single_double_quote_paper": "quote"}
NECESSARY = 0.05  # a node is individually necessary when ablating it alone costs the circuit ≥ 5 % of its logit difference


def real_code_cases(data: Path) -> dict[str, dict]:
    """Per source, the cases of realcode.py on code the corpus does not hold (read and sampled once: the
    model and its ablated circuits are scored on the same ones)."""
    texts = {source: realcode.load_texts(data, source) for source in REAL_CODE_SOURCES}
    cases = {source: realcode.sample(texts[source], REAL_CODE_CASES) for source in REAL_CODE_SOURCES}
    cases[MIXED_QUOTES] = mixed_quote_cases(texts["heldout"])
    return cases


def mixed_quote_cases(texts: list[str]) -> dict[str, list[realcode.Case]]:
    """The quote cases of `texts` with each one-line string's quote type drawn at random (MIXED_QUOTES)."""
    rng = random.Random(0)
    mixed = [synthetic.flip_quotes(text, rng, 0.5)[0] for text in texts]
    return task_cases(realcode.sample(mixed, REAL_CODE_CASES), "quote")


def task_cases(picked: dict[str, list[realcode.Case]], task: str) -> dict[str, list[realcode.Case]]:
    """`picked` with only the kinds of realcode's `task` ("bracket" or "quote") kept; the other kinds empty."""
    return {k: cs if k in realcode.TASK_KINDS[task] else [] for k, cs in picked.items()}


def real_code_accuracy(gpt: GPT, tok, cases: dict[str, dict]) -> dict:
    """Both tasks on code the corpus does not hold, with the tokenizer-aware contrasts of realcode.py."""
    diffs = realcode.torch_diffs(gpt)
    return {source: realcode.score(diffs, tok, picked, gpt.cfg.block_size) for source, picked in cases.items()}


def circuit_real_code(gpt: GPT, tok, cases: dict[str, dict], bundle: Path, manifest: dict, alone: bool) -> dict:
    """Each real-code task per source of ABLATION_SOURCES (task → {source: balanced accuracy}) with its own
    circuit mean-ablated and the rest of the model intact (`alone` False: what is left when the circuit is
    gone, the paper's necessity check; issue 16 asks for ≤ 60 %), or with every node outside the circuit
    mean-ablated (`alone` True: what the circuit does by itself in real files, whose contexts are longer
    than the task's test prompts)."""
    fill = torch.from_numpy(np.fromfile(bundle / "node_means.bin", dtype="<f4"))  # [N]
    out = {}
    for rel in manifest["circuits"]:
        cj = json.loads((bundle / rel).read_text())
        figure = REAL_CODE_FIGURE.get(cj["task"])
        if figure is None:
            continue
        mask = torch.zeros_like(fill) if alone else torch.ones_like(fill)  # [N], 0 where a node takes its mean
        mask[[n["flat"] for n in cj["nodes"]]] = 1.0 if alone else 0.0
        diffs = realcode.torch_diffs(gpt, mask, fill)
        out[cj["task"]] = {}
        for source in ABLATION_SOURCES[figure]:
            out[cj["task"]][source] = realcode.score(diffs, tok, task_cases(cases[source], figure), gpt.cfg.block_size)[figure]["balanced"]
    return out


def write_real_code_evidence(bundle: Path, manifest: dict, real: dict, ablated: dict, alone: dict) -> None:
    """Into each real-code circuit's file, its card figures on the first of its ABLATION_SOURCES: the
    model's balanced accuracy there, the circuit's alone and with the circuit ablated (metrics
    real_code_model, real_code_alone, real_code_ablated; the editor says what they mean)."""
    for rel in manifest["circuits"]:
        path = bundle / rel
        cj = json.loads(path.read_text())
        figure = REAL_CODE_FIGURE.get(cj["task"])
        if figure is None:
            continue
        source = ABLATION_SOURCES[figure][0]
        cj["metrics"].update(
            {
                "real_code_model": real[source][figure]["balanced"],
                "real_code_alone": alone[cj["task"]][source],
                "real_code_ablated": ablated[cj["task"]][source],
            }
        )
        path.write_text(json.dumps(cj, indent=1))  # as training/prune.py writes it


def model_metrics(gpt: GPT, tok, all_tasks: dict, cases: dict[str, dict]) -> dict:
    """Accuracy and contrast loss on every task's fixed test set, and the real-code accuracies."""
    return {
        "tasks": {name: tasks_mod.evaluate(gpt, t.test, classes=t.classes) for name, t in all_tasks.items()},
        "real_code": real_code_accuracy(gpt, tok, cases),
    }


def real_code_text(real: dict) -> str:
    def pct(kind: dict) -> str:
        return "—" if kind["accuracy"] is None else f"{kind['accuracy'] * 100:.1f} % of {kind['n']}"

    def balanced(task: dict) -> str:
        return "—" if task["balanced"] is None else f"**{task['balanced'] * 100:.1f} %**"

    rows = [
        f"| {name} | {pct(r['nested'])} | {pct(r['flat'])} | {balanced(r['bracket'])} | {pct(r['double'])} | {pct(r['single'])} | {balanced(r['quote'])} |"
        for name, r in real.items()
    ]
    head = "| source | nested `]` | flat `]` | bracket, balanced | double-quoted | single-quoted | quote, balanced |\n|---|---|---|---|---|---|---|\n"
    return head + "\n".join(rows)


NOTES = "## Notes\n"


def finetune_text(provenance: dict) -> str:
    ft = provenance.get("finetune")
    if not ft:
        return ""
    return (
        f"\nThe last {ft['steps']} steps ({ft['tokens'] / 1e6:.1f}M tokens) fine-tune the {ft['base_steps']}-step run `{ft['init_from']}` "
        f"(`train.py --init-from`): fresh optimizer, density at its target throughout, learning rate × {ft['lr_scale']}, and "
        f"{ft['focus_frac']:.0%} of the windows drawn around the tasks' answers in the training split (`--focus`: nested list closes, "
        "flat ones and closing quotes, a kind drawn uniformly)."
    )


def circuit_rows(bundle: Path, manifest: dict) -> str:
    ablated = manifest["metrics"].get("circuit_ablated_real_code", {})
    alone = manifest["metrics"].get("circuit_alone_real_code", {})
    rows = []
    for rel in manifest["circuits"]:
        cj = json.loads((bundle / rel).read_text())
        mt = cj["metrics"]
        frozen = mt.get("frozen_norms", {}).get("n_nodes", "not run")
        nonsense = mt["nonsense_task_nodes"] if mt["nonsense_task_nodes"] is not None else "not run"
        necessary = sum(n["necessity_in_circuit"] >= NECESSARY for n in cj["nodes"] if "necessity_in_circuit" in n)
        real = f"{ablated_text(alone.get(cj['task']))} | {ablated_text(ablated.get(cj['task']))}"
        rows.append(
            f"| {cj['task']} | {mt['target_task_loss']:.3f} | {mt['n_nodes']} | {mt['n_edges']} (+{mt['n_residual_edges']} residual) | "
            f"{mt['task_loss_model']:.3f} | {mt['task_loss_circuit']:.3f} | {mt['calibrated']['task_loss']:.3f} | {mt['logit_diff_recovered']:.2f} | "
            f"{necessary} of {mt['n_nodes']} | {mt['random_same_size']['task_loss_mean']:.2f} | {real} | {nonsense} | {frozen} |"
        )
    return "\n".join(rows)


def ablated_text(by_source: dict | None) -> str:
    """The card's figure (the first of ABLATION_SOURCES), then any other source's in brackets."""
    if not by_source:
        return "—"
    first, *others = by_source.items()
    text = f"{first[1] * 100:.1f} %"
    return text + "".join(f" ({source}: {x * 100:.1f} %)" for source, x in others)


def curve_rows(curve: list[dict]) -> str:
    """About a dozen evaluated rows, evenly spaced, always ending with the last one."""
    vals = [r for r in curve if "val_loss" in r]
    every = max(1, len(vals) // 12)
    shown = vals[::every] + ([] if (len(vals) - 1) % every == 0 else vals[-1:])
    return "\n".join(f"| {r['step']} | {r['tokens'] / 1e6:.1f}M | {r['density']:.3f} | {r['loss']:.3f} | {r['val_loss']:.3f} |" for r in shown)


def task_rows(task_metrics: dict) -> str:
    return "\n".join(
        f"| {k} | {v['accuracy'] * 100:.1f} % | "
        + " / ".join(f"{c}: {a['accuracy'] * 100:.1f} % of {a['n']}" for c, a in v.get("by_class", {}).items() if a["n"])
        + f" | {v['loss']:.3f} | {v['n']} |"
        for k, v in task_metrics.items()
    )


def hand_notes(card: Path) -> str:
    """A "## Notes" section written by hand (what the circuits do, how the run went) survives regeneration."""
    old = card.read_text() if card.exists() else ""
    return old[old.index(NOTES) : old.index("## Known limits")] if NOTES in old and "## Known limits" in old else ""


def model_section(manifest: dict) -> str:
    m, mx = manifest["model"], manifest["metrics"]
    return f"""# Model card: {manifest["name"]}

A weight-sparse GPT of Python source, trained from scratch by this repository's pipeline
(`training/`, after Gao et al. 2025) to be small enough to run live in the editor and sparse enough
for its task circuits to be read.

## Architecture
{m["n_layer"]} layers, d_model {m["d_model"]}, {m["n_head"]} heads × d_head {m["d_head"]}, d_mlp {m["d_mlp"]}, context {m["block_size"]},
vocabulary {m["vocab_size"]} (byte-level BPE trained on the corpus; its split regex is under Data).
Pre-norm RMSNorm, no biases, learned absolute position embeddings (sparse like every matrix), attention
sinks (a learned per-head logit on a zero key/value slot), a dense learned bigram table added to the logits,
AbsTopK keeping {m["afrac"]:.0%} of every node location (residual reads, q, k, v, attention and MLP writes, MLP neurons).

## Sparsity
Every weight matrix (embeddings and unembedding included) keeps the same fraction of nonzeros, annealed
linearly from dense over the first half of training, with at least 4 nonzeros in every row and column.
Final: **{mx["sparse_weights_nonzero"]:,} nonzeros of {mx["sparse_weights_total"]:,} ({mx["density"]:.4f} = 1/{1 / mx["density"]:.1f})**.
Dense parameters (bigram table, norm gains, sink logits): {mx["dense_params"]:,}."""


def data_section(c: dict) -> str:
    return f"""## Data
{c["sources"]}; deduplicated by content, split by content hash. Training windows are drawn from three
arrays: library code ({c["train"]["tokens"] / 1e6:.1f}M tokens, {c["train"]["files"]} files), test suites ({c["tests"]["tokens"] / 1e6:.1f}M tokens, {c["tests"]["files"]} files)
and library code with {c["synth"]["statements"]:,} synthetic list statements injected ({c["synth"]["tokens"] / 1e6:.1f}M tokens; `training/synthetic.py`).
Validation: {c["val"]["files"]} files ({c["val"]["tokens"] / 1e6:.2f}M tokens). Never trained on: the `{c["held_out_package"]}` package
({c["heldout"]["files"]} files, {c["heldout"]["tokens"] / 1e6:.2f}M tokens) and the LLM client SDK wheels {", ".join(f"`{w}`" for w in c["eval_only_wheels"])};
kept out of the corpus: {", ".join(f"`{x}`" for x in c["excluded_packages"])} (LLM clients). Tokenizer split regex: tinypython_2k's with
`( ) [ ] {{ }}` as pre-tokens of their own (`training/tokenizer.py`).
File-list SHA-256: train `{c["train"]["file_list"]["file_list_sha256"][:16]}…`, validation `{c["val"]["file_list"]["file_list_sha256"][:16]}…`."""


def training_section(p: dict, mx: dict, curve: list[dict]) -> str:
    return f"""## Training
{p["steps"]} steps, {p["tokens_seen"] / 1e6:.1f}M tokens seen, {p["compute"]}. AdamW (β 0.9/0.95, weight decay 0.1, ε 0.1),
gradients scaled to RMS 1 every step, learning rate warmup/linear decay × 1/√density. Final validation loss **{mx["val_loss"]:.3f}** nats/token.{finetune_text(p)}

| step | tokens | density | train loss | val loss |
|---|---|---|---|---|
{curve_rows(curve)}

The whole curve is in `training/runs/<run>/curve.jsonl` (step, tokens, loss, lr, density, val loss)."""


def accuracy_sections(task_metrics: dict, real: dict) -> str:
    return f"""## Task accuracy (fixed test sets; half templates, half real validation code for the first two)
| task | accuracy | by class | contrast loss | examples |
|---|---|---|---|---|
{task_rows(task_metrics)}

## Real code not in the corpus
At every `]` that closes a `[` and every one-line string's closing quote, the true rest of the line and a
wrong one (one `]` fewer or more; the other quote) are tokenized; at the first token where they differ,
the model is right when it prefers the true one (`training/realcode.py`, up to {REAL_CODE_CASES:,} cases per kind).
Both sources are black-formatted: every one-line string there is double-quoted, so the file's style alone
predicts how a string closes. "{MIXED_QUOTES}" is the held-out package with each one-line string's quote
type drawn at random (`synthetic.flip_quotes`, rate ½, seed 0): both classes, and only the opener tells.

{real_code_text(real)}"""


def circuits_section(bundle: Path, manifest: dict) -> str:
    return f"""## Circuits (mean ablation; target task loss 0.15, or 1.25 × the model's own loss where the model is worse)
| task | target | nodes | edges | task loss, model | task loss, circuit | circuit, calibrated | logit diff recovered | nodes ≥ 5 % necessary | random same-size set: loss | real code, circuit alone | real code, circuit ablated | nonsense task: nodes | norms frozen: nodes |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
{circuit_rows(bundle, manifest)}

Each circuit file (`circuits/*.json`) holds every node's meaning with its evidence (class correlation,
top tokens), each node's necessity, and the faithfulness checks. "Calibrated": the circuit's task loss
after fitting one logit scale and one shift on its class logit difference (the paper's final step).
"Norms frozen": the size of the circuit pruned again with every RMSNorm dividing by the unablated
model's scale (`python -m training.prune … --frozen-norms`). "Nodes ≥ 5 % necessary": how many nodes each
cost the circuit at least 5 % of its logit difference when ablated alone. "Real code, circuit alone":
the task's balanced accuracy on the held-out package (the cases of "Real code not in the corpus") with
every node outside the circuit mean-ablated: the circuit by itself in real files, whose contexts are
longer than the task's test prompts (the model's own figure is in the table above). "Real code, circuit
ablated": the same with the circuit's nodes mean-ablated and the rest of the model intact (chance:
50 %). Both for the quote task on
"{MIXED_QUOTES}", where only the opener tells the close (in brackets: networkx as written, where a model
that has lost the opener is still right wherever it follows the file's double quotes)."""


def limits_section(m: dict, p: dict, dilution: str) -> str:
    return f"""## Known limits
- Small: {m["n_layer"]} layers trained for {p["tokens_seen"] / 1e6:.0f}M tokens on {p.get("compute", "2 CPU cores")}; its general next-token quality is far below any production code model.
- Context {m["block_size"]} tokens: a string or list opened more than ~{m["block_size"]} tokens earlier is out of reach.
- Task contrasts follow this tokenizer (see `training/tasks.py`): after a first `]`, the bracket task compares `]` with `\\n`.
- Context dilution (`python -m training.dilution`, the paper's predicted failure of depth read as an average over the context):
{dilution}
"""


def write_card(bundle: Path, manifest: dict, task_metrics: dict, real: dict, curve: list[dict], dilution: str) -> None:
    p = manifest["provenance"]
    card = bundle / "MODEL_CARD.md"
    sections = [
        model_section(manifest),
        data_section(p["corpus"]),
        training_section(p, manifest["metrics"], curve),
        accuracy_sections(task_metrics, real),
        circuits_section(bundle, manifest),
    ]
    card.write_text("\n\n".join(sections) + "\n\n" + hand_notes(card) + limits_section(manifest["model"], p, dilution))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=Path("training/data"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    tok = Tokenizer.from_file(str(args.bundle / "tokenizer.json"))
    # the weights the bundle ships (its model.onnx), the run only for what it is (steps, curve)
    gpt, info = load_from_bundle(args.bundle), run_info(args.run)
    all_tasks = tasks_mod.build_tasks(tok, read_jsonl(args.data / "corpus_val.jsonl"))
    cases = real_code_cases(args.data)
    metrics = model_metrics(gpt, tok, all_tasks, cases)
    task_metrics, real = metrics["tasks"], metrics["real_code"]
    manifest_path = args.bundle / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["metrics"].pop("heldout", None)  # the token-stream scan it held is replaced by the real-code contrasts
    ablated = circuit_real_code(gpt, tok, cases, args.bundle, manifest, alone=False)
    alone = circuit_real_code(gpt, tok, cases, args.bundle, manifest, alone=True)
    manifest["metrics"].update(
        {"tasks": task_metrics, "real_code": real, "circuit_ablated_real_code": ablated, "circuit_alone_real_code": alone, **nonzero_stats(gpt)}
    )
    manifest_path.write_text(json.dumps(manifest, indent=2))
    write_real_code_evidence(args.bundle, manifest, real, ablated, alone)
    diffs, block = realcode.onnx_diffs(args.bundle)
    diluted = dilution_mod.sweep(diffs, tok, block)
    write_card(args.bundle, manifest, task_metrics, real, info["curve"], dilution_mod.card_text(diluted))
    print(json.dumps({"tasks": task_metrics, "real_code": real}, indent=2))


if __name__ == "__main__":
    main()
