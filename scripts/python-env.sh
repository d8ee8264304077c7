#!/usr/bin/env bash
# Makes .venv from training/requirements.lock using as little disk as it can at its peak.
#
# PyPI's torch wheel brings its CUDA libraries, so the environment is about 4.8 GB. Given the whole
# lock at once, pip keeps every downloaded wheel (about 2.7 GB) until the last one is installed: a
# 7.5 GB peak, which filled a CI machine that had 6.1 GB free. One large wheel at a time, while the
# environment is small, and without pip's cache, the peak is the environment plus half a
# gigabyte: 5.1 GB measured with triton, 4.5 GB without.
set -euo pipefail
cd "$(dirname "$0")/.."
lock=training/requirements.lock

free_mb=$(($(df -Pk . | awk 'NR == 2 {print $4}') / 1024))
leave_out='^$'
if [ "$free_mb" -lt 6500 ]; then
  # triton (640 MB installed) serves torch.compile only, which nothing in this repository calls;
  # the corpus reads site-packages, so an environment for training/prepare.py should have it.
  echo "note: $free_mb MB free here: triton is left out of .venv (nothing here needs it; training/prepare.py's corpus does)"
  leave_out='^triton=='
fi
[ "$free_mb" -lt 5000 ] && echo "warning: $free_mb MB free here; the Python environment needs about 4.2 GB and more while installing"

python3 -m venv .venv
mapfile -t pins < <(grep -E '^[A-Za-z0-9]' "$lock" | grep -Ev "$leave_out")
big='^(torch|triton|nvidia-[^=]+)=='
install() { .venv/bin/pip install -q --no-deps --no-cache-dir "$@"; }
# The lock is complete (every transitive pin), so --no-deps installs exactly it. The large wheels go
# one at a time while the environment is still small (reverse order: triton, torch, then CUDA).
mapfile -t large < <(printf '%s\n' "${pins[@]}" | grep -E "$big" | sort -r)
for pin in "${large[@]}"; do install "$pin"; done
mapfile -t small < <(printf '%s\n' "${pins[@]}" | grep -Ev "$big")
install "${small[@]}"
