#!/usr/bin/env bash
# Packages the extension with `npm run package` and installs the .vsix offline into a sandboxed
# code-server, as a user would, then checks what landed: the extension is listed, the linux-x64
# onnxruntime binary is inside (it is external to the bundle) and loads, other platforms' are not,
# and no test hook is in its dist/.
# Needs `npm run build` first and the tools from scripts/setup-vscode-test-env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup-vscode-test-env.sh)"
work=.vscode-test/package
rm -rf "$work" && mkdir -p "$work"/{home,config,data,tmp}
vsix="$work/circuit-inspector.vsix"
npm run package -- --out "$vsix"
# code-server writes config, logs and sockets under HOME/XDG/TMPDIR: keep them in the sandbox
run_cs() {
  HOME="$PWD/$work/home" XDG_CONFIG_HOME="$PWD/$work/config" XDG_DATA_HOME="$PWD/$work/data" TMPDIR="$PWD/$work/tmp" \
    "$VSCODE_TEST_NODE" "$VSCODE_TEST_CODE_SERVER/out/node/entry.js" --user-data-dir "$work/user-data" --extensions-dir "$work/extensions" "$@"
}
run_cs --install-extension "$vsix"
run_cs --list-extensions --show-versions | tee "$work/list.txt"
grep -q '^circuit-inspector\.circuit-inspector@' "$work/list.txt"
installed=$(echo "$work"/extensions/circuit-inspector.circuit-inspector-*)
ort="$installed/node_modules/onnxruntime-node"
test -f "$ort/bin/napi-v6/linux/x64/onnxruntime_binding.node"
if ls -d "$ort"/bin/napi-v6/{win32,darwin} "$ort"/bin/napi-v6/linux/arm64 2>/dev/null; then echo "other platforms' binaries are in the .vsix" >&2; exit 1; fi
test -f "$installed/dist/extension.js"
test -f "$installed/dist/runnerWorker.js"  # the model runs in worker threads started from this file
test -f "$installed/dist/forward.wasm"  # our kernels for the CPU's passes (src/core/wasmForward.ts)
test -f "$installed/dist/kernelThreadWorker.js"  # their second thread on a large model (src/core/kernelThread.ts)
# the packaged kernels take a shared memory under code-server's Node, as the extension host gives them
"$VSCODE_TEST_NODE" -e '
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const k = new WebAssembly.Instance(new WebAssembly.Module(require("fs").readFileSync(process.argv[1])), { env: { memory, abort() {} } }).exports;
  if (typeof k.attention !== "function" || !(k.memory.buffer instanceof SharedArrayBuffer)) throw new Error("the kernels did not load on a shared memory");' "$installed/dist/forward.wasm"
# the integration tests' commands (src/extension/testHooks.ts) are built into their own bundle only
if grep -l '_test' "$installed"/dist/*.js; then echo "test hooks (_test…) are in the packaged dist/" >&2; exit 1; fi
# the packaged addon runs the fixture model under code-server's Node, like the extension host would
"$VSCODE_TEST_NODE" -e '
  const ort = require(process.argv[1]);
  ort.InferenceSession.create(process.argv[2]).then((s) => s.run({ A: new ort.Tensor("float32", [1, 2, 3], [1, 3]), B: new ort.Tensor("float32", [10, 20, 30], [1, 3]) }))
    .then((r) => { if (Array.from(r.C.data).join() !== "11,22,33") throw new Error("wrong result " + Array.from(r.C.data)); })
    .catch((e) => { console.error(e); process.exit(1); });' "$PWD/$ort" "$PWD/test/fixtures/add.onnx"
echo "installed $vsix ($(du -h "$vsix" | cut -f1)) and ran its onnxruntime-node"
