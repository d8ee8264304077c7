// `circuit-inspector models` and `--bundle NAME` (src/cliModels.ts) on the real shipped bundle and a
// model folder holding a copy of the mask-rows fixture bundle and a broken one, through the built CLI.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { bundleDirFor, cliBundleFolders, FOLDERS_ENV } from '../../src/cliModels';
import { ModelError } from '../../src/cli';
import { formatBytes, listBundles } from '../../src/core/bundleList';
import { repoRoot } from './fixtures';
import { tempDir } from './tempDirs';

const bin = path.join(repoRoot, 'bin/circuit-inspector.js');
const noDist = fs.existsSync(path.join(repoRoot, 'dist/cli.js')) ? false : 'dist/cli.js is not built (npm run build)';

/** A model folder: rows (a working bundle without a card) and broken (a manifest that is not JSON). */
function modelFolder(): string {
  const dir = tempDir('cli-models-');
  fs.cpSync(path.join(repoRoot, 'test/fixtures/rows-bundle'), path.join(dir, 'rows'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'broken'));
  fs.writeFileSync(path.join(dir, 'broken', 'manifest.json'), '{"format": ');
  return dir;
}

/** The CLI run from another working directory with the model folder in its environment. */
function cli(folder: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: os.tmpdir(), encoding: 'utf8', timeout: 300_000, env: { ...process.env, [FOLDERS_ENV]: folder } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('bundleDirFor', () => {
  const folder = modelFolder();
  const folders = cliBundleFolders(repoRoot, { [FOLDERS_ENV]: [path.join(folder, 'missing'), folder].join(path.delimiter) });

  it('searches the package models/ first, then each folder of the environment variable', () => {
    assert.deepEqual(folders.map((f) => f.dir), [path.join(repoRoot, 'models'), path.join(folder, 'missing'), folder]);
  });

  it('takes a bundle name, a path, or nothing (the first bundle listed)', () => {
    assert.equal(bundleDirFor('rows', folders), path.join(folder, 'rows'));
    assert.equal(bundleDirFor(path.join(folder, 'broken'), folders), path.join(folder, 'broken'));
    assert.equal(bundleDirFor(undefined, folders), listBundles(folders)[0].dir);
  });

  it('names the folders it searched when no bundle has the name and no folder the path', () => {
    assert.throws(
      () => bundleDirFor('nonesuch', folders),
      (e: unknown) => e instanceof ModelError && e.message.includes('"nonesuch"') && e.message.includes(folder) && e.message.includes(path.join(repoRoot, 'models')),
    );
  });
});

describe('circuit-inspector models and --bundle NAME', { skip: noDist }, () => {
  const folder = modelFolder();

  it('lists every bundle with its size and shape, the broken one with its reason', () => {
    const r = cli(folder, 'models');
    assert.equal(r.status, 0, r.stderr);
    for (const b of listBundles(cliBundleFolders(repoRoot, { [FOLDERS_ENV]: folder }))) {
      const entry = r.stdout.split('\n').findIndex((l) => l.startsWith(`${b.name}  ${formatBytes(b.bytes)}  ${b.shape}  (`) && l.endsWith(`${b.dir})`));
      assert.ok(entry >= 0, `${b.name} is listed with its size and shape:\n${r.stdout}`);
      const next = r.stdout.split('\n')[entry + 1];
      if (b.name === 'broken') assert.match(next, /^ {4}cannot be loaded: .*manifest\.json: /);
      else if (b.name === 'rows') assert.equal(next, '    no MODEL_CARD.md');
      else assert.equal(next, `    ${b.about}`);
    }
  });

  it('analyze --bundle NAME runs the named bundle; an unknown name exits 4 naming the folders', () => {
    const sample = path.join(repoRoot, 'test/fixtures/cli/sample.py');
    const r = cli(folder, 'analyze', sample, '--bundle', 'rows', '--json', '--top', '1');
    assert.equal(r.status, 0, r.stderr);
    const manifest = JSON.parse(fs.readFileSync(path.join(folder, 'rows', 'manifest.json'), 'utf8')) as { name: string };
    assert.equal((JSON.parse(r.stdout) as { model: string }).model, manifest.name);
    const bad = cli(folder, 'analyze', sample, '--bundle', 'nonesuch');
    assert.equal(bad.status, 4);
    assert.match(bad.stderr, new RegExp(`no model bundle named "nonesuch" in .*${folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('models takes no FILE', () => {
    const r = cli(folder, 'models', 'x.py');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /models takes no FILE/);
  });
});
