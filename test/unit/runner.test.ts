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

const allIds = (V: number) => BigInt64Array.from({ length: V }, (_, v) => BigInt(v));

test('onnxruntime-node matches the PyTorch reference (golden.json): the same top-k selections exactly, values to 1e-4, ablations included', { skip: noBundle }, async () => {
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
    const R = golden.logit_ids.length;
    const out = await runner.run({ ids: BigInt64Array.from(c.input_ids.map(BigInt)), B: 1, T, mask, fill, watch: golden.watch, scoreFrom: 0, readIds: BigInt64Array.from(golden.logit_ids, BigInt) });
    const K = golden.watch.length;
    assert.equal(out.logits.length, T * R);
    assert.equal(out.watched.length, T * K);
    for (let t = 0; t < T; t++) {
      golden.logit_ids.forEach((id, j) => {
        const d = Math.abs(out.logits[t * R + j] - c.logits[t][j]);
        worst = Math.max(worst, d);
        assert.ok(d <= 1e-4, `case ${compared} logit t=${t} id=${id}: ${out.logits[t * R + j]} vs ${c.logits[t][j]}`);
      });
      for (let k = 0; k < K; k++) {
        const [got, want] = [out.watched[t * K + k], c.watched[t][k]];
        // AbsTopK zeroes what it does not keep: the kept set must be the reference's, exactly
        assert.equal(got === 0, want === 0, `case ${compared} watched t=${t} k=${k}: top-k kept ${got} where the reference has ${want}`);
        worst = Math.max(worst, Math.abs(got - want));
        assert.ok(Math.abs(got - want) <= 1e-4, `case ${compared} watched t=${t} k=${k}: ${got} vs ${want}`);
      }
    }
    compared++;
  }
  assert.ok(compared >= 3, `only ${compared} golden cases were free of top-k near-ties`);
  assert.ok(golden.cases.some((c) => c.ablate.length > 0 && c.min_topk_gap >= 1e-5), 'an ablated case was compared');
  await runner.dispose();
});

test('a batch of two rows gives each row the result it gets alone; scoreFrom and readIds only cut the outputs', { skip: noBundle }, async () => {
  const b = bundle!;
  const runner = await Runner.create(b.onnxPath, { provider: 'cpu' });
  const a = b.tokenizer.encode('x = "abc"\n').ids;
  const c = b.tokenizer.encode('y = [1, 2]\n').ids.slice(0, a.length);
  while (c.length < a.length) c.push(b.eotId);
  const T = a.length;
  const V = b.model.vocab_size;
  const mask = new Float32Array(b.layout.count).fill(1);
  const watch = [0, 5, b.layout.count - 1];
  const input = { B: 1, T, mask, fill: b.means, watch, scoreFrom: 0, readIds: allIds(V) };
  const both = await runner.run({ ...input, B: 2, ids: BigInt64Array.from([...a, ...c].map(BigInt)) });
  const alone = await runner.run({ ...input, ids: BigInt64Array.from(c.map(BigInt)) });
  for (let i = 0; i < T * V; i += 97) assert.ok(Math.abs(both.logits[T * V + i] - alone.logits[i]) < 1e-4);
  // the last 3 positions and 3 vocabulary entries: exactly those rows and columns of the full run
  const read = [7, 1000, V - 1];
  const cut = await runner.run({ ...input, ids: BigInt64Array.from(c.map(BigInt)), scoreFrom: T - 3, readIds: BigInt64Array.from(read, BigInt) });
  assert.equal(cut.logits.length, 3 * read.length);
  assert.equal(cut.watched.length, 3 * watch.length);
  for (let j = 0; j < 3; j++) {
    read.forEach((id, r) => assert.ok(Math.abs(cut.logits[j * read.length + r] - alone.logits[(T - 3 + j) * V + id]) < 1e-5));
    watch.forEach((_, k) => assert.equal(cut.watched[j * watch.length + k], alone.watched[(T - 3 + j) * watch.length + k]));
  }
  const none = await runner.run({ ...input, ids: BigInt64Array.from(a.map(BigInt)), watch: [] });
  assert.equal(none.watched.length, 0, 'nothing watched: an empty [B, T, 0] array');
  await assert.rejects(runner.run({ ...input, ids: new BigInt64Array(3), B: 2, T: 2 }), /do not make a \[2, 2\] batch/);
  await assert.rejects(runner.run({ ...input, ids: BigInt64Array.from(a.map(BigInt)), scoreFrom: T }), /not a position/);
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
    assert.match(e.message, /add\.onnx has the interface \(A, B\) → \(C\) but Circuit Inspector needs \(input_ids, node_mask, node_fill, watch, score_from, read_ids\) → \(logits, watched\); re-export/);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  await assert.rejects(Runner.create(path.join(root, 'package.json'), { provider: 'cpu' }), /package\.json could not be loaded by onnxruntime \(.*\); re-export/);
});

/** Token ids [B·T] of a sample of Python, cycled: enough for long runs. */
function sampleIds(b: NonNullable<typeof bundle>, n: number): BigInt64Array {
  const ids = b.tokenizer.encode(fs.readFileSync(path.join(root, 'training/tasks.py'), 'utf8')).ids;
  return BigInt64Array.from({ length: n }, (_, i) => BigInt(ids[i % ids.length]));
}

test('two workers run side by side with the results of one, each run answered with its own outputs', { skip: noBundle }, async () => {
  const b = bundle!;
  const T = 128;
  const ids = sampleIds(b, 8 * T);
  const runs = Array.from({ length: 8 }, (_, i) => ({ ids: ids.subarray(i * T, (i + 1) * T), B: 1, T, mask: new Float32Array(b.layout.count).fill(1), fill: b.means, watch: [3, 700, 2000], scoreFrom: 32, readIds: BigInt64Array.of(10n, 20n) }));
  const one = await Runner.create(b.onnxPath, { provider: 'cpu', workers: 1 });
  const two = await Runner.create(b.onnxPath, { provider: 'cpu', workers: 2 });
  assert.equal(two.workers, 2);
  assert.equal(two.parallelism, 4, 'two runs posted to each worker: one running, the next waiting in it');
  const serial: { logits: Float32Array; watched: Float32Array }[] = [];
  for (const r of runs) serial.push(await one.run(r));
  const parallel = await Promise.all(runs.map((r) => two.run(r)));
  parallel.forEach((out, i) => {
    assert.deepEqual(out.logits, serial[i].logits, `run ${i}: logits`);
    assert.deepEqual(out.watched, serial[i].watched, `run ${i}: watched nodes`);
  });
  await Promise.all([one.dispose(), two.dispose()]);
  await assert.rejects(two.run(runs[0]), /the model session was closed/);
});

test('the caller\'s thread stays free while the model runs (a 1 ms timer keeps ticking)', { skip: noBundle }, async () => {
  const b = bundle!;
  const runner = await Runner.create(b.onnxPath, { provider: 'cpu', workers: 1 });
  const T = b.context;
  const input = { ids: sampleIds(b, 8 * T), B: 8, T, mask: new Float32Array(b.layout.count).fill(1), fill: b.means, watch: [1], scoreFrom: 0, readIds: BigInt64Array.of(1n) };
  await runner.run(input); // warm-up
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const started = performance.now();
  await runner.run(input);
  const ms = performance.now() - started;
  clearInterval(timer);
  await runner.dispose();
  // onnxruntime-node's run blocks its thread: in the caller's thread this timer would tick once, after it
  assert.ok(ticks >= Math.min(10, ms / 10), `${ticks} ticks during a ${ms.toFixed(0)} ms run`);
});

test('a worker that dies makes every later run fail with a sentence, and dispose still returns', { skip: noBundle }, async () => {
  const b = bundle!;
  const runner = await Runner.create(b.onnxPath, { provider: 'cpu', workers: 2 });
  const input = { ids: sampleIds(b, 16), B: 1, T: 16, mask: new Float32Array(b.layout.count).fill(1), fill: b.means, watch: [1], scoreFrom: 0, readIds: BigInt64Array.of(1n) };
  await runner.run(input);
  // the workers are private: stop one from outside, the way a crash would (while idle — terminating a
  // worker inside onnxruntime's run aborts the process, which is why the runner itself never does)
  const { slots } = runner as unknown as { slots: { worker: { terminate(): Promise<number> } }[] };
  await slots[0].worker.terminate();
  await assert.rejects(runner.run(input), /^RunnerError: the model worker exited with code 1; reload the model \(Circuit Inspector: Reload model bundle\)$/);
  await runner.dispose();
});
