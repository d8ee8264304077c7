#!/usr/bin/env bash
# Only the integration suite, inside a real VS Code (code-server + Chromium); see test-all.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup-vscode-test-env.sh)"
export VSCODE_TEST_NODE VSCODE_TEST_CODE_SERVER
exec node scripts/run-vscode-tests.js --out .vscode-test/out "$@"
