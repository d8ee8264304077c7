import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { DocumentAnalyzer } from '../../src/core/analysis';
import { type Bundle, loadBundle } from '../../src/core/bundle';
import { findCircuit } from '../../src/core/discover';
import { discoverAt, tokenIdOf } from '../../src/core/discoverAt';
import { ModelSession } from '../../src/core/ortSession';
import { averagingRunner, MAX_AVERAGED, samePairPositions } from '../../src/core/samePair';
import { repoRoot } from './fixtures';
import { tempDir } from './tempDirs';

// a tiny random model exported with mask rows and node_weights.bin (test/fixtures/make_rows_bundle.py)
const fixtureDir = path.join(repoRoot, 'test/fixtures/rows-bundle');

let rows: { readonly bundle: Bundle; readonly session: ModelSession };
before(async () => {
  const b = loadBundle(fixtureDir);
  rows = { bundle: b, session: await ModelSession.create(b.onnxPath, { provider: 'cpu', threads: 2, spinning: false }) };
});
after(() => rows.session.release());

/** Target − alternative logit after the last of `ids` under each set of mean-ablated flat nodes: one run, a mask row per set. */
async function diffsUnder(ids: readonly number[], target: number, alt: number, sets: readonly (readonly number[])[]): Promise<number[]> {
  const { bundle, session } = rows;
  const N = bundle.layout.count;
  const mask = new Float32Array(sets.length * N).fill(1); // [M, N]
  sets.forEach((set, m) => set.forEach((f) => (mask[m * N + f] = 0)));
  const fill = new Float32Array(sets.length * N);
  for (let m = 0; m < sets.length; m++) fill.set(bundle.means, m * N);
  const T = ids.length;
  const { logits } = await session.run({ ids: BigInt64Array.from(ids, BigInt), B: 1, T, mask, fill, maskRows: sets.length, watch: [], scoreFrom: T - 1, readIds: BigInt64Array.of(BigInt(target), BigInt(alt)) }); // [M, 1, 2]
  return sets.map((_, m) => logits[2 * m] - logits[2 * m + 1]);
}

test('samePairPositions: the cursor first, then every other place with the same token followed by the target, at most MAX_AVERAGED', () => {
  assert.deepEqual(samePairPositions([5, 7, 1, 5, 7, 5, 8, 5, 7], 5, 7), [5, 0, 3, 7]);
  assert.deepEqual(samePairPositions([5, 7], 1, 7), [1]); // the cursor's token is the last: itself only
  const many = Array.from({ length: 100 }, (_, k) => (k % 2 ? 7 : 5));
  assert.equal(samePairPositions(many, 0, 7).length, MAX_AVERAGED);
});

test('discoverAt --average: where the pair occurs once, the result is exactly the single-position one and says 1 position', async () => {
  const { bundle, session } = rows;
  const text = 'def area(w, h):\n    return w * h\n\nprint(area(3, 4';
  const analyzer = new DocumentAnalyzer(bundle, session);
  const options = { target: ')', alt: ',' };
  const single = await discoverAt(bundle, session, (seq) => analyzer.windows(seq), text, text.length - 1, options);
  const averaged = await discoverAt(bundle, session, (seq) => analyzer.windows(seq), text, text.length - 1, { ...options, average: true });
  assert.deepEqual(averaged.averaged, { positions: [{ line: single.position.line, col: single.position.col }] });
  const apart = (d: object) => Object.fromEntries(Object.entries(d).filter(([k]) => k !== 'ms' && k !== 'averaged')); // ms: wall time
  assert.deepEqual(apart(averaged), apart(single));
});

test('averaged attribution over two positions is the mean of the two positions\' differences, node by node; discoverAt finds both', async () => {
  const { bundle, session } = rows;
  const text = 'f(a, b) + 1\nf(a, b';
  const [target, alt] = [tokenIdOf(bundle, ')'), tokenIdOf(bundle, ',')];
  const enc = bundle.tokenizer.encode(text);
  const last = enc.ids.length - 1;
  const same = samePairPositions(enc.ids, last, target);
  assert.equal(same.length, 2, 'the fixture text has the pair twice');
  const windows = same.map((j) => [bundle.eotId, ...enc.ids.slice(0, j + 1)]);
  const found = await findCircuit(averagingRunner(session, windows), windows[0], { target, alt }, { means: bundle.means, chunk: 50 });
  // each position alone: the full model, each circuit node ablated alone, the circuit ablated
  const sets = [[], ...found.nodes.map((f) => [f]), found.nodes];
  const [a, b] = await Promise.all(windows.map((w) => diffsUnder(w, target, alt, sets)));
  const mean = a.map((x, k) => (x + b[k]) / 2);
  assert.ok(Math.abs(found.full - mean[0]) <= 1e-4);
  found.nodes.forEach((f, k) => assert.ok(Math.abs(found.attribution[f] - (found.full - mean[k + 1])) <= 1e-4, `attribution of node ${f}`));
  assert.ok(Math.abs(found.withoutCircuit - mean[mean.length - 1]) <= 1e-4);

  const analyzer = new DocumentAnalyzer(bundle, session);
  const d = await discoverAt(bundle, session, (seq) => analyzer.windows(seq), text, text.length - 1, { target: ')', alt: ',', average: true });
  assert.deepEqual(d.averaged?.positions, [
    { line: 2, col: 5 },
    { line: 1, col: 5 },
  ]);
  assert.ok(Math.abs(d.full.logit_diff - found.full) <= 1e-4);
});

test('CLI: discover --average lists the positions averaged (JSON and words); without it there is no "averaged"', { skip: fs.existsSync(path.join(repoRoot, 'dist/cli.js')) ? false : 'dist/cli.js is not built (npm run build)' }, () => {
  const file = path.join(tempDir('ci-average-'), 'pair.py');
  fs.writeFileSync(file, 'f(a, b) + 1\nf(a, b');
  const discover = (...extra: string[]) => {
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/circuit-inspector.js'), 'discover', file, '--at', '2:5', '--target', ')', '--alt', ',', '--bundle', fixtureDir, '--provider', 'cpu', ...extra], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const averaged = JSON.parse(discover('--average', '--json')) as { averaged?: { positions: unknown[] } };
  assert.deepEqual(averaged.averaged?.positions, [
    { line: 2, col: 5 },
    { line: 1, col: 5 },
  ]);
  assert.match(discover('--average'), /^averaged over 2 positions of ` b` followed by `\)`: 2:5, 1:5$/m);
  assert.equal((JSON.parse(discover('--json')) as { averaged?: unknown }).averaged, undefined);
});
