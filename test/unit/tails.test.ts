// The tail graphs (manifest "tails", training/export.py TailInterface) through the real runner and
// onnxruntime on the shipped bundle: a tail's rows plus the bigram term are model.onnx's, and "Why this
// token?" finds the same circuits, attributions and differences with the tails as without them.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { loadBundle } from '../../src/core/bundle';
import { findCircuit, type MaskRunner } from '../../src/core/discover';
import { tokenIdOf } from '../../src/core/discoverAt';
import { Runner } from '../../src/core/runner';
import { bundleTails } from '../../src/core/tails';
import { repoRoot } from './fixtures';

const bundle = loadBundle(path.join(repoRoot, 'models', 'pysparse-depth'));
const tails = bundleTails(bundle);
const N = bundle.layout.count;
let runner: Runner;

before(async () => {
  runner = await Runner.create(bundle.onnxPath, { provider: 'cpu', tails });
});
after(() => runner.dispose());

/** The same runner without its tails: every row through model.onnx, as for a bundle exported before them. */
const modelOnly = (): MaskRunner => ({ run: (input) => runner.run(input), parallelism: runner.parallelism });

test('the shipped bundle has tails, by start, each from a node location of its layout', () => {
  assert.ok(tails.length >= 2, 'the shipped bundle lists its tails (training/export.py --tails-only)');
  for (const [i, t] of tails.entries()) {
    assert.equal(bundle.layout.location(t.from)?.offset, t.start);
    assert.ok(fs.existsSync(t.onnxPath));
    if (i) assert.ok(t.start > tails[i - 1].start);
  }
  assert.ok(tails.some((t) => t.lastLayer) && tails.some((t) => !t.lastLayer));
});

test('a bundle exported before tails has none; a tail outside the layout or a missing file is one sentence naming the fix', () => {
  assert.deepEqual(bundleTails({ ...bundle, manifest: { ...bundle.manifest, tails: undefined } }), []);
  assert.throws(() => bundleTails({ ...bundle, manifest: { ...bundle.manifest, tails: [{ from: '9.attn.q', onnx: 'tail.onnx' }] } }), /names a tail from 9\.attn\.q, which is not in its node layout; re-export the bundle with training\/export\.py\.$/);
  assert.throws(() => bundleTails({ ...bundle, manifest: { ...bundle.manifest, tails: [{ from: '0.attn.q', onnx: 'gone.onnx' }] } }), /gone\.onnx \(named by manifest\.json tails\) is missing; re-export/);
  assert.throws(() => bundleTails({ ...bundle, manifest: { ...bundle.manifest, tails: [{ from: '0.attn.q', onnx: '../model.onnx' }] } }), /must name a file inside the bundle/);
  assert.throws(() => bundleTails({ ...bundle, manifest: { ...bundle.manifest, tails: 'all' } }), /manifest\.json tails/);
});

test('each tail, rows sharing an ablation before its start and one more node each from it: logits + the bigram term = model.onnx (≤ 1e-4)', async () => {
  const ids = [bundle.eotId, ...bundle.tokenizer.encode('def area(w, h):\n    return w * h\n\nprint(area(3, 4').ids];
  const T = ids.length;
  const readIds = BigInt64Array.of(BigInt(tokenIdOf(bundle, ')')), BigInt(tokenIdOf(bundle, ',')));
  const M = 6;
  const run = async (mask: Float32Array, tail?: string) => {
    const fill = new Float32Array(M * N);
    for (let m = 0; m < M; m++) fill.set(bundle.means, m * N);
    return (await runner.run({ ids: BigInt64Array.from(ids, BigInt), B: 1, T, mask, fill, maskRows: M, watch: [], scoreFrom: T - 1, readIds, tail })).logits; // [M, 1, 2]
  };
  let worst = 0;
  for (const tail of tails) {
    const mask = new Float32Array(M * N).fill(1);
    for (let m = 0; m < M; m++) {
      for (let f = 0; f < tail.start; f += 97) mask[m * N + f] = 0; // the shared part: every 97th node before the start
      if (m) mask[m * N + tail.start + ((m * 389) % (N - tail.start))] = 0;
    }
    const [want, got] = await Promise.all([run(mask), run(mask, tail.from)]);
    const bigram = want[0] - got[0]; // the bigram term of the read id, the same in every row
    const bigramAlt = want[1] - got[1];
    for (let m = 0; m < M; m++) worst = Math.max(worst, Math.abs(got[2 * m] + bigram - want[2 * m]), Math.abs(got[2 * m + 1] + bigramAlt - want[2 * m + 1]));
  }
  assert.ok(worst <= 1e-4, `max |tail + bigram − model.onnx| = ${worst}`);
});

test('findCircuit with the tails and without: the same rows, circuit, attributions of every node and differences (≤ 1e-4) at three real positions', async () => {
  const places = [
    { text: 'def area(w, h):\n    return w * h\n\nprint(area(3, 4', target: ')', alt: ',' },
    { text: 'names = ["alpha", "beta", "gamma', target: '"', alt: '",' },
    { text: 'total = 0\nfor item in items:\n    total += item\nfor key', target: ' in', alt: ',' },
  ];
  for (const { text, target, alt } of places) {
    const ids = [bundle.eotId, ...bundle.tokenizer.encode(text).ids];
    const contrast = { target: tokenIdOf(bundle, target), alt: tokenIdOf(bundle, alt) };
    const viaTails = await findCircuit(runner, ids, contrast, { means: bundle.means });
    const viaModel = await findCircuit(modelOnly(), ids, contrast, { means: bundle.means });
    assert.equal(viaTails.rows, viaModel.rows, text);
    // the same set: two nodes whose attributions differ by float noise may come in either order (discoverAt orders what it shows by rounded values)
    assert.deepEqual([...viaTails.nodes].sort((a, b) => a - b), [...viaModel.nodes].sort((a, b) => a - b), text);
    let worst = 0;
    for (let f = 0; f < N; f++) worst = Math.max(worst, Math.abs(viaTails.attribution[f] - viaModel.attribution[f]));
    assert.ok(worst <= 1e-4, `${text}: attributions differ by up to ${worst}`);
    for (const k of ['full', 'circuitOnly', 'withoutCircuit'] as const) assert.ok(Math.abs(viaTails[k] - viaModel[k]) <= 1e-4, `${text}: ${k}`);
  }
});
