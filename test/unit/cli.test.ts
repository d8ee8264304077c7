import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { offsetOf, parseArgs } from '../../src/cli';
import { tempDir } from './tempDirs';

const root = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin/circuit-inspector.js');
const sample = path.join(root, 'test/fixtures/cli/sample.py');
const modelsDir = path.join(root, 'models');
const shippedName = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).sort().find((d) => fs.existsSync(path.join(modelsDir, d, 'manifest.json'))) : undefined;
const noBundle = shippedName ? false : 'no model bundle under models/ (made by training/pipeline.sh)';
const noDist = fs.existsSync(path.join(root, 'dist/cli.js')) ? false : 'dist/cli.js is not built (npm run build)';

/** Run the CLI from another working directory: the default bundle must not depend on it. */
function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: os.tmpdir(), encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of the shipped bundle whose manifest lists the sample circuit (large files are linked). */
function bundleWithCircuit(): string {
  const dir = tempDir('ci-cli-');
  const src = path.join(modelsDir, shippedName!);
  for (const f of fs.readdirSync(src)) if (f !== 'manifest.json' && f !== 'circuits') fs.symlinkSync(path.join(src, f), path.join(dir, f));
  fs.mkdirSync(path.join(dir, 'circuits'));
  fs.copyFileSync(path.join(root, 'test/fixtures/circuit-sample.json'), path.join(dir, 'circuits/quote.json'));
  const m = JSON.parse(fs.readFileSync(path.join(src, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  m.circuits = ['circuits/quote.json'];
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
  return dir;
}

test('argument parsing and LINE:COL positions', () => {
  const a = parseArgs(['analyze', 'f.py', '--json', '--top', '4', '--mode=zero']);
  assert.equal(a.command, 'analyze');
  assert.deepEqual(a.positional, ['f.py']);
  assert.equal(a.opts.get('--json'), true);
  assert.equal(a.opts.get('--top'), '4');
  assert.equal(a.opts.get('--mode'), 'zero');
  assert.throws(() => parseArgs(['analyze', '--frobnicate']), /unknown option --frobnicate/);
  assert.throws(() => parseArgs(['analyze', 'f.py', '--top']), /--top needs a value/);
  assert.equal(offsetOf('ab\ncd\r\nef', '1:1'), 0);
  assert.equal(offsetOf('ab\ncd\r\nef', '2:2'), 4);
  assert.equal(offsetOf('ab\ncd\r\nef', '3:3'), 9);
  assert.throws(() => offsetOf('ab\n', '5:1'), /only 2 lines/);
  assert.throws(() => offsetOf('ab', '1:9'), /outside the file/);
  assert.throws(() => offsetOf('ab', 'x'), /LINE:COL/);
});

test('--help prints usage; bench rejects bad options with exit 2', { skip: noDist }, () => {
  const h = cli('--help');
  assert.equal(h.status, 0);
  assert.match(h.stdout, /^Usage: circuit-inspector/);
  for (const o of ['--json', '--top', '--ablate', '--mode', '--at', '--bundle', '--provider', 'bench', '--runs']) assert.ok(h.stdout.includes(o), o);
  const b = cli('bench', '--runs', '0');
  assert.equal(b.status, 2);
  assert.match(b.stderr, /--runs must be an integer from 1 to 50/);
  assert.match(cli('bench', 'file.py').stderr, /bench takes no FILE/);
});

test('analyze --json: the documented shape, tokens tiling the file, circuits per token', { skip: noDist || noBundle }, () => {
  const dir = bundleWithCircuit();
  const r = cli('analyze', sample, '--json', '--provider', 'cpu', '--top', '2', '--bundle', dir);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { model: string; tokens: { text: string; start: number; end: number; next: { text: string; p: number }[]; circuits: Record<string, { fires: boolean; value: number }> }[] };
  assert.deepEqual(Object.keys(out), ['model', 'tokens']);
  assert.equal(typeof out.model, 'string');
  const text = fs.readFileSync(sample, 'utf8');
  assert.equal(out.tokens.map((t) => t.text).join(''), text);
  for (const t of out.tokens) {
    assert.deepEqual(Object.keys(t), ['text', 'start', 'end', 'next', 'circuits']);
    assert.equal(text.slice(t.start, t.end), t.text);
    assert.equal(t.next.length, 2);
    for (const n of t.next) assert.ok(typeof n.text === 'string' && n.p >= 0 && n.p <= 1);
    assert.deepEqual(Object.keys(t.circuits), ['single_double_quote']);
    assert.deepEqual(Object.keys(t.circuits.single_double_quote), ['fires', 'value']);
  }
  const at = cli('analyze', sample, '--json', '--provider', 'cpu', '--at', '2:23', '--bundle', dir, '--ablate', '0.attn.v.17', '--mode', 'zero');
  assert.equal(at.status, 0, at.stderr);
  const one = JSON.parse(at.stdout) as { tokens: { text: string; readouts: Record<string, { p: number[]; logit_diff: number }> }[] };
  assert.equal(one.tokens.length, 1);
  assert.equal(one.tokens[0].readouts.single_double_quote.p.length, 2);
  assert.equal(typeof one.tokens[0].readouts.single_double_quote.logit_diff, 'number');
  const human = cli('analyze', sample, '--provider', 'cpu', '--bundle', dir);
  assert.equal(human.status, 0);
  assert.match(human.stdout, /"def"\s+→ /);
});

test('the default bundle is found from the CLI file, not the working directory', { skip: noDist || noBundle }, () => {
  const r = cli('analyze', sample, '--json', '--provider', 'cpu');
  assert.equal(r.status, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { model: string }).model, JSON.parse(fs.readFileSync(path.join(modelsDir, shippedName!, 'manifest.json'), 'utf8')).name);
});

test('one-line errors with exit status 2: missing file, binary file, broken bundle, bad options', { skip: noDist }, () => {
  const bin0 = path.join(tempDir('ci-binary-'), 'binary.py');
  fs.writeFileSync(bin0, Buffer.from([0x61, 0x00, 0x62]));
  const cases: [string[], RegExp][] = [
    [['analyze', '/nonexistent/x.py'], /x\.py: no such file/],
    [['analyze', bin0], /looks binary \(it contains NUL bytes\)/],
    [['analyze', sample, '--bundle', os.tmpdir()], /Bundle .*: manifest\.json is missing\./],
    [['analyze', sample, '--mode', 'half'], /--mode must be mean or zero/],
    [['analyze', sample, '--top', '0'], /--top must be an integer/],
    [['analyze'], /analyze needs exactly one FILE/],
    [['frob'], /unknown command frob/],
  ];
  for (const [args, message] of cases) {
    const r = cli(...args);
    assert.equal(r.status, 2, args.join(' '));
    const lines = r.stderr.split('\n').filter((l) => l && !l.startsWith('note: '));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], message);
  }
});
