#!/usr/bin/env bash
# `npm run demo`: build, then open a real VS Code with the extension on examples/ — desktop VS Code
# when `code` is on PATH, otherwise code-server in the browser (the URL is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
if command -v code >/dev/null 2>&1; then
  exec code --extensionDevelopmentPath="$PWD" "$PWD/examples" "$PWD/examples/demo.py"
fi
eval "$(bash scripts/setup-vscode-test-env.sh)"
data="$PWD/.cache/demo"
mkdir -p "$data/user-data/User" "$data/extensions"
[ -f "$data/user-data/User/settings.json" ] || echo '{"workbench.startupEditor":"none","security.workspace.trust.enabled":false}' >"$data/user-data/User/settings.json"
# install the extension as a user would: build the .vsix and install it into the demo profile
npm run package >/dev/null
"$VSCODE_TEST_NODE" "$VSCODE_TEST_CODE_SERVER/out/node/entry.js" --user-data-dir "$data/user-data" --extensions-dir "$data/extensions" \
  --install-extension "$(ls circuit-inspector-*.vsix)" --force >/dev/null
port=${PORT:-8080}
echo "Circuit Inspector demo: open http://127.0.0.1:$port/?folder=$PWD/examples in a browser (Ctrl+C to stop)"
exec "$VSCODE_TEST_NODE" "$VSCODE_TEST_CODE_SERVER/out/node/entry.js" --auth none --bind-addr "127.0.0.1:$port" \
  --user-data-dir "$data/user-data" --extensions-dir "$data/extensions" --disable-telemetry --disable-update-check "$PWD/examples"
