#!/usr/bin/env bash
# The whole model pipeline, from installed Python source to a model bundle. Each step can be re-run
# alone (see training/README.md); training resumes from its checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
BASE=${BASE:-training/runs/small}       # trained from scratch on uniform windows
RUN=${RUN:-training/runs/small-focus}  # BASE fine-tuned with windows around the tasks' answers: shipped
BUNDLE=${BUNDLE:-models/pysparse-l2d128}
STEPS=${STEPS:-4000}
FOCUS_STEPS=${FOCUS_STEPS:-2500}
CONFIG=${CONFIG:-small}  # training/train.py CONFIGS; medium is the one for a GPU

[ -f training/data/train.bin ] || $PY -m training.prepare --out training/data
$PY -m training.train --config "$CONFIG" --out "$BASE" --steps "$STEPS" --threads 2  # on CUDA when PyTorch sees a GPU
$PY -m training.train --config "$CONFIG" --out "$RUN" --steps "$FOCUS_STEPS" --threads 2 --init-from "$BASE" --lr-scale 0.25 --focus 0.5
$PY -m training.export --run "$RUN" --out "$BUNDLE"
# the quote circuit as shipped: 600 mask steps at λ = 3e-3 (the default 200 steps gave a third more
# nodes), then the control with the norms frozen to the full model's (λ 3e-3 and 3e-4, 1,200 steps)
$PY -m training.prune --run "$RUN" --bundle "$BUNDLE" --task single_double_quote --steps 600 --coefs 3e-3
$PY -m training.prune --run "$RUN" --bundle "$BUNDLE" --task single_double_quote --frozen-norms --steps 1200
$PY -m training.prune --run "$RUN" --bundle "$BUNDLE" --task bracket_counting --task while_return_true --task if_equals
$PY -m training.evaluate --run "$RUN" --bundle "$BUNDLE"
