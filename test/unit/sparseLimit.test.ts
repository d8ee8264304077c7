import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { loadBundle } from '../../src/core/bundle';
import { matMulModel, readWeights } from '../../src/core/onnxProto';
import { DenseProbe, ForwardCost } from '../../src/sparseLimit';

const root = path.resolve(__dirname, '..', '..', '..');
const modelsDir = path.join(root, 'models');
const shippedName = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).sort().find((d) => fs.existsSync(path.join(modelsDir, d, 'manifest.json'))) : undefined;
const noBundle = shippedName ? false : 'no model bundle under models/ (made by training/pipeline.sh)';

test("readWeights: the shipped graph's nonzero weights are the exporter's count in manifest.json, row by row", { skip: noBundle }, () => {
  const b = loadBundle(path.join(modelsDir, shippedName!));
  const metrics = b.manifest.metrics as { sparse_weights_nonzero: number; sparse_weights_total: number };
  const weights = readWeights(fs.readFileSync(b.onnxPath));
  // the exporter counts every 2-D weight but the bigram table (GPT.sparse_parameters)
  const sparse = [...weights].filter(([name, w]) => w.dims.length === 2 && !name.includes('bigram'));
  assert.equal(sparse.reduce((s, [, w]) => s + w.nonzero, 0), metrics.sparse_weights_nonzero);
  assert.equal(sparse.reduce((s, [, w]) => s + w.dims[0] * w.dims[1], 0), metrics.sparse_weights_total);
  for (const [name, w] of weights) {
    assert.equal(w.rowNonzero.length, w.dims[0] ?? 1, name);
    assert.equal(w.rowNonzero.reduce((s, x) => s + x, 0), w.nonzero, name);
  }
});

test('ForwardCost: dense multiply-adds follow the graph, nonzero ones are fewer and shrink with the read ids and the scored positions', { skip: noBundle }, () => {
  const b = loadBundle(path.join(modelsDir, shippedName!));
  const cost = ForwardCost.fromBundle(b);
  assert.ok(cost instanceof ForwardCost, String(cost));
  const m = b.model as Record<string, number>;
  const [d, hd, dm, V, L] = [m.d_model, m.n_head * m.d_head, m.d_mlp, m.vocab_size, m.n_layer];
  const all = BigInt64Array.from({ length: V }, (_, v) => BigInt(v));
  // every position scored: each layer does q, k, v, attention, projection and MLP at all T; the unembedding at all T for all V
  const T = 8;
  const full = cost.ofRun({ B: 1, T, scoreFrom: 0, readIds: all });
  assert.equal(full.dense, L * T * (3 * hd * d + 2 * T * hd + hd * d + 2 * d * dm) + T * d * V);
  assert.ok(full.nonzero > 0 && full.nonzero < full.dense / 4, `${full.nonzero} of ${full.dense}`);
  const two = cost.ofRun({ B: 2, T, scoreFrom: 0, readIds: all });
  assert.deepEqual(two, { dense: 2 * full.dense, nonzero: 2 * full.nonzero });
  const fewer = cost.ofRun({ B: 1, T, scoreFrom: 0, readIds: all.subarray(0, 6) });
  assert.equal(full.dense - fewer.dense, T * d * (V - 6));
  assert.ok(fewer.nonzero < full.nonzero);
  const scoredLess = cost.ofRun({ B: 1, T, scoreFrom: 6, readIds: all });
  assert.ok(scoredLess.dense < full.dense && scoredLess.nonzero < full.nonzero);
});

test('ForwardCost of a cone: the layers up to its end, its MLP only if it reaches it, no unembedding', { skip: noBundle }, () => {
  const b = loadBundle(path.join(modelsDir, shippedName!));
  const cost = ForwardCost.fromBundle(b);
  assert.ok(cost instanceof ForwardCost, String(cost));
  const m = b.model as Record<string, number>;
  const [d, hd, dm, L] = [m.d_model, m.n_head * m.d_head, m.d_mlp, m.n_layer];
  const [T, P, R] = [16, 6, 12];
  const run = { B: 1, T, scoreFrom: T - P, readIds: BigInt64Array.from({ length: R }, (_, v) => BigInt(v)) };
  const full = cost.ofRun(run);
  // the last layer whole: the full graph but the unembedding
  assert.equal(cost.ofRun({ ...run, cone: `${L - 1}.mlp.resid_delta` }).dense, full.dense - P * d * R);
  // layer 0's attention alone, its queries at the P scored positions (it is the cone's last layer)
  assert.equal(cost.ofRun({ ...run, cone: '0.mlp.act_in' }).dense, T * 2 * hd * d + P * hd * d + 2 * P * T * hd + P * hd * d);
  assert.equal(cost.ofRun({ ...run, cone: '0.mlp.resid_delta' }).dense - cost.ofRun({ ...run, cone: '0.mlp.post_act' }).dense, P * d * dm);
  const ends = ['0.mlp.act_in', '0.mlp.post_act', '0.mlp.resid_delta', `${L - 1}.mlp.act_in`, `${L - 1}.mlp.resid_delta`];
  const nonzero = ends.map((cone) => cost.ofRun({ ...run, cone }).nonzero);
  assert.deepEqual([...nonzero].sort((a, b) => a - b), nonzero);
  assert.ok(nonzero[0] > 0 && nonzero[nonzero.length - 1] < full.nonzero);
});

test('ForwardCost: a node location AbsTopK does not apply at (manifest topk_sites) counts its input in full', { skip: noBundle }, () => {
  const b = loadBundle(path.join(modelsDir, shippedName!));
  const run = { B: 1, T: 8, scoreFrom: 0, readIds: BigInt64Array.of(1n) };
  const all = ForwardCost.fromBundle({ ...b, model: { ...b.model, topk_sites: undefined } });
  const noMlpIn = ForwardCost.fromBundle({ ...b, model: { ...b.model, topk_sites: ['attn.act_in', 'attn.q', 'attn.k', 'attn.v', 'mlp.post_act'] } });
  assert.ok(all instanceof ForwardCost && noMlpIn instanceof ForwardCost);
  assert.equal(noMlpIn.ofRun(run).dense, all.ofRun(run).dense);
  assert.ok(noMlpIn.ofRun(run).nonzero > all.ofRun(run).nonzero);
});

test('matMulModel is a model onnxruntime runs, and DenseProbe times it', async () => {
  const session = await ort.InferenceSession.create(matMulModel(2, 3, 2));
  try {
    const out = await session.run({ A: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]), B: new ort.Tensor('float32', Float32Array.of(1, 0, 0, 1, 1, 1), [3, 2]) });
    assert.deepEqual([...(out.Y.data as Float32Array)], [4, 5, 10, 11]);
  } finally {
    await session.release();
  }
  const probe = await DenseProbe.open();
  try {
    assert.ok((await probe.measure()) > 0);
  } finally {
    await probe.close();
  }
});
