// Bundles the extension host code, the CLI and the webview. `vscode` and `onnxruntime-node`
// stay external: the first is provided by the editor, the second is a native addon.
// `--test-hooks` builds the extension with the integration tests' commands (src/extension/testHooks.ts);
// without it TEST_HOOKS is false and the production build drops them, so the .vsix has none.
import * as esbuild from 'esbuild';
import asc from 'assemblyscript/asc';
import * as fs from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const testHooks = process.argv.includes('--test-hooks');

const common = {
  bundle: true,
  minify: production,
  sourcemap: !production,
  logLevel: 'info',
};

const targets = [
  { ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', platform: 'node', format: 'cjs', target: 'node20', external: ['vscode', 'onnxruntime-node'], define: { TEST_HOOKS: String(testHooks) } },
  { ...common, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js', platform: 'node', format: 'cjs', target: 'node20', external: ['onnxruntime-node'] },
  // the model's worker thread, started by both of the above from their own folder (src/core/runner.ts)
  { ...common, entryPoints: ['src/core/runnerWorker.ts'], outfile: 'dist/runnerWorker.js', platform: 'node', format: 'cjs', target: 'node20', external: ['onnxruntime-node'] },
  // a model worker's second thread for the kernels of large windows (src/core/kernelThread.ts)
  { ...common, entryPoints: ['src/core/kernelThreadWorker.ts'], outfile: 'dist/kernelThreadWorker.js', platform: 'node', format: 'cjs', target: 'node20' },
  { ...common, entryPoints: ['src/webview/main.ts'], outfile: 'dist/webview.js', platform: 'browser', format: 'iife', target: 'es2022' },
];

// The forward pass's WebAssembly kernels (kernels/forward.ts, loaded by src/core/wasmForward.ts from the
// folder of the code that runs it): into dist/ for the bundled extension and CLI, and into out/src/core/
// for the unit tests, which run the tsc output.
async function buildKernels() {
  // a shared memory (imported; at most 4 GiB, wasm32's whole range): a second thread can run kernels on the same weights
  const memory = ['--enable', 'threads', '--importMemory', '--sharedMemory', '--maximumMemory', '65536'];
  const { error, stderr } = await asc.main(['kernels/forward.ts', '-O3', '--enable', 'simd', ...memory, '--runtime', 'stub', '--noAssert', '-o', 'dist/forward.wasm']);
  if (error) throw new Error(`kernels/forward.ts did not compile: ${stderr.toString()}`);
  fs.mkdirSync('out/src/core', { recursive: true });
  fs.copyFileSync('dist/forward.wasm', 'out/src/core/forward.wasm');
}

await buildKernels();
if (watch) {
  for (const t of targets) await (await esbuild.context(t)).watch();
} else {
  await Promise.all(targets.map((t) => esbuild.build(t)));
}
