// `circuit-inspector import-openai` end to end: a clean-room fixture in the file format of OpenAI's
// released models (training/openai_format.py), with a circuit in their viz format, is converted by the
// CLI from another working directory with relative paths, and the bundle it writes (circuit included)
// loads and analyzes a file in the TypeScript runtime.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { loadBundle } from '../../src/core/bundle';
import { tempDir } from './tempDirs';

const root = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin/circuit-inspector.js');
const python = path.join(root, '.venv/bin/python');
const noPython = fs.existsSync(python) ? false : 'no .venv (training/requirements.lock)';
const noDist = fs.existsSync(path.join(root, 'dist/cli.js')) ? false : 'dist/cli.js is not built (npm run build)';

function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('import-openai converts a fixture into a bundle that loads and analyzes', { skip: noPython || noDist }, () => {
  const work = tempDir('ci-import-');
  const made = run(python, ['-m', 'training.openai_format', '--out', work, '--only', 'sink_bigram_8sites'], root);
  assert.equal(made.status, 0, made.stderr);
  // the node means' corpus: a few of the extension's own sources
  const corpus = fs
    .readdirSync(path.join(root, 'src/core'))
    .map((f) => JSON.stringify({ path: f, text: fs.readFileSync(path.join(root, 'src/core', f), 'utf8') }))
    .join('\n');
  fs.writeFileSync(path.join(work, 'val.jsonl'), corpus + '\n');
  // the fixture's circuit in OpenAI's viz format, where upstream's layout puts it (the folder names the task)
  const viz = 'viz/sink_bigram_8sites/bracket_counting_beeg/prune_v4/k_optim/viz_data.pt';
  const args = ['import-openai', '--model', 'sink_bigram_8sites', '--tokenizer', 'tokenizer_512', '--out', 'bundle', '--val-corpus', 'val.jsonl', '--viz', viz];
  const r = run(process.execPath, [bin, ...args], work);
  assert.equal(r.status, 0, r.stderr);
  const bundle = loadBundle(path.join(work, 'bundle'));
  assert.equal(bundle.eotId, 511);
  assert.equal(bundle.model.n_layer, 2);
  // the circuit file passed the loader's schema and node-layout checks
  assert.equal(bundle.circuits.length, 1);
  const [c] = bundle.circuits;
  assert.equal(c.task, 'bracket_counting_beeg');
  assert.equal(c.scope?.kind, 'list-close');
  // which half of the prompts is nested depends on the random model's preference
  assert.deepEqual(c.classes.map((k) => k.label).sort(), ['flat', 'nested']);
  assert.ok(c.nodes.length > 0 && c.edges.length > 0 && c.firing !== undefined);
  const a = run(process.execPath, [bin, 'analyze', path.join(root, 'src/core/bundle.ts'), '--bundle', path.join(work, 'bundle'), '--json', '--top', '2', '--provider', 'cpu', '--max-bytes', '0'], work);
  assert.equal(a.status, 0, a.stderr);
  const tokens = (JSON.parse(a.stdout) as { tokens: { next: unknown[]; circuits: Record<string, unknown> }[] }).tokens;
  assert.ok(tokens.length > 100 && tokens.every((t) => t.next.length === 2));
  assert.ok(tokens.every((t) => 'bracket_counting_beeg' in t.circuits));
});

test('import-openai passes on the converter’s one-sentence refusal and its exit status', { skip: noPython || noDist }, () => {
  const work = tempDir('ci-import-bad-');
  const r = run(process.execPath, [bin, 'import-openai', '--model', 'nowhere', '--tokenizer', 'nowhere', '--out', 'bundle'], work);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /nowhere\/beeg_config\.json is missing: a model folder holds beeg_config\.json and final_model\.pt as published\./);
  assert.ok(!fs.existsSync(path.join(work, 'bundle')));
});
