#!/usr/bin/env bash
# The whole model pipeline, from installed Python source to a model bundle. Each step can be re-run
# alone (see training/README.md); training resumes from its checkpoint, or from the committed compact
# resume.pt when the checkpoint is missing (a new session).
#
# The recipe is issue 16's `depth` (training/EXPERIMENTS.md). The shipped models/pysparse-depth was made
# by these steps, except that the quote circuit's --frozen-norms control was not run and the keyword
# tasks were pruned with --no-nonsense (time); its MODEL_CARD says so.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
RUN=${RUN:-training/runs/depth}
BUNDLE=${BUNDLE:-models/pysparse-depth}
CONFIG=${CONFIG:-depth}  # training/train.py CONFIGS
MINUTES=${MINUTES:-0}    # stop training (resumably) after this wall time; 0 = run to the config's steps

[ -f training/data/synth.bin ] || $PY -m training.prepare --out training/data
$PY -m training.train --config "$CONFIG" --out "$RUN" --threads 2 --minutes "$MINUTES"  # on CUDA when PyTorch sees a GPU
$PY -m training.export --run "$RUN" --out "$BUNDLE"
# quote: 600 mask steps at λ = 3e-3, then the control with the norms frozen to the full model's
$PY -m training.prune --run "$RUN" --bundle "$BUNDLE" --task single_double_quote --steps 600 --coefs 3e-3
$PY -m training.prune --run "$RUN" --bundle "$BUNDLE" --task single_double_quote --frozen-norms --steps 1200
$PY -m training.prune --run "$RUN" --bundle "$BUNDLE" --task bracket_counting --steps 600
$PY -m training.prune --run "$RUN" --bundle "$BUNDLE" --task while_return_true --task if_equals
# every circuit node's example contexts from the validation corpus (run again after any prune step rewrites a circuit)
$PY -m training.node_examples --bundle "$BUNDLE"
$PY -m training.evaluate --run "$RUN" --bundle "$BUNDLE"
