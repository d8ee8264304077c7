// The integration tests' commands (src/extension/testHooks.ts) exist only in the bundle built with
// --test-hooks: the production build, the one the .vsix ships, has no `_test` string at all
// (scripts/check-package.sh checks the installed .vsix the same way).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as esbuild from 'esbuild';
import { repoRoot } from './fixtures';
import { tempDir } from './tempDirs';

async function bundle(testHooks: boolean): Promise<string> {
  const outfile = path.join(tempDir('circuit-hooks-'), 'extension.js');
  await esbuild.build({
    entryPoints: [path.join(repoRoot, 'src/extension/extension.ts')],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode', 'onnxruntime-node'],
    define: { TEST_HOOKS: String(testHooks) },
    logLevel: 'silent',
  });
  return fs.readFileSync(outfile, 'utf8');
}

test('the production extension bundle has no test hooks; the test bundle has them', async () => {
  assert.doesNotMatch(await bundle(false), /_test/);
  const withHooks = await bundle(true);
  for (const command of ['_testState', '_testSetAblation', '_testExport']) assert.match(withHooks, new RegExp(`circuitInspector\\.${command}`));
});
