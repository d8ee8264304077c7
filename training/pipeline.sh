#!/usr/bin/env bash
# The whole model pipeline, from installed Python source to a model bundle. Each step can be re-run
# alone (see training/README.md); training resumes from its checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
RUN=${RUN:-training/runs/small}
BUNDLE=${BUNDLE:-models/pysparse-l2d128}
STEPS=${STEPS:-4000}
CONFIG=${CONFIG:-small}  # training/train.py CONFIGS; medium is the one for a GPU

[ -f training/data/train.bin ] || $PY -m training.prepare --out training/data
$PY -m training.train --config "$CONFIG" --out "$RUN" --steps "$STEPS" --threads 2  # on CUDA when PyTorch sees a GPU
$PY -m training.export --run "$RUN" --out "$BUNDLE"
# the quote circuit as shipped: 600 mask steps at λ = 3e-3 (23 nodes; the default 200 steps gave 34),
# then the control with the norms frozen to the full model's
$PY -m training.prune --run "$RUN" --bundle "$BUNDLE" --task single_double_quote --steps 600 --coefs 3e-3
$PY -m training.prune --run "$RUN" --bundle "$BUNDLE" --task single_double_quote --frozen-norms
$PY -m training.prune --run "$RUN" --bundle "$BUNDLE" --task bracket_counting --task while_return_true --task if_equals
$PY -m training.evaluate --run "$RUN" --bundle "$BUNDLE"
