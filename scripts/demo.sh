#!/usr/bin/env bash
# `npm run demo`: build, then open a real VS Code with the extension on examples/demo.py — desktop
# VS Code when `code` is on PATH, otherwise code-server (VS Code in the browser, installed offline
# from npm into .cache/) with a printed URL that opens examples/demo.py.
# One progress line per step; the install output (apt, npm, code-server) goes to .cache/demo/demo.log.
# Nothing is written outside the repository and the npm cache: VS Code's profile, extensions,
# config.yaml, logs and sockets live under .cache/demo/ (HOME, XDG_* and TMPDIR point there for
# code-server and the extension host it starts). PORT=NNNN picks the port (default 8080, or the
# next free one).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO=$ROOT/.cache/demo
FILE=$ROOT/examples/demo.py
LOG=$DEMO/demo.log
mkdir -p "$DEMO"
: >"$LOG"

n=0
total=5
command -v code >/dev/null 2>&1 && total=2
step() { # message command... — output to the log; on failure, its tail and exit
  local msg=$1 t0=$SECONDS
  shift
  n=$((n + 1))
  printf 'demo [%d/%d] %s ... ' "$n" "$total" "$msg"
  printf '\n== [%d/%d] %s\n' "$n" "$total" "$msg" >>"$LOG"
  if "$@" >>"$LOG" 2>&1; then
    echo "ok ($((SECONDS - t0)) s)"
  else
    echo "failed"
    echo "--- last lines of ${LOG#"$ROOT"/}:"
    tail -25 "$LOG"
    exit 1
  fi
}
settings() { # a fresh profile's settings: no welcome page, trust prompt, chat side bar or git prompt
  mkdir -p "$1/User"
  [ -f "$1/User/settings.json" ] || cat >"$1/User/settings.json" <<'JSON'
{
 "workbench.startupEditor": "none",
 "security.workspace.trust.enabled": false,
 "chat.disableAIFeatures": true,
 "workbench.secondarySideBar.defaultVisibility": "hidden",
 "git.openRepositoryInParentFolders": "never",
 "telemetry.telemetryLevel": "off",
 "extensions.autoUpdate": false
}
JSON
}

step "building the extension" npm run build

if command -v code >/dev/null 2>&1; then
  # desktop VS Code, with its own profile under .cache/demo/ and the extension loaded from here
  settings "$DEMO/vscode-user-data"
  step "opening VS Code on examples/demo.py" code --new-window --user-data-dir "$DEMO/vscode-user-data" \
    --extensions-dir "$DEMO/vscode-extensions" --extensionDevelopmentPath="$ROOT" "$ROOT/examples" "$FILE"
  exit 0
fi

step "getting code-server and Node 24 into .cache/ (first time: a few minutes)" \
  bash -c 'bash scripts/setup-vscode-test-env.sh >"$1"' _ "$DEMO/tools.env"
eval "$(cat "$DEMO/tools.env")"
VSIX=$DEMO/circuit-inspector.vsix
step "packaging the extension as a .vsix" npm run package -- --out "$VSIX"

mkdir -p "$DEMO"/{home,config,data,cache}
# unix socket paths (TMPDIR/vscode-ipc-<uuid>.sock) must stay under 108 bytes
if [ $((${#DEMO} + 60)) -lt 108 ]; then mkdir -p "$DEMO/tmp" && tmp=$DEMO/tmp; else tmp=${TMPDIR:-/tmp}; fi
printf 'auth: none\ncert: false\n' >"$DEMO/config.yaml"
settings "$DEMO/user-data"
cs=(env HOME="$DEMO/home" XDG_CONFIG_HOME="$DEMO/config" XDG_DATA_HOME="$DEMO/data" XDG_CACHE_HOME="$DEMO/cache" TMPDIR="$tmp"
  "$VSCODE_TEST_NODE" "$VSCODE_TEST_CODE_SERVER/out/node/entry.js" --config "$DEMO/config.yaml"
  --user-data-dir "$DEMO/user-data" --extensions-dir "$DEMO/extensions")
step "installing it into .cache/demo/extensions" "${cs[@]}" --install-extension "$VSIX" --force

port_busy() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=${PORT:-8080}
if [ -z "${PORT:-}" ]; then
  while port_busy "$port" && [ "$port" -lt 8180 ]; do port=$((port + 1)); done
fi
server=
# code-server runs in its own session so that stopping it stops its extension host too
stop() { if [ -n "$server" ]; then kill -TERM -- "-$server" 2>/dev/null || true; wait 2>/dev/null || true; fi; }
trap 'stop; exit 130' INT TERM
trap stop EXIT
start_server() {
  setsid "${cs[@]}" --auth none --bind-addr "127.0.0.1:$port" --disable-telemetry --disable-update-check \
    --disable-workspace-trust --disable-getting-started-override --ignore-last-opened "$ROOT/examples" >>"$LOG" 2>&1 &
  server=$!
  for _ in $(seq 1 240); do
    kill -0 "$server" 2>/dev/null || return 1
    "$VSCODE_TEST_NODE" -e 'require("http").get(process.argv[1], (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on("error", () => process.exit(1))' \
      "http://127.0.0.1:$port/healthz" && return 0
    sleep 0.5
  done
  return 1
}
step "starting code-server on 127.0.0.1:$port" start_server
# the workbench opens the folder, and the payload's openFile opens demo.py in it
url=$("$VSCODE_TEST_NODE" -e '
  const [authority, folder, file] = process.argv.slice(1);
  const payload = JSON.stringify([["openFile", `vscode-remote://${authority}${file}`]]);
  console.log(`http://${authority}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(payload)}`);' \
  "127.0.0.1:$port" "$ROOT/examples" "$FILE")
echo "$url" >"$DEMO/url.txt"
echo
echo "Open this in a browser — VS Code with Circuit Inspector on examples/demo.py:"
echo "  $url"
echo "(Ctrl+C stops the server; its log: ${LOG#"$ROOT"/})"
wait "$server"
