#!/usr/bin/env bash
# Builds the .vsix and installs it offline into a sandboxed code-server, as a user would.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup-vscode-test-env.sh)"
rm -f circuit-inspector-*.vsix
npm run package
vsix=$(ls circuit-inspector-*.vsix)
sandbox=$(mktemp -d "${TMPDIR:-/tmp}/ci-vsix-XXXXXX")
trap 'rm -rf "$sandbox"' EXIT
run_cs() { HOME="$sandbox" XDG_CONFIG_HOME="$sandbox/config" XDG_DATA_HOME="$sandbox/data" "$VSCODE_TEST_NODE" "$VSCODE_TEST_CODE_SERVER/out/node/entry.js" --user-data-dir "$sandbox/ud" --extensions-dir "$sandbox/ext" "$@"; }
run_cs --install-extension "$vsix"
run_cs --list-extensions | tee /dev/stderr | grep -qx 'circuit-inspector.circuit-inspector'
echo "installed $vsix ($(du -h "$vsix" | cut -f1))"
