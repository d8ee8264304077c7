#!/usr/bin/env bash
# The project's one test command (`npm test`): build, lint, typecheck, unit tests (Node), Python
# tests (training/), integration tests inside a real VS Code (code-server + Chromium), and the
# .vsix packaging check. Ends with one line "N passed, N failed" over all suites; exits non-zero
# if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL=skip  # onnxruntime-node's postinstall would fetch CUDA libraries
LOG=.vscode-test/logs
mkdir -p "$LOG"
passed=0
failed=0
summary=()

count() { # name pass fail
  passed=$((passed + $2)); failed=$((failed + $3)); summary+=("$1: $2 passed, $3 failed")
}
check() { # name command... — a single pass/fail check
  local name=$1; shift
  if "$@" >"$LOG/$name.log" 2>&1; then count "$name" 1 0; else count "$name" 0 1; echo "--- $name failed:"; tail -40 "$LOG/$name.log"; fi
}

echo "== python environment"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv && .venv/bin/pip install -q -r training/requirements.lock || { echo "pip install failed"; exit 1; }
fi

echo "== build"
check build npm run build
echo "== lint"
check lint npm run lint
echo "== typecheck"
check typecheck npm run typecheck

echo "== unit tests (node --test)"
node --test out/test/unit/ >"$LOG/unit.log" 2>&1
grep -E '^# (tests|pass|fail|skipped)' "$LOG/unit.log"
grep -E '^not ok' "$LOG/unit.log" && grep -A25 '^not ok' "$LOG/unit.log" | head -80
count unit "$(awk '/^# pass/{print $3}' "$LOG/unit.log" | tail -1)" "$(awk '/^# fail/{print $3}' "$LOG/unit.log" | tail -1)"

echo "== python tests (pytest)"
.venv/bin/python -m pytest training/tests -q -p no:cacheprovider >"$LOG/pytest.log" 2>&1
rc=$?
tail -3 "$LOG/pytest.log"
py_pass=$(grep -Eo '[0-9]+ passed' "$LOG/pytest.log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
py_fail=$(grep -Eo '[0-9]+ (failed|error)' "$LOG/pytest.log" | awk '{s+=$1} END {print s+0}')
[ "$rc" -ne 0 ] && [ "$rc" -ne 5 ] && [ "$py_fail" -eq 0 ] && py_fail=1  # crashed without a count
count python "${py_pass:-0}" "$py_fail"

echo "== integration tests (VS Code: code-server + Chromium)"
if env_lines=$(bash scripts/setup-vscode-test-env.sh 2>"$LOG/setup.log"); then
  eval "$env_lines"
  export VSCODE_TEST_NODE VSCODE_TEST_CODE_SERVER
  node scripts/run-vscode-tests.js --out .vscode-test/out --timeout 600000 2>&1 | tee "$LOG/integration.log" | grep -vE '^\[browser:(debug|info|log)\] *$'
  line=$(grep -E '^integration: [0-9]+ passed, [0-9]+ failed' "$LOG/integration.log" | tail -1)
  if [ -n "$line" ]; then count integration "$(echo "$line" | awk '{print $2}')" "$(echo "$line" | awk '{print $4}')"; else count integration 0 1; fi
  echo "== package (.vsix installs offline into code-server)"
  check package bash scripts/check-package.sh
else
  tail -30 "$LOG/setup.log"
  count integration 0 1
fi

echo
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
