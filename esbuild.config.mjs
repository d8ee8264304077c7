// Bundles the extension host code, the CLI and the webview. `vscode` and `onnxruntime-node`
// stay external: the first is provided by the editor, the second is a native addon.
// `--test-hooks` builds the extension with the integration tests' commands (src/extension/testHooks.ts);
// without it TEST_HOOKS is false and the production build drops them, so the .vsix has none.
import * as esbuild from 'esbuild';

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
  { ...common, entryPoints: ['src/webview/main.ts'], outfile: 'dist/webview.js', platform: 'browser', format: 'iife', target: 'es2022' },
];

if (watch) {
  for (const t of targets) await (await esbuild.context(t)).watch();
} else {
  await Promise.all(targets.map((t) => esbuild.build(t)));
}
