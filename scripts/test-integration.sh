#!/usr/bin/env bash
# Only the integration suite, inside a real VS Code (code-server + Chromium); see test-all.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .vscode-test
exec 9>.vscode-test/.lock  # one run at a time per checkout (see test-all.sh)
flock -n 9 || { echo "another test run holds .vscode-test/.lock; waiting for it"; flock 9; }
# the suite drives the extension through its test-only commands, built into this bundle only
npm run --silent build:test-hooks
eval "$(bash scripts/setup-vscode-test-env.sh)"
export VSCODE_TEST_NODE VSCODE_TEST_CODE_SERVER
exec node scripts/run-vscode-tests.js --out .vscode-test/out "$@"
