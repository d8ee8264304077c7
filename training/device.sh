#!/usr/bin/env bash
# Issue 16's training on the lent GPU machine (the device tool; training/README.md, "On a GPU machine").
# That machine has PyTorch with CUDA but no network, gets a copy of this checkout's working tree (at most
# 64 MiB, what it carries included) and gives back at most 8 files of 16 MiB from $OUT. So the token
# arrays are prepared here and travel compressed, training/runs (79 MiB of curves and resume files) and
# models stay behind while a call is made, and the run comes back as its compact resume.pt, curve and log.
#
#   bash training/device.sh pack             here: training/data's arrays → .device/data/*.xz (prepares them first if missing)
#   bash training/device.sh light            here: training/runs and models out of the tree that travels (untracked, excluded) …
#   bash training/device.sh heavy            here: … and back, before anything is committed
#   bash training/device.sh size [PATH…]     here: MiB a call would send: the tree (tracked, and untracked not ignored), .device, PATHs carried
#   bash training/device.sh train NAME ARGS… there: unpack .device/data, then `python -m training.train ARGS` on CUDA;
#                                            $OUT/NAME.tar holds the run's resume.pt, curve.jsonl and train.log
#   bash training/device.sh plan FILE        there: each line of FILE ("NAME ARGS…") one such run, all at once on the one
#                                            GPU (small models leave most of it idle), one tar each: 8 files come back at most
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-training/data}
PACKED=${PACKED:-.device/data}
# the arrays train.py's mixtures and probes read, and the held-out and validation files of the real-code probe
FILES=(train.bin tests.bin synth.bin quotes.bin val.bin tokenizer.json corpus_heldout.jsonl corpus_val.jsonl)
EXCLUDE=.git/info/exclude
# what a training call does not need and stays here while one is made (light): 96 of the tree's 104 MiB;
# a run to start from travels alone, named in the call's carry
STAY=(training/runs models)

mib() { awk '{s += $1} END {printf "%.1f", s / 1048576}'; }

# there: the packed arrays into $DATA, once for all the runs of a call; then a check that the GPU is seen
unpack() {
  PY=${PY:-python3} DEVICE=${DEVICE:-cuda}
  mkdir -p $DATA
  # Python's lzma: the machine's image may have no xz
  $PY -c 'import lzma, shutil, sys
for f in sys.argv[3:]:
    with lzma.open(f"{sys.argv[1]}/{f}.xz") as src, open(f"{sys.argv[2]}/{f}", "wb") as dst: shutil.copyfileobj(src, dst)' $PACKED $DATA "${FILES[@]}"
  [ "$DEVICE" = cpu ] || $PY -c 'import torch; assert torch.cuda.is_available(), "no CUDA here"; print("GPU:", torch.cuda.get_device_name(0))'
}

# there: one run (NAME ARGS…) into $OUT/NAME, then only what resumes it here (resume.pt) and what tells how it
# went (curve, log) into $OUT/NAME.tar; checkpoint.pt (weights + moments) stays there. A run that failed
# still leaves its log.
train_one() {
  local name=$1 status=0
  shift
  mkdir -p "$OUT/$name"
  PYTHONUNBUFFERED=1 $PY -m training.train --device "$DEVICE" --data "$DATA" --out "$OUT/$name" "$@" > "$OUT/$name/train.log" 2>&1 || status=$?
  cat "$OUT/$name/train.log"
  (cd "$OUT/$name" && tar -cf "../$name.tar" train.log $(ls resume.pt curve.jsonl 2>/dev/null))
  rm -rf "${OUT:?}/$name"
  return $status
}

case "${1:-}" in
  pack)
    PY=.venv/bin/python
    [ -f $DATA/train.bin ] || $PY -m training.prepare --out $DATA --tokenizer training/runs/depth/tokenizer.json
    [ -f $DATA/quotes.bin ] || $PY -m training.prepare --out $DATA --add-quotes
    grep -qxs '/.device/' $EXCLUDE || echo '/.device/' >> $EXCLUDE
    mkdir -p $PACKED
    for f in "${FILES[@]}"; do
      [ $PACKED/$f.xz -nt $DATA/$f ] || xz -9 -T2 -c $DATA/$f > $PACKED/$f.xz
    done
    echo "packed: $(stat -c %s $PACKED/*.xz | mib) MiB in $PACKED"
    ;;
  light)
    if grep -qxs "/${STAY[0]}/" $EXCLUDE; then echo "already light: 'bash training/device.sh heavy' brings ${STAY[*]} back"; exit 0; fi
    git diff --cached --quiet || { echo "device.sh light: the index has staged changes; commit or unstage them first" >&2; exit 1; }
    for p in "${STAY[@]}"; do
      git rm -r -q --cached "$p"
      grep -qxs "/$p/" $EXCLUDE || echo "/$p/" >> $EXCLUDE
    done
    echo "${STAY[*]} are out of the travelling tree until 'bash training/device.sh heavy' (commit nothing before that)"
    ;;
  heavy)
    for p in "${STAY[@]}"; do sed -i "\#^/$p/\$#d" $EXCLUDE; done
    git reset -q -- "${STAY[@]}"
    git status --short "${STAY[@]}" | head -5
    ;;
  size)
    shift
    { git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null || true; find .device "$@" -type f -exec stat -c %s {} + 2>/dev/null || true; } | mib
    echo " MiB would travel with .device${*:+ and $*} carried (the limit is 64)"
    ;;
  train)
    shift
    : "${OUT:?train runs on the device machine, where OUT names the folder that comes back}"
    unpack
    train_one "$@"
    ;;
  plan)
    : "${OUT:?plan runs on the device machine, where OUT names the folder that comes back}"
    unpack
    pids=() names=()
    while read -r name args; do
      [ -n "$name" ] || continue
      # shellcheck disable=SC2086  # the plan's arguments are words
      train_one "$name" $args > /dev/null 2>&1 &
      pids+=($!) names+=("$name")
    done < "$2"
    failed=0
    for i in "${!pids[@]}"; do
      wait "${pids[$i]}" && echo "${names[$i]}: done" || { echo "${names[$i]}: failed"; failed=1; }
      tar -xOf "$OUT/${names[$i]}.tar" train.log | tail -n 4 || true
    done
    exit $failed
    ;;
  *)
    sed -n '2,15p' "$0" >&2
    exit 2
    ;;
esac
