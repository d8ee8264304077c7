import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { loadBundle } from '../../src/core/bundle';
import { Runner } from '../../src/core/runner';

const root = path.resolve(__dirname, '..', '..', '..');
const modelsDir = path.join(root, 'models');
const shippedName = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).sort().find((d) => fs.existsSync(path.join(modelsDir, d, 'manifest.json'))) : undefined;
const noBundle = shippedName ? false : 'no model bundle under models/ (made by training/pipeline.sh)';
const bundle = shippedName ? loadBundle(path.join(modelsDir, shippedName)) : undefined;

interface Golden {
  watch: number[];
  logit_ids: number[];
  cases: { prompt?: string; input_ids: number[]; ablate: number[]; fill: 'mean' | 'zero'; min_topk_gap: number; logits: number[][]; watched: number[][] }[];
}

test('onnxruntime-node matches the PyTorch reference (golden.json) to 1e-4, ablations included', { skip: noBundle }, async () => {
  const b = bundle!;
  const golden = JSON.parse(fs.readFileSync(path.join(b.dir, 'golden.json'), 'utf8')) as Golden;
  const runner = await Runner.create(b.onnxPath, { provider: 'cpu' });
  assert.equal(runner.provider, 'cpu');
  let compared = 0;
  let worst = 0;
  for (const c of golden.cases) {
    // hard top-k is discontinuous at ties: a case whose closest top-k boundary is within float
    // noise may legitimately pick another unit in ORT than in PyTorch
    if (c.min_topk_gap < 1e-5) continue;
    const N = b.layout.count;
    const mask = new Float32Array(N).fill(1);
    for (const f of c.ablate) mask[f] = 0;
    const fill = c.fill === 'zero' ? new Float32Array(N) : b.means;
    const T = c.input_ids.length;
    const out = await runner.run(BigInt64Array.from(c.input_ids.map(BigInt)), 1, T, mask, fill, golden.watch);
    const V = b.model.vocab_size;
    const K = golden.watch.length;
    assert.equal(out.logits.length, T * V);
    assert.equal(out.watched.length, T * K);
    for (let t = 0; t < T; t++) {
      golden.logit_ids.forEach((id, j) => {
        const d = Math.abs(out.logits[t * V + id] - c.logits[t][j]);
        worst = Math.max(worst, d);
        assert.ok(d <= 1e-4, `case ${compared} logit t=${t} id=${id}: ${out.logits[t * V + id]} vs ${c.logits[t][j]}`);
      });
      for (let k = 0; k < K; k++) {
        const d = Math.abs(out.watched[t * K + k] - c.watched[t][k]);
        worst = Math.max(worst, d);
        assert.ok(d <= 1e-4, `case ${compared} watched t=${t} k=${k}: ${out.watched[t * K + k]} vs ${c.watched[t][k]}`);
      }
    }
    compared++;
  }
  assert.ok(compared >= 3, `only ${compared} golden cases were free of top-k near-ties`);
  assert.ok(golden.cases.some((c) => c.ablate.length > 0 && c.min_topk_gap >= 1e-5), 'an ablated case was compared');
  await runner.dispose();
});

test('a batch of two rows gives each row the result it gets alone', { skip: noBundle }, async () => {
  const b = bundle!;
  const runner = await Runner.create(b.onnxPath, { provider: 'cpu' });
  const a = b.tokenizer.encode('x = "abc"\n').ids;
  const c = b.tokenizer.encode('y = [1, 2]\n').ids.slice(0, a.length);
  while (c.length < a.length) c.push(b.eotId);
  const T = a.length;
  const mask = new Float32Array(b.layout.count).fill(1);
  const watch = [0, 5, b.layout.count - 1];
  const both = await runner.run(BigInt64Array.from([...a, ...c].map(BigInt)), 2, T, mask, b.means, watch);
  const alone = await runner.run(BigInt64Array.from(c.map(BigInt)), 1, T, mask, b.means, watch);
  const V = b.model.vocab_size;
  for (let i = 0; i < T * V; i += 97) assert.ok(Math.abs(both.logits[T * V + i] - alone.logits[i]) < 1e-4);
  const none = await runner.run(BigInt64Array.from(a.map(BigInt)), 1, T, mask, b.means, []);
  assert.equal(none.watched.length, 0, 'nothing watched: an empty [B, T, 0] array');
  await assert.rejects(runner.run(new BigInt64Array(3), 2, 2, mask, b.means, watch), /do not make a \[2, 2\] batch/);
  await runner.dispose();
});

test('auto and cuda fall back to the CPU with one notice when CUDA cannot load', { skip: noBundle }, async () => {
  const b = bundle!;
  for (const provider of ['auto', 'cuda'] as const) {
    const runner = await Runner.create(b.onnxPath, { provider });
    if (runner.provider === 'cpu') assert.match(runner.notice ?? '', /^CUDA is not available \(.+\); running on the CPU\.$/);
    else assert.equal(runner.notice, undefined);
    await runner.dispose();
  }
  const cpu = await Runner.create(b.onnxPath, { provider: 'cpu' });
  assert.equal(cpu.notice, undefined, 'asking for the CPU is not worth a notice');
  await cpu.dispose();
});

test('a graph with another interface, or no graph at all, is one-sentence error', async (t) => {
  const add = path.join(root, 'test/fixtures/add.onnx');
  if (!fs.existsSync(add)) return t.skip('test/fixtures/add.onnx is absent');
  await assert.rejects(Runner.create(add, { provider: 'cpu' }), (e: Error) => {
    assert.match(e.message, /add\.onnx has the interface \(A, B\) → \(C\) but Circuit Inspector needs \(input_ids, node_mask, node_fill, watch\) → \(logits, watched\); re-export/);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  await assert.rejects(Runner.create(path.join(root, 'package.json'), { provider: 'cpu' }), /package\.json could not be loaded by onnxruntime \(.*\); re-export/);
});
