#!/usr/bin/env bash
# The project's one test command (`npm test`, after `npm ci`): build, lint, typecheck, unit tests
# (node --test), Python tests (training/), the integration suite inside a real VS Code (code-server +
# Chromium, offline) and the .vsix install check. Every suite runs even when an earlier one failed,
# so one run shows everything; the last line is "N passed, N failed" over all of them (build, lint,
# typecheck and the package check count as one each), and the exit status is non-zero if anything
# failed. Full logs: .vscode-test/logs/.
set -uo pipefail
cd "$(dirname "$0")/.."
# onnxruntime-node's postinstall (a CUDA download from NuGet) is skipped by the project's .npmrc and
# package.json "allowScripts", for `npm ci` and for any npm install a step may trigger here.
# Several people run this in one checkout: runs share .vscode-test/ and out/, so take turns.
mkdir -p .vscode-test
exec 9>.vscode-test/.lock
flock -n 9 || { echo "another test run holds .vscode-test/.lock; waiting for it"; flock 9; }
LOG=.vscode-test/logs
rm -rf "$LOG" && mkdir -p "$LOG"
passed=0
failed=0
summary=()

count() { # suite passed failed
  passed=$((passed + $2)); failed=$((failed + $3)); summary+=("$1: $2 passed, $3 failed")
}
num() { # the number in the last line of stdin matching $1 (an ERE with one number), else 0
  grep -Eo "$1" | tail -1 | grep -Eo '[0-9]+' | tail -1 || true
}
check() { # name command... — one pass/fail check; output only when it fails
  local name=$1; shift
  if "$@" >"$LOG/$name.log" 2>&1; then count "$name" 1 0; else count "$name" 0 1; echo "--- $name failed:"; tail -40 "$LOG/$name.log"; fi
}
step() { echo "== $1 (t+${SECONDS}s)"; }

step "python environment"
# The environment is (re)installed when the lock differs from the one it was made from, so a pin
# added later (ruff, say) reaches checkouts whose .venv is older than it.
lock_sum=$(sha256sum training/requirements.lock | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.lock-sha256 2>/dev/null)" != "$lock_sum" ]; then
  check venv bash -c "bash scripts/python-env.sh && echo $lock_sum > .venv/.lock-sha256"
fi

step "build"
rm -rf out  # tsc never deletes: a removed test's old .js would still run
check build npm run build
step "lint"
check lint npm run lint
step "typecheck"
check typecheck npm run typecheck

step "unit tests (node --test)"
shopt -s nullglob
unit_files=(out/test/unit/*.test.js)
if [ ${#unit_files[@]} -eq 0 ]; then
  echo "no unit tests in out/test/unit"; count unit 0 0
else
  node --test --test-reporter=tap "${unit_files[@]}" >"$LOG/unit.log" 2>&1
  rc=$?
  u_pass=$(num '^# pass [0-9]+' <"$LOG/unit.log"); u_fail=$(num '^# fail [0-9]+' <"$LOG/unit.log")
  u_pass=${u_pass:-0}; u_fail=${u_fail:-0}
  [ "$rc" -ne 0 ] && [ "$u_fail" -eq 0 ] && u_fail=1  # the runner died without counting
  grep -E '^# (tests|pass|fail|skipped|todo)' "$LOG/unit.log"
  [ "$u_fail" -gt 0 ] && grep -E -A30 '^ *not ok' "$LOG/unit.log" | head -120
  count unit "$u_pass" "$u_fail"
fi

step "python tests (pytest)"
if [ -x .venv/bin/python ]; then
  # temporary folders of passed tests are deleted as they go (they took 370 MB of a low-disk CI machine)
  .venv/bin/python -m pytest training/tests -q -p no:cacheprovider -o tmp_path_retention_policy=failed >"$LOG/pytest.log" 2>&1
  rc=$?
  # pytest's last line reads like "2 failed, 10 passed, 1 error in 3.1s"
  p_line=$(grep -E '[0-9]+ (passed|failed|errors?|skipped)|no tests ran' "$LOG/pytest.log" | tail -1)
  echo "${p_line:-$(tail -1 "$LOG/pytest.log")}"
  p_pass=$(echo "$p_line" | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+' || true)
  p_fail=$(echo "$p_line" | grep -Eo '[0-9]+ (failed|errors?)' | awk '{s+=$1} END {print s+0}')
  p_pass=${p_pass:-0}
  # 5 = nothing collected: zero tests, not a failure; any other non-zero without a count is one failure
  [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ] && [ "$p_fail" -eq 0 ] && p_fail=1
  count python "$p_pass" "$p_fail"
else
  count python 0 1
fi

step "python lint and format (ruff)"
# ruff.toml at the root says which files (training/, test/fixtures/*.py) and which rules
check ruff bash -c '.venv/bin/ruff check && .venv/bin/ruff format --check'

step "integration tests (VS Code 1.139 in code-server + Chromium)"
if env_lines=$(bash scripts/setup-vscode-test-env.sh 2>"$LOG/setup.log"); then
  eval "$env_lines"
  export VSCODE_TEST_NODE VSCODE_TEST_CODE_SERVER
  # the suite drives the extension through its test-only commands, built into this bundle only;
  # packaging (vscode:prepublish) builds dist/extension.js again without them
  check build-test-hooks npm run build:test-hooks
  : >"$LOG/integration.log"
  node scripts/run-vscode-tests.js --out .vscode-test/out --timeout 900000 >"$LOG/integration.log" 2>&1 &
  driver=$!
  # show the driver's own lines and mocha's report as they come; the workbench chatter stays in the log
  tail -n +1 -f --pid=$driver "$LOG/integration.log" | awk '
    /^\[driver\]|^integration:/ { show = 1; print; next }
    /^\[browser:log\]/ { show = ($0 !~ /Creating a socket|Resolv(ing|ed) connection|AgentHost|AccountPolicyGate|Service Worker|reconnection-grace|Updating additional|^\[browser:log\] *$/); if (show) print; next }
    /^\[browser:/ { show = 0; next }
    show { print }'
  wait $driver
  rc=$?
  line=$(grep -E '^integration: [0-9]+ passed, [0-9]+ failed' "$LOG/integration.log" | tail -1)
  i_pass=$(echo "$line" | awk '{print $2+0}'); i_fail=$(echo "$line" | awk '{print $4+0}')
  [ "$rc" -ne 0 ] && [ "${i_fail:-0}" -eq 0 ] && i_fail=1
  count integration "${i_pass:-0}" "${i_fail:-0}"
  step "package (.vsix builds and installs offline into code-server)"
  check package bash scripts/check-package.sh
else
  echo "--- setting up code-server failed:"; tail -30 "$LOG/setup.log"
  count integration 0 1
  count package 0 1
fi

echo
echo "took ${SECONDS}s; logs in $LOG/"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
