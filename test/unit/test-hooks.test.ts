// The integration tests' commands (src/extension/testHooks.ts) exist only in the bundle built with
// --test-hooks: the production build, the one the .vsix ships, has no `_test` string at all
// (scripts/check-package.sh checks the installed .vsix the same way).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as esbuild from 'esbuild';
import * as ts from 'typescript';
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

/**
 * The names only src/extension/testHooks.ts uses: its string literals and the keys of the objects it
 * builds (the test state's fields), less any that occur in another source file under src/.
 */
function testHookNames(): string[] {
  const file = path.join(repoRoot, 'src/extension/testHooks.ts');
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const names = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) && !ts.isImportDeclaration(node.parent)) names.add(node.text);
    if ((ts.isPropertyAssignment(node) || ts.isShorthandPropertyAssignment(node)) && ts.isIdentifier(node.name)) names.add(node.name.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  const others = sourceFiles(path.join(repoRoot, 'src'))
    .filter((f) => f !== file)
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('\n');
  return [...names].filter((n) => n.length >= 6 && !others.includes(n));
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

test('the production extension bundle has no test hooks; the test bundle has them', async () => {
  const production = await bundle(false);
  assert.doesNotMatch(production, /_test/);
  const withHooks = await bundle(true);
  for (const command of ['_testState', '_testSetAblation', '_testExport', '_testForgetPlacement']) assert.match(withHooks, new RegExp(`circuitInspector\\.${command}`));
  // nothing else of the test hooks either (the test state's own fields: ablatedLogitDiff, onScreen, …)
  const names = testHookNames();
  assert.ok(names.includes('ablatedLogitDiff') && names.includes('onScreen'), `test-hook names found: ${names.join(', ')}`);
  for (const name of names) {
    assert.ok(withHooks.includes(name), `the test bundle has ${name}`);
    assert.ok(!production.includes(name), `the production bundle has the test hooks' ${name}`);
  }
});
