import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { type Bundle, loadBundle } from '../../src/core/bundle';
import { ModelSession, type RunInput, type RunOutput } from '../../src/core/ortSession';
import { forwardProblem, type ForwardSpec, WasmForward } from '../../src/core/wasmForward';
import { repoRoot } from './fixtures';
import { tempDir } from './tempDirs';

const modelsDir = path.join(repoRoot, 'models');
const shippedName = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).sort().find((d) => fs.existsSync(path.join(modelsDir, d, 'manifest.json'))) : undefined;
const noBundle = shippedName ? false : 'no model bundle under models/ (made by training/pipeline.sh)';
const bundle = shippedName ? loadBundle(path.join(modelsDir, shippedName)) : undefined;
const python = path.join(repoRoot, '.venv', 'bin', 'python');
const noPython = fs.existsSync(python) ? false : 'no .venv (training/requirements.lock)';
const specOf = (b: NonNullable<typeof bundle>): ForwardSpec => ({ model: b.model, layout: b.layout.entries, context: b.context });

interface Golden {
  watch: number[];
  logit_ids: number[];
  cases: { input_ids: number[]; ablate: number[]; fill: 'mean' | 'zero'; min_topk_gap: number; logits: number[][]; watched: number[][] }[];
}

/** Checks the kernels against a bundle's golden.json (the PyTorch reference): the same AbsTopK selections, values to 1e-4. */
function assertGolden(b: Bundle, forward: WasmForward): void {
  const golden = JSON.parse(fs.readFileSync(path.join(b.dir, 'golden.json'), 'utf8')) as Golden;
  const N = b.layout.count;
  let compared = 0;
  for (const c of golden.cases) {
    if (c.min_topk_gap < 1e-5) continue; // a top-k boundary within float noise may pick another unit (runner.test.ts says why)
    const mask = new Float32Array(N).fill(1);
    for (const f of c.ablate) mask[f] = 0;
    const T = c.input_ids.length;
    const R = golden.logit_ids.length;
    const K = golden.watch.length;
    const out = forward.run({ ids: BigInt64Array.from(c.input_ids.map(BigInt)), B: 1, T, mask, fill: c.fill === 'zero' ? new Float32Array(N) : b.means, watch: golden.watch, scoreFrom: 0, readIds: BigInt64Array.from(golden.logit_ids, BigInt) });
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < R; j++) assert.ok(Math.abs(out.logits[t * R + j] - c.logits[t][j]) <= 1e-4, `case ${compared} t=${t} logit ${j}: ${out.logits[t * R + j]} vs ${c.logits[t][j]}`);
      for (let k = 0; k < K; k++) {
        const [got, want] = [out.watched[t * K + k], c.watched[t][k]];
        assert.equal(got === 0, want === 0, `case ${compared} t=${t} node ${golden.watch[k]}: kept ${got} where the reference has ${want}`);
        assert.ok(Math.abs(got - want) <= 1e-4, `case ${compared} t=${t} node ${golden.watch[k]}: ${got} vs ${want}`);
      }
    }
    compared++;
  }
  assert.ok(compared >= 3, `${b.name}: only ${compared} golden cases were free of top-k near-ties`);
}

test('the WebAssembly forward matches the PyTorch reference (golden.json): the same AbsTopK selections, values to 1e-4, ablations included', { skip: noBundle }, () => {
  assertGolden(bundle!, WasmForward.create(bundle!.onnxPath, specOf(bundle!)));
});

/** Largest |a − b| over two equal-length arrays (equal infinities, the padding past R, count as 0). */
function worst(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let w = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) w = Math.max(w, Math.abs(a[i] - b[i]));
  return w;
}

/** The kernels and onnxruntime on one input: logits, nodes, log Σ exp to 1e-4, the same kept nodes and next tokens. */
async function assertSameRun(forward: WasmForward, ort: ModelSession, input: RunInput, what: string): Promise<void> {
  const [got, want]: RunOutput[] = [forward.run(input), await ort.run(input)];
  assert.ok(worst(got.logits, want.logits) < 1e-4, `${what}: logits differ by ${worst(got.logits, want.logits)}`);
  assert.ok(worst(got.watched, want.watched) < 1e-4, `${what}: nodes differ by ${worst(got.watched, want.watched)}`);
  // where no AbsTopK runs, GELU's far negative tail is computed here from erfc and in onnxruntime as
  // ½x(1 + erf) in float32, which keeps it to a few 1e-7 and rounds it to 0 below x ≈ −5.4 (seen: −6.3e-9
  // vs 0): a value that small is not a kept node
  const kept = (o: RunOutput) => Array.from(o.watched, (v) => Math.abs(v) > 1e-5);
  assert.deepEqual(kept(got), kept(want), `${what}: AbsTopK kept other nodes`);
  assert.ok(got.next && want.next);
  assert.deepEqual(Array.from(got.next.ids), Array.from(want.next.ids), `${what}: other next tokens`);
  assert.ok(worst(got.next.lse, want.next.lse) < 1e-4, `${what}: log-sum-exp differs by ${worst(got.next.lse, want.next.lse)}`);
  assert.ok(worst(got.next.values, want.next.values) < 1e-4);
}

test('the WebAssembly forward gives what onnxruntime gives on editor windows: logits, next tokens, log-sum-exp, every node, cones, ablations, batches', { skip: noBundle }, async () => {
  const b = bundle!;
  const forward = WasmForward.create(b.onnxPath, specOf(b));
  const ort = await ModelSession.create(b.onnxPath, { provider: 'cpu', threads: 1, spinning: false });
  const text = fs.readFileSync(path.join(repoRoot, 'examples', 'demo.py'), 'utf8').repeat(4);
  const N = b.layout.count;
  const V = b.model.vocab_size;
  const ids = b.tokenizer.encode(text).ids;
  const T = Math.min(b.context, ids.length);
  const rows = [ids.slice(0, T), ids.slice(ids.length - T)];
  const every = Array.from({ length: N }, (_, i) => i);
  const quoteNodes = b.circuits.find((c) => c.task === 'single_double_quote')?.nodes.map((n) => b.layout.flat(n.id) as number) ?? [];
  const ablateSome = new Float32Array(N).fill(1);
  quoteNodes.forEach((f) => (ablateSome[f] = 0));
  const cases: { what: string; input: RunInput }[] = [
    { what: 'whole vocabulary, every node', input: { ids: BigInt64Array.from(rows[0].map(BigInt)), B: 1, T, mask: new Float32Array(N).fill(1), fill: b.means, watch: every, scoreFrom: 64, readIds: BigInt64Array.from({ length: V }, (_, v) => BigInt(v)) } },
    { what: 'two rows, a few ids, the quote circuit mean-ablated', input: { ids: BigInt64Array.from([...rows[0], ...rows[1]].map(BigInt)), B: 2, T, mask: ablateSome, fill: b.means, watch: quoteNodes, scoreFrom: T - 5, readIds: BigInt64Array.from([7, 1000, 5], BigInt) } },
    { what: 'zero ablation of the quote circuit, every node', input: { ids: BigInt64Array.from(rows[1].map(BigInt)), B: 1, T, mask: ablateSome, fill: new Float32Array(N), watch: every, scoreFrom: 0, readIds: BigInt64Array.from([1, 2, 3], BigInt) } },
  ];
  for (const { what, input } of cases) await assertSameRun(forward, ort, input, what);
  // a cone returns the nodes up to its location exactly as the whole run does, and nothing else
  const whole = forward.run(cases[0].input);
  const upto = b.layout.location('1.mlp.act_in')!;
  const cone = forward.run({ ...cases[0].input, cone: '1.mlp.act_in' });
  assert.equal(cone.logits.length, 0);
  assert.equal(cone.next, undefined);
  const P = T - 64;
  for (let p = 0; p < P; p++) {
    for (let f = 0; f < N; f++) assert.equal(cone.watched[p * N + f], f < upto.offset + upto.length ? whole.watched[p * N + f] : 0, `position ${p} node ${f}`);
  }
  await ort.release();
});

test('a cone run that reads some positions (RunInput.needed) gives them the very bits of the whole run, in either layer, batched and ablated', { skip: noBundle }, () => {
  const b = bundle!;
  const forward = WasmForward.create(b.onnxPath, specOf(b));
  const N = b.layout.count;
  const ids = b.tokenizer.encode(fs.readFileSync(path.join(repoRoot, 'examples', 'demo.py'), 'utf8').repeat(4)).ids;
  const T = Math.min(b.context, ids.length);
  const tokens = BigInt64Array.from([...ids.slice(0, T), ...ids.slice(ids.length - T)].map(BigInt)); // [2, T]
  const every = Array.from({ length: N }, (_, i) => i);
  const scoreFrom = 64;
  const P = T - scoreFrom;
  // row 0 reads every 7th position and the last, row 1 one run of positions and none after it
  const needed = new Uint8Array(2 * P).map((_, i) => (i < P ? Number(i % 7 === 0 || i === P - 1) : Number(i - P >= 30 && i - P < 41)));
  const mask = new Float32Array(N).fill(1);
  for (const n of b.circuits[0].nodes.slice(0, 3)) mask[b.layout.flat(n.id) as number] = 0;
  for (const cone of ['0.mlp.resid_delta', '1.mlp.act_in']) {
    const input: RunInput = { ids: tokens, B: 2, T, mask, fill: b.means, watch: every, scoreFrom, readIds: BigInt64Array.from([0n]), cone };
    const whole = forward.run(input);
    const some = forward.run({ ...input, needed });
    let compared = 0;
    for (let i = 0; i < 2 * P; i++) {
      if (!needed[i]) continue;
      for (let f = 0; f < N; f++) assert.ok(Object.is(some.watched[i * N + f], whole.watched[i * N + f]), `${cone}, row ${Math.floor(i / P)}, position ${i % P}, node ${f}: ${some.watched[i * N + f]} vs ${whole.watched[i * N + f]}`);
      compared++;
    }
    assert.equal(compared, needed.reduce((n, x) => n + x, 0));
  }
});

/**
 * Runs of `inputs` on one thread and with every kernel call shared with a second (splitFrom 1): the same
 * bits everywhere, logits, nodes and next tokens.
 */
function assertSameOnTwoThreads(b: Bundle, inputs: readonly RunInput[]): void {
  const forward = WasmForward.create(b.onnxPath, specOf(b));
  let spare = false;
  assert.equal(forward.startSecondThread({ splitFrom: 1, spareCore: () => spare }), undefined);
  const run = (input: RunInput, twoThreads: boolean) => {
    spare = twoThreads;
    return forward.run(input);
  };
  try {
    for (const [i, input] of inputs.entries()) {
      const [one, two] = [run(input, false), run(input, true)];
      const same = (what: string, a: ArrayLike<number | bigint>, c: ArrayLike<number | bigint>) => {
        assert.equal(a.length, c.length, `${b.name} input ${i}: ${what}`);
        for (let j = 0; j < a.length; j++) assert.ok(Object.is(a[j], c[j]), `${b.name} input ${i}: ${what}[${j}] is ${c[j]} on two threads, ${a[j]} on one`);
      };
      same('logits', one.logits, two.logits);
      same('watched', one.watched, two.watched);
      assert.equal(one.next === undefined, two.next === undefined);
      if (one.next && two.next) {
        same('lse', one.next.lse, two.next.lse);
        same('next values', one.next.values, two.next.values);
        same('next ids', one.next.ids, two.next.ids);
      }
    }
  } finally {
    forward.close();
  }
}

test('a run split over two threads gives the very bits of one thread: whole runs, cones with needed positions, batches, ablations', { skip: noBundle }, () => {
  const b = bundle!;
  const N = b.layout.count;
  const ids = b.tokenizer.encode(fs.readFileSync(path.join(repoRoot, 'examples', 'demo.py'), 'utf8').repeat(4)).ids;
  const T = Math.min(b.context, ids.length);
  const tokens = BigInt64Array.from([...ids.slice(0, T), ...ids.slice(ids.length - T)].map(BigInt)); // [2, T]
  const every = Array.from({ length: N }, (_, i) => i);
  const mask = new Float32Array(N).fill(1);
  for (const n of b.circuits[0].nodes.slice(0, 3)) mask[b.layout.flat(n.id) as number] = 0;
  const P = T - 64;
  const needed = new Uint8Array(2 * P).map((_, i) => Number(i % 5 === 0));
  const whole: RunInput = { ids: tokens, B: 2, T, mask, fill: b.means, watch: every, scoreFrom: 64, readIds: BigInt64Array.from({ length: b.model.vocab_size }, (_, v) => BigInt(v)) };
  assertSameOnTwoThreads(b, [
    whole,
    { ...whole, B: 1, ids: tokens.subarray(0, T), T: 37, scoreFrom: 3, readIds: BigInt64Array.from([5n, 9n, 1000n]) }, // rows not a multiple of 4
    { ...whole, cone: '1.mlp.act_in', needed, readIds: BigInt64Array.of(0n) },
  ]);
});

test('the WebAssembly forward runs OpenAI-format models as import-openai converts them: biases, a logits bias, a tied unembedding, ReLU, 4 or 8 AbsTopK sites, afrac null, sinks on and off', { skip: noPython }, async () => {
  const work = tempDir('ci-kernels-import-');
  const made = spawnSync(python, ['-m', 'training.openai_format', '--out', work], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  // the node means' corpus: a few of the extension's own sources
  const corpus = ['bundle.ts', 'nodes.ts', 'tokenizer.ts'].map((f) => JSON.stringify({ path: f, text: fs.readFileSync(path.join(repoRoot, 'src/core', f), 'utf8') }));
  fs.writeFileSync(path.join(work, 'val.jsonl'), corpus.join('\n') + '\n');
  for (const fixture of ['sink_bigram_8sites', 'plain_4sites_tied', 'dense_relu_afrac_null']) {
    const out = path.join(work, `bundle-${fixture}`);
    const args = ['-m', 'training.import_openai', '--model', path.join(work, fixture), '--tokenizer', path.join(work, 'tokenizer_512'), '--out', out, '--val-corpus', path.join(work, 'val.jsonl'), '--mean-windows', '2'];
    const imported = spawnSync(python, args, { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(imported.status, 0, imported.stderr);
    const b = loadBundle(out);
    assert.equal(forwardProblem(specOf(b)), undefined, fixture);
    const forward = WasmForward.create(b.onnxPath, specOf(b));
    assertGolden(b, forward);
    const ort = await ModelSession.create(b.onnxPath, { provider: 'cpu', threads: 1, spinning: false });
    const ids = b.tokenizer.encode(fs.readFileSync(path.join(repoRoot, 'src/core/cone.ts'), 'utf8')).ids.slice(0, b.context);
    const N = b.layout.count;
    const input: RunInput = { ids: BigInt64Array.from(ids.map(BigInt)), B: 1, T: ids.length, mask: new Float32Array(N).fill(1), fill: b.means, watch: Array.from({ length: N }, (_, i) => i), scoreFrom: 8, readIds: BigInt64Array.from({ length: b.model.vocab_size }, (_, v) => BigInt(v)) };
    await assertSameRun(forward, ort, input, `${fixture}, whole vocabulary, every node`);
    await ort.release();
    assertSameOnTwoThreads(b, [input, { ...input, cone: `${b.model.n_layer - 1}.mlp.post_act`, needed: new Uint8Array(input.T - input.scoreFrom).fill(1) }]);
  }
});

test('the WebAssembly forward says in one sentence which bundles it cannot run', () => {
  const layout = [{ name: '0.attn.act_in', offset: 0, length: 8 }];
  const model = { vocab_size: 16, block_size: 8, n_layer: 1, d_model: 8, n_head: 2, d_head: 4, d_mlp: 16 };
  assert.match(forwardProblem({ model: { ...model, activation: 'swish' }, layout, context: 8 }) ?? '', /activation is swish/);
  assert.match(forwardProblem({ model: { ...model, d_head: 6 }, layout, context: 8 }) ?? '', /not a multiple of 4/);
  assert.match(forwardProblem({ model, layout, context: 8 }) ?? '', /node layout is not the one of our model/);
  if (bundle) assert.equal(forwardProblem(specOf(bundle)), undefined);
});
