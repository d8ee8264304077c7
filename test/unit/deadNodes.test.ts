// Dead nodes (./deadNodes) on the shipped bundle through the real runner and onnxruntime: ablating them
// changes no logit at a real position, so "Why this token?" may leave them out of the node set it
// prunes its circuit from.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { loadBundle } from '../../src/core/bundle';
import { deadNodes } from '../../src/core/deadNodes';
import { findCircuit } from '../../src/core/discover';
import { tokenIdOf } from '../../src/core/discoverAt';
import { Runner } from '../../src/core/runner';
import { repoRoot } from './fixtures';

const bundle = loadBundle(path.join(repoRoot, 'models', 'pysparse-depth'));
const N = bundle.layout.count;
const ids = [bundle.eotId, ...bundle.tokenizer.encode('def area(w, h):\n    return w * h\n\nprint(area(3, 4').ids];
const contrast = { target: tokenIdOf(bundle, ')'), alt: tokenIdOf(bundle, ',') };
let runner: Runner;

before(async () => {
  runner = await Runner.create(bundle.onnxPath, { provider: 'cpu' });
});
after(() => runner.dispose());

/** Target − alternative at the window's last position under each mask row of `masks` [M, N], through model.onnx. */
async function diffs(masks: Float32Array, fill: Float32Array): Promise<Float32Array> {
  const M = masks.length / N;
  const fills = new Float32Array(M * N);
  for (let m = 0; m < M; m++) fills.set(fill, m * N);
  const readIds = BigInt64Array.of(BigInt(contrast.target), BigInt(contrast.alt));
  const { logits } = await runner.run({ ids: BigInt64Array.from(ids, BigInt), B: 1, T: ids.length, mask: masks, fill: fills, maskRows: M, watch: [], scoreFrom: ids.length - 1, readIds }); // [M, 1, 2]
  return Float32Array.from({ length: M }, (_, m) => logits[2 * m] - logits[2 * m + 1]);
}

for (const [mode, fill] of [
  ['mean', bundle.means],
  ['zero', new Float32Array(N)],
] as const) {
  test(`${mode} ablation: each dead node alone, and all of them at once, leave the logit difference exactly as it is; a node that fires is not dead`, async () => {
    const dead = await deadNodes(runner, [ids], fill);
    const list = Array.from(dead.keys()).filter((f) => dead[f]);
    assert.ok(list.length > 0 && list.length < N, `${list.length} dead nodes`);
    // row 0 unablated, row 1 every dead node ablated, then each dead node alone
    const M = list.length + 2;
    const masks = new Float32Array(M * N).fill(1);
    for (const [k, f] of list.entries()) masks[N + f] = masks[(k + 2) * N + f] = 0;
    const d = await diffs(masks, fill);
    for (let m = 1; m < M; m++) assert.equal(d[m], d[0], `row ${m}: ${d[m]} against ${d[0]}`);
    // the test can fail: ablating the nodes that are not dead moves the difference
    const live = new Float32Array(2 * N).fill(1);
    for (let f = 0; f < N; f++) if (!dead[f]) live[N + f] = 0;
    const moved = await diffs(live, fill);
    assert.notEqual(moved[1], moved[0]);
  });
}

test('findCircuit told the dead nodes: prunes from the live ones (no dead node in the circuit), and the circuit passes its tests by single runs', async () => {
  const dead = await deadNodes(runner, [ids], bundle.means);
  const told = await findCircuit(runner, ids, contrast, { means: bundle.means, dead });
  assert.ok(told.nodes.every((f) => !dead[f]), 'a dead node in the circuit');
  // its figures are the ones single runs give: with every node outside it ablated, and with it ablated
  const only = new Float32Array(2 * N);
  const without = only.subarray(N).fill(1);
  for (const f of told.nodes) [only[f], without[f]] = [1, 0];
  const [alone, left] = await diffs(only, bundle.means);
  assert.ok(Math.abs(alone - told.circuitOnly) <= 1e-4 && Math.abs(left - told.withoutCircuit) <= 1e-4, `${alone}, ${left} against ${told.circuitOnly}, ${told.withoutCircuit}`);
  assert.ok(alone / told.full >= 0.8, `the circuit alone keeps ${alone} of ${told.full}`);
});
