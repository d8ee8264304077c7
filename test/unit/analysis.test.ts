import * as assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { CircuitFile } from '../../src/schemas/circuit';
import { type Ablation, ablationKey, ablationVectors, DEFAULT_LEFT_CONTEXT, DEFAULT_WINDOW_TOKENS, DocumentAnalyzer, type DocumentAnalysis, NO_ABLATION } from '../../src/core/analysis';
import { type Bundle, loadBundle } from '../../src/core/bundle';
import { Columns, WindowCache, windowKey } from '../../src/core/cache';
import { Runner, type RunInput, type RunOutput } from '../../src/core/runner';
import { contentWindowsWithin, planContentWindows, planWindows } from '../../src/core/windows';

const root = path.resolve(__dirname, '..', '..', '..');
const modelsDir = path.join(root, 'models');
const shippedName = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).sort().find((d) => fs.existsSync(path.join(modelsDir, d, 'manifest.json'))) : undefined;
const noBundle = shippedName ? false : 'no model bundle under models/ (made by training/pipeline.sh)';
/** The sample circuit names real nodes of the layout (flat indices included), so it can ride on the real model. */
const sample = JSON.parse(fs.readFileSync(path.join(root, 'test/fixtures/circuit-sample.json'), 'utf8')) as CircuitFile;
const bundle: Bundle | undefined = shippedName ? { ...loadBundle(path.join(modelsDir, shippedName)), circuits: [sample] } : undefined;

const doc = Array.from({ length: 120 }, (_, i) => `value_${i} = [${i}, "item ${i}", 'x']\n`).join('');
const done = (r: DocumentAnalysis | { status: 'cancelled' }): DocumentAnalysis => {
  assert.equal(r.status, 'done');
  return r as DocumentAnalysis;
};

test('windows: scored parts tile the sequence once, each later position has ≥ W − S left context', () => {
  assert.deepEqual(planWindows(0, 256), []);
  assert.deepEqual(planWindows(10, 256), [{ start: 0, length: 10, from: 0 }]);
  assert.deepEqual(planWindows(300, 256), [
    { start: 0, length: 256, from: 0 },
    { start: 128, length: 172, from: 128 },
  ]);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 2, max: 300 }), (n, W) => {
      const S = Math.floor(W / 2);
      const covered = new Array<number>(n).fill(0);
      for (const w of planWindows(n, W)) {
        assert.ok(w.length <= W && w.length > w.from);
        for (let p = w.start + w.from; p < w.start + w.length; p++) {
          covered[p]++;
          if (w.start > 0) assert.ok(p - w.start >= W - S);
        }
      }
      assert.ok(covered.every((c) => c === 1));
    }),
    { numRuns: 300 },
  );
});

test('content windows: same scoring rule, at most `context` long, and boundaries that survive edits', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 3000 }), fc.integer({ min: 8, max: 300 }), (ids, W) => {
      const plan = planContentWindows(ids, W);
      const left = W - Math.floor(W / 2);
      const covered = new Array<number>(ids.length).fill(0);
      plan.forEach((w, k) => {
        assert.ok(w.length <= W && w.length > w.from);
        assert.equal(w.from, k === 0 ? 0 : left);
        if (k > 0) assert.ok(w.start > plan[k - 1].start);
        for (let p = w.start + w.from; p < w.start + w.length; p++) covered[p]++;
      });
      assert.ok(covered.every((c) => c === 1), 'scored parts tile the sequence once');
    }),
    { numRuns: 300 },
  );
  // every edit changes only windows near it: 300 one-token insertions, deletions and replacements
  // spread over a long sequence each change at most 5 windows (the rule's boundaries depend only on
  // hashes within `radius`; the earlier chain rule changed up to 30 on real code)
  let x = 12345;
  const ids = Array.from({ length: 6000 }, () => (x = (x * 48271) % 2147483647) % 2000);
  const sig = (seq: number[], w: { start: number; length: number; from: number }) => `${w.from}:${seq.slice(w.start, w.start + w.length).join(',')}`;
  const asAnalysed = { left: 64, maxGap: 192 }; // the analyser's windows (DEFAULT_LEFT_CONTEXT)
  const before = new Set(planContentWindows(ids, 256, asAnalysed).map((w) => sig(ids, w)));
  const changes: number[] = [];
  for (let e = 0; e < 300; e++) {
    const at = 10 + e * 19;
    const edited = [...ids.slice(0, at), ...[[7], [], [ids[at] + 1]][e % 3], ...ids.slice(at + (e % 3 === 0 ? 0 : 1))];
    changes.push(planContentWindows(edited, 256, asAnalysed).filter((w) => !before.has(sig(edited, w))).length);
  }
  assert.ok(Math.max(...changes) <= 5, `an edit changed ${Math.max(...changes)} windows`);
  assert.ok(changes.filter((c) => c <= 2).length >= 0.9 * changes.length, `${changes.filter((c) => c <= 2).length} of 300 edits changed ≤ 2 windows`);
  // the grid, by contrast, shifts every window after an insertion
  const edited = [...ids.slice(0, 300), 7, ...ids.slice(300)];
  const gridBefore = new Set(planWindows(ids.length, 256).map((w) => sig(ids, w)));
  assert.ok(planWindows(edited.length, 256).filter((w) => !gridBefore.has(sig(edited, w))).length > 40, 'the grid, by contrast, shifts');
});

test('content windows from a stretch alone are the document\'s own, shifted, and cover its middle', () => {
  const asAnalysed = { left: 64, maxGap: 192 }; // radius 192 (the analyser's windows)
  const sig = (w: { start: number; length: number; from: number }, by = 0) => `${w.start + by}+${w.length}@${w.from}`;
  fc.assert(
    fc.property(
      // few distinct ids make equal hashes (repetitive code: few anchors, long gaps between them)
      fc.integer({ min: 3, max: 2000 }).chain((V) => fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: 1, maxLength: 6000 })),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (ids, u, v) => {
        const seq = [2047, ...ids];
        const whole = planContentWindows(seq, 256, asAnalysed).map((w) => sig(w));
        const [a, b] = [Math.floor(Math.min(u, v) * seq.length), Math.ceil(Math.max(u, v) * seq.length)];
        // the stretch's position 0 is a placeholder where it does not start the document
        const stretch = a === 0 ? seq.slice(0, b) : [-5, ...seq.slice(a, b)];
        const found = contentWindowsWithin(stretch, 256, asAnalysed, { atStart: a === 0, atEnd: b === seq.length }).map((w) => sig(w, a === 0 ? 0 : a - 1));
        if (!found.length) return;
        const k = whole.indexOf(found[0]);
        assert.ok(k >= 0, `${found[0]} is not a window of the document`);
        assert.deepEqual(found, whole.slice(k, k + found.length), 'consecutive windows of the document');
      },
    ),
    { numRuns: 400 },
  );
  // on varied ids a stretch of 3,000 positions finds the windows of all but its ends
  let x = 777;
  const seq = [2047, ...Array.from({ length: 20000 }, () => (x = (x * 48271) % 2147483647) % 2000)];
  const whole = planContentWindows(seq, 256, asAnalysed);
  for (const a of [1, 5000, 12345, 17000]) {
    const found = contentWindowsWithin([-5, ...seq.slice(a, a + 3000)], 256, asAnalysed, { atStart: false, atEnd: a + 3000 >= seq.length });
    const inner = whole.filter((w) => w.start >= a + 1000 && w.start + w.length <= a + 2000);
    assert.ok(inner.length >= 3);
    for (const w of inner) assert.ok(found.some((f) => sig(f, a - 1) === sig(w)), `window at ${w.start} found from the stretch at ${a}`);
  }
  // a stretch starting anywhere: no anchor it keeps may read the placeholder (1,500 starts of 2,500 positions)
  for (let a = 1; a <= 1500; a++) {
    const found = contentWindowsWithin([-5, ...seq.slice(a, a + 2500)], 256, asAnalysed, { atStart: false, atEnd: false }).map((w) => sig(w, a - 1));
    const k = whole.findIndex((w) => sig(w) === found[0]);
    assert.ok(found.length > 0 && k >= 0 && found.every((f, i) => sig(whole[k + i]) === f), `the stretch at ${a}`);
  }
  // the document's first and last windows, when the stretch holds its ends
  assert.deepEqual(contentWindowsWithin(seq, 256, asAnalysed, { atStart: true, atEnd: true }), whole);
});

test('window cache: content-addressed keys, LRU eviction', () => {
  assert.equal(windowKey([1, 2, 3], 'a'), windowKey(Int32Array.from([1, 2, 3]), 'a'));
  assert.notEqual(windowKey([1, 2, 3], 'a'), windowKey([1, 2, 3], 'b'));
  assert.notEqual(windowKey([1, 2, 3], 'a'), windowKey([1, 2, 4], 'a'));
  const c = new WindowCache<number>(2);
  c.set('x', 1);
  c.set('y', 2);
  assert.equal(c.get('x'), 1); // x is now most recent
  c.set('z', 3); // evicts y
  assert.equal(c.get('y'), undefined);
  assert.equal(c.get('z'), 3);
  assert.equal(c.size, 2);
});

test('window columns: held by name, missing ones named, a read of a block\'s leading columns is the block itself, other reads copy once and compact', () => {
  const c = new Columns(2); // two rows
  const added = Float32Array.from([1, 2, 3, 4, 5, 6]); // [2, 3]
  c.add([10, 20, 30], added);
  assert.deepEqual(c.missing([5, 10, 30, 40]), [5, 40]);
  assert.equal(c.read([10, 20, 30]).block, added, 'the block as it was added: no copy');
  assert.deepEqual(c.read([10, 20]), { block: added, width: 3 }, 'its leading columns: no copy either');
  assert.equal(c.read([10, 20]).block, added);
  c.add([20, 40], Float32Array.from([-1, 7, -2, 8])); // 20 is held already and keeps its values
  const mixed = c.read([30, 40]);
  assert.deepEqual(mixed, { block: Float32Array.from([3, 7, 6, 8]), width: 2 });
  assert.equal(c.read([30, 40]).block, mixed.block, 'a copied read is held as a block of its own');
  assert.equal(c.read([10, 20]).block, added, 'a block two of whose three columns are still read stays');
  assert.deepEqual(c.read([10, 20, 30, 40]), { block: Float32Array.from([1, 2, 3, 7, 4, 5, 6, 8]), width: 4 });
  assert.throws(() => c.read([99]), /column 99 was never added/);
  const few = new Columns(1);
  few.add([1, 2, 3, 4], Float32Array.from([1, 2, 3, 4]));
  few.read([2, 3, 4]);
  assert.deepEqual(few.read([1]), { block: Float32Array.from([1]), width: 1 }, 'a block only one of whose four columns is still read is compacted');
});

test('ablation state → mask and fill vectors [N]', { skip: noBundle }, () => {
  const b = bundle!;
  const N = b.layout.count;
  const none = ablationVectors(b, NO_ABLATION);
  assert.ok(none.mask.every((x) => x === 1));
  const one = ablationVectors(b, { nodes: new Set(['0.attn.v.17']), mode: 'zero' });
  assert.equal(one.mask[401], 0);
  assert.equal(one.mask.reduce((s, x) => s + x, 0), N - 1);
  assert.ok(one.fill.every((x) => x === 0));
  assert.equal(ablationVectors(b, { nodes: new Set(['0.attn.v.17']), mode: 'mean' }).fill, b.means);
  const only = ablationVectors(b, { nodes: new Set(), mode: 'mean', circuitOnly: sample });
  assert.equal(only.mask.reduce((s, x) => s + x, 0), sample.nodes.length);
  for (const n of sample.nodes) assert.equal(only.mask[n.flat], 1);
  assert.throws(() => ablationVectors(b, { nodes: new Set(['7.mlp.post_act.1']), mode: 'mean' }), /not in the model's node layout/);
  assert.equal(ablationKey({ nodes: new Set(['b', 'a']), mode: 'zero' }), ablationKey({ nodes: new Set(['a', 'b']), mode: 'zero' }));
  assert.equal(ablationKey({ nodes: new Set(), mode: 'zero' }), ablationKey(NO_ABLATION), 'no ablation: the fill mode does not matter');
});

/** A stand-in runner: logits and activations are simple functions of the ids; records batch shapes. */
function fakeRunner(V: number): { run: Runner['run']; batches: number[][] } {
  const batches: number[][] = [];
  return {
    batches,
    run: async ({ ids, B, T, watch, scoreFrom, readIds }): Promise<RunOutput> => {
      batches.push([B, T]);
      const P = T - scoreFrom;
      const R = readIds.length;
      const logits = new Float32Array(B * P * R);
      const watched = new Float32Array(B * P * watch.length);
      for (let b = 0; b < B; b++)
        for (let j = 0; j < P; j++) {
          const [row, id] = [b * P + j, Number(ids[b * T + scoreFrom + j])];
          const col = readIds.indexOf(BigInt(id % V));
          if (col >= 0) logits[row * R + col] = 5;
          for (let k = 0; k < watch.length; k++) watched[row * watch.length + k] = id / 1000;
        }
      return { logits, watched };
    },
  };
}

test('analysis with a stand-in model: every token once, B ≤ 8, cache reuse, supersession, abort', { skip: noBundle }, async () => {
  const b = bundle!;
  const fake = fakeRunner(b.model.vocab_size);
  const a = new DocumentAnalyzer(b, fake, { topK: 3, batch: 8 });
  const long = doc.repeat(8);
  const opts = { key: 'd', nextTokens: true };
  const r = done(await a.analyze(long, NO_ABLATION, opts));
  assert.equal(r.tokens.map((t) => t.text).join(''), long, 'tokens tile the document once');
  r.tokens.forEach((t, i) => {
    assert.equal(t.index, i);
    assert.equal(long.slice(t.start, t.end), t.text);
  });
  assert.ok(fake.batches.every(([B, T]) => B <= 8 && T <= b.context));
  assert.ok(fake.batches.some(([B]) => B === 8), 'full batches are used');
  assert.equal(r.windowsComputed, a.windows([b.eotId, ...b.tokenizer.encode(long).ids]).length);
  // the stand-in predicts the current token: top-1 next is the token itself
  assert.equal(r.tokens[5].next[0].id, r.tokens[5].id);
  assert.equal(r.tokens[5].next.length, 3);
  // firing value = Σ coef · activation, class by sign
  const term = sample.firing!.terms[0];
  const t5 = r.tokens[5].circuits[sample.task];
  assert.ok(Math.abs(t5.value - term.coef * (r.tokens[5].id / 1000)) < 1e-6);
  assert.equal(t5.fires, Math.abs(t5.value) >= sample.firing!.threshold);
  assert.equal(t5.cls, t5.value > 0 ? sample.firing!.positive_class : 1 - sample.firing!.positive_class);
  for (const id of sample.key_nodes ?? []) assert.notEqual(a.column(b.layout.flat(id)!), undefined, `key node ${id} is watched`);

  const before = fake.batches.length;
  const again = done(await a.analyze(long, NO_ABLATION, opts));
  assert.equal(again.windowsComputed, 0);
  assert.equal(again.windowsReused, r.windowsComputed);
  assert.equal(fake.batches.length, before, 'nothing ran');
  const edited = long.slice(0, long.length - 10) + 'Z' + long.slice(long.length - 9);
  const after = done(await a.analyze(edited, NO_ABLATION, opts));
  assert.ok(after.windowsComputed <= 4, `an edit near the end recomputed ${after.windowsComputed} windows`);
  assert.equal(after.windowsReused + after.windowsComputed, a.windows([b.eotId, ...b.tokenizer.encode(edited).ids]).length, 'every window is either reused or computed');
  // an edit near the start: content windows recompute a few, the grid everything after it
  const early = long.slice(0, 40) + 'Zz' + long.slice(40);
  const grid = new DocumentAnalyzer(b, fakeRunner(b.model.vocab_size), { windowing: 'grid' });
  done(await grid.analyze(long, NO_ABLATION, opts));
  const gridEarly = done(await grid.analyze(early, NO_ABLATION, opts));
  const contentEarly = done(await a.analyze(early, NO_ABLATION, opts));
  assert.equal(gridEarly.tokens.map((t) => t.text).join(''), early);
  assert.equal(contentEarly.tokens.map((t) => t.text).join(''), early);
  assert.ok(contentEarly.windowsComputed <= 5, `content windows: an early edit recomputed ${contentEarly.windowsComputed}`);
  assert.ok(gridEarly.windowsComputed > 10, `grid: an early edit recomputed ${gridEarly.windowsComputed}`);
  // both windowings give every token the same stand-in result (which depends on the token only)
  contentEarly.tokens.forEach((t, i) => assert.equal(t.next[0].id, gridEarly.tokens[i].next[0].id));

  const [stale, fresh] = await Promise.all([a.analyze(long + '#a\n', NO_ABLATION, { key: 'race' }), a.analyze(long + '#b\n', NO_ABLATION, { key: 'race' })]);
  assert.equal(stale.status, 'cancelled');
  assert.equal(fresh.status, 'done');
  const ctl = new AbortController();
  const pending = a.analyze(long + '#c\n', NO_ABLATION, { signal: ctl.signal });
  ctl.abort();
  assert.equal((await pending).status, 'cancelled');
  // an ablation is part of the cache key
  const ab: Ablation = { nodes: new Set(['0.attn.v.17']), mode: 'zero' };
  assert.ok(done(await a.analyze(long, ab)).windowsComputed > 0);
});

test('an AbortSignal shared by many analyses keeps no listener once they end; a key is given up when its analysis ends', { skip: noBundle }, async () => {
  const b = bundle!;
  const a = new DocumentAnalyzer(b, fakeRunner(b.model.vocab_size));
  const ctl = new AbortController();
  // computed, cached, keyed and superseded analyses: each adds a listener to the signal while it runs
  for (let i = 0; i < 5; i++) done(await a.analyze(doc + `#${i % 2}\n`, NO_ABLATION, { signal: ctl.signal }));
  const [superseded] = await Promise.all([a.analyze(doc + '#x\n', NO_ABLATION, { signal: ctl.signal, key: 'k' }), a.analyze(doc + '#y\n', NO_ABLATION, { signal: ctl.signal, key: 'k' })]);
  assert.equal(superseded.status, 'cancelled');
  assert.equal(getEventListeners(ctl.signal, 'abort').length, 0);
  // the key still supersedes after its holders ended
  const [older, newer] = await Promise.all([a.analyze(doc + '#z\n', NO_ABLATION, { key: 'k' }), a.analyze(doc, NO_ABLATION, { key: 'k' })]);
  assert.equal(older.status, 'cancelled');
  assert.equal(newer.status, 'done');
});

test('analyzeAt on a long document runs the window that analyze() scores the token in, and caches it', { skip: noBundle }, async () => {
  const b = bundle!;
  const seen: { ids: BigInt64Array; T: number; scoreFrom: number }[] = [];
  const fake = fakeRunner(b.model.vocab_size);
  const a = new DocumentAnalyzer(b, { run: (input) => (seen.push(input), fake.run(input)) });
  const long = doc.repeat(8);
  const enc = b.tokenizer.encode(long);
  const ids = enc.ids;
  const seq = [b.eotId, ...ids];
  const windows = a.windows(seq);
  const i = ids.length - 3;
  const at = await a.analyzeAt(long, enc.starts[i]);
  assert.equal(at?.token.index, i);
  const win = windows.find((w) => i + 1 >= w.start + w.from && i + 1 < w.start + w.length)!;
  assert.equal(seen.length, 1);
  assert.equal(seen[0].T, win.length, "the scoring window's length");
  assert.equal(seen[0].scoreFrom, win.from, 'its scored part, as analyze() reads it');
  assert.deepEqual(Array.from(seen[0].ids, Number), seq.slice(win.start, win.start + win.length));
  // another token scored by the same window: no second run
  const other = windows.indexOf(win) === windows.length - 1 ? win.start + win.length - 2 : win.start + win.from;
  await a.analyzeAt(long, enc.starts[other]);
  assert.equal(seen.length, 1, 'the window is cached');
});

test('windows: DEFAULT_WINDOW_TOKENS long on a model of a longer context, as long as asked up to the context, never shorter than the left context allows', { skip: noBundle }, () => {
  const b = bundle!;
  const seq = [b.eotId, ...b.tokenizer.encode(doc.repeat(8)).ids]; // ~12,000 positions
  // content windows end at anchors, so the longest of a long document is near the limit, never past it
  const longest = (a: DocumentAnalyzer, limit: number) => {
    const most = Math.max(...a.windows(seq).map((w) => w.length));
    assert.ok(most <= limit && most > limit * 0.9, `longest window ${most}, limit ${limit}`);
  };
  const wide = { ...b, context: 1024 }; // as OpenAI's models
  longest(new DocumentAnalyzer(wide, fakeRunner(b.model.vocab_size)), DEFAULT_WINDOW_TOKENS);
  longest(new DocumentAnalyzer(wide, fakeRunner(b.model.vocab_size), { windowTokens: 1024 }), 1024);
  longest(new DocumentAnalyzer(b, fakeRunner(b.model.vocab_size), { windowTokens: 4096 }), b.context); // capped at the context
  const short = new DocumentAnalyzer(b, fakeRunner(b.model.vocab_size), { windowTokens: 128 });
  longest(short, 128);
  // every later window still scores only positions with the least left context before them
  assert.ok(short.windows(seq).slice(1).every((w) => w.from === DEFAULT_LEFT_CONTEXT && w.length > w.from));
});

test('windows of 128 on the real model: every run is ≤ 128 long, and the hover reads the very value the highlights show', { skip: noBundle }, async () => {
  const b = bundle!;
  const runner = await Runner.create(b.onnxPath, { provider: 'cpu' });
  const lengths: number[] = [];
  const a = new DocumentAnalyzer(b, { run: (input) => (lengths.push(input.T), runner.run(input)) }, { windowTokens: 128 });
  try {
    const text = doc.slice(0, 3000);
    const r = done(await a.analyze(text));
    assert.ok(lengths.length > 3 && lengths.every((T) => T <= 128), `run lengths ${lengths.join(', ')}`);
    const strings = r.tokens.filter((t) => t.circuits[sample.task].applies);
    assert.ok(strings.length > 10);
    for (const t of strings.filter((_, k) => k % 7 === 0)) {
      const at = await a.analyzeAt(text, t.start);
      assert.ok(Object.is(at!.token.circuits[sample.task].value, t.circuits[sample.task].value), `token ${t.index}: ${at!.token.circuits[sample.task].value} vs ${t.circuits[sample.task].value}`);
    }
  } finally {
    await runner.dispose();
  }
});

test('analysis with the real model agrees with a direct run; readouts; analyzeAt; ablation matters', { skip: noBundle }, async () => {
  const b = bundle!;
  const runner = await Runner.create(b.onnxPath, { provider: 'cpu' });
  const a = new DocumentAnalyzer(b, runner, { topK: 5 });
  const r = done(await a.analyze(doc, NO_ABLATION, { key: 'doc', nextTokens: true }));
  assert.equal(r.tokens.map((t) => t.text).join(''), doc);
  assert.ok(r.windowsComputed >= 4);

  // token at sequence position p (document token p − 1) in window 1's scored half, run directly
  const seq = [b.eotId, ...b.tokenizer.encode(doc).ids];
  const [, w1] = a.windows(seq);
  const p = w1.start + w1.from + 3;
  const ids = seq.slice(w1.start, w1.start + w1.length);
  const { mask, fill } = ablationVectors(b, NO_ABLATION);
  const V = b.model.vocab_size;
  const all = BigInt64Array.from({ length: V }, (_, v) => BigInt(v));
  const out = await runner.run({ ids: BigInt64Array.from(ids.map(BigInt)), B: 1, T: ids.length, mask, fill, watch: a.watch, scoreFrom: 0, readIds: all });
  const row = out.logits.subarray((p - w1.start) * V, (p - w1.start + 1) * V);
  const max = Math.max(...row);
  const probs = Array.from(row, (l) => Math.exp(l - max));
  const Z = probs.reduce((s, x) => s + x, 0);
  const tok = r.tokens[p - 1];
  const best = probs.indexOf(Math.max(...probs));
  assert.equal(tok.next[0].id, best);
  assert.ok(Math.abs(tok.next[0].p - probs[best] / Z) < 1e-5);
  assert.ok(tok.next.every((n, i) => i === 0 || n.p <= tok.next[i - 1].p));
  const ro = r.readout(p - 1, sample.task);
  const pc = (c: 0 | 1) => sample.classes[c].tokens.reduce((s, t) => s + probs[t.id] / Z, 0);
  assert.ok(ro.p && Math.abs(ro.p[0] - pc(0)) < 1e-5 && Math.abs(ro.p[1] - pc(1)) < 1e-5);
  const lse = (c: 0 | 1) => Math.log(sample.classes[c].tokens.reduce((s, t) => s + Math.exp(row[t.id]), 0));
  assert.ok(Math.abs(ro.logitDiff - (lse(0) - lse(1))) < 1e-4);
  const K = a.watch.length;
  for (let k = 0; k < K; k++) assert.ok(Math.abs(tok.watched[k] - out.watched[(p - w1.start) * K + k]) < 1e-5);

  // the editor's pass reads only the class tokens: same logit differences and activations, no next tokens or probabilities
  const lean = done(await a.analyze(doc, NO_ABLATION));
  assert.equal(lean.tokens.length, r.tokens.length);
  lean.tokens.forEach((t, i) => {
    assert.equal(t.next.length, 0);
    assert.equal(lean.readout(i, sample.task).p, undefined);
    assert.ok(Math.abs(lean.readout(i, sample.task).logitDiff - r.readout(i, sample.task).logitDiff) < 1e-4);
    t.watched.forEach((v, k) => assert.ok(Math.abs(v - r.tokens[i].watched[k]) < 1e-5));
  });

  // a short document fits one window: analyzeAt sees exactly the same context as analyze
  const short = 'print("hello, " + name';
  const whole = done(await a.analyze(short));
  const at = await a.analyzeAt(short, short.length - 1);
  assert.ok(at);
  assert.equal(at.token.index, whole.tokens.length - 1);
  const last = whole.readout(whole.tokens.length - 1, sample.task);
  assert.ok(Math.abs(at.readouts[sample.task].logitDiff - last.logitDiff) < 1e-4);
  assert.ok(Math.abs(at.token.circuits[sample.task].value - whole.tokens.at(-1)!.circuits[sample.task].value) < 1e-5);

  // mean-ablating the whole circuit except nothing (circuit-only) changes the prediction
  const only = await a.analyzeAt(short, short.length - 1, { nodes: new Set(), mode: 'mean', circuitOnly: sample });
  assert.notEqual(only!.readouts[sample.task].logitDiff, at.readouts[sample.task].logitDiff);
  await runner.dispose();
});

test('priority: the windows of the visible range run first, and onProgress gets their tokens early', { skip: noBundle }, async () => {
  const b = bundle!;
  const fake = fakeRunner(b.model.vocab_size);
  const a = new DocumentAnalyzer(b, fake);
  const long = doc.repeat(6);
  const [start, end] = [Math.floor(long.length * 0.6), Math.floor(long.length * 0.6) + 400];
  const partials: DocumentAnalysis[] = [];
  const all = done(await a.analyze(long, NO_ABLATION, { priority: { start, end }, onProgress: (p) => partials.push(p) }));
  assert.equal(all.complete, true);
  assert.equal(partials.length, 1, 'one early result');
  const early = partials[0];
  assert.equal(early.complete, false);
  assert.ok(early.tokens.length < all.tokens.length / 3, `${early.tokens.length} of ${all.tokens.length} tokens early`);
  // the early tokens cover the priority range and equal the final results there
  const visible = all.tokens.filter((t) => t.start < end && t.end > start);
  const earlyByIndex = new Map(early.tokens.map((t) => [t.index, t]));
  for (const t of visible) {
    const e = earlyByIndex.get(t.index);
    assert.ok(e, `token ${t.index} at ${t.start} is in the early result`);
    assert.equal(e.circuits[sample.task].value, t.circuits[sample.task].value);
    assert.equal(early.readout(t.index, sample.task).logitDiff, all.readout(t.index, sample.task).logitDiff);
  }
  // nothing to do early when everything is cached
  partials.length = 0;
  done(await a.analyze(long, NO_ABLATION, { priority: { start, end }, onProgress: (p) => partials.push(p) }));
  assert.equal(partials.length, 0);
  // the highlights of a screen where no shown task applies (no string on it) are ready before any run
  const quiet = long + 'x = 1\n'.repeat(400);
  partials.length = 0;
  const runsBefore = fake.batches.length;
  const runsAtPaint: number[] = [];
  const highlighter = new DocumentAnalyzer(b, fake).firingOnly([sample.task]);
  const whole = done(await highlighter.analyze(quiet, NO_ABLATION, { priority: { start: quiet.length - 600, end: quiet.length }, onProgress: (p) => (partials.push(p), runsAtPaint.push(fake.batches.length)) }));
  assert.deepEqual(runsAtPaint, [runsBefore], 'painted once, before any run');
  assert.ok(fake.batches.length > runsBefore, 'the windows with strings ran after');
  // the early result holds the screen's windows alone, with the values of the whole analysis
  const screen = partials[0].tokens;
  assert.ok(screen.length > 0 && screen.length < whole.tokens.length / 10, `${screen.length} of ${whole.tokens.length} tokens early`);
  assert.ok(screen.every((t) => t.end > quiet.length - 600 - 2000 && Number.isNaN(t.circuits[sample.task].value)));
});

test('runs in flight: up to `inFlight` at once, answered out of order, the same result as one at a time; a failed run fails the analysis', { skip: noBundle }, async () => {
  const b = bundle!;
  const fake = fakeRunner(b.model.vocab_size);
  let running = 0;
  let most = 0;
  let calls = 0;
  const slow: Pick<Runner, 'run'> = {
    run: async (input) => {
      running++;
      most = Math.max(most, running);
      // later runs answer first: every third waits longest
      await new Promise((r) => setTimeout(r, [6, 3, 0][calls++ % 3]));
      running--;
      return fake.run(input);
    },
  };
  const long = doc.repeat(6);
  const one = done(await new DocumentAnalyzer(b, fakeRunner(b.model.vocab_size)).analyze(long, NO_ABLATION));
  const three = done(await new DocumentAnalyzer(b, slow, { inFlight: 3 }).analyze(long, NO_ABLATION));
  assert.equal(most, 3, 'three runs were in flight together');
  assert.deepEqual(three.tokens.map((t) => t.circuits[sample.task].value), one.tokens.map((t) => t.circuits[sample.task].value));
  assert.deepEqual(three.tokens.map((t) => t.watched), one.tokens.map((t) => t.watched));
  let n = 0;
  const failing: Pick<Runner, 'run'> = { run: (input) => (++n === 2 || n === 3 ? Promise.reject(new Error(`run ${n} failed`)) : fake.run(input)) };
  await assert.rejects(new DocumentAnalyzer(b, failing, { inFlight: 3 }).analyze(long, NO_ABLATION), /run 2 failed/);
});

/** A circuit on `b`'s real nodes and tokens that none of `b`'s circuits watches or reads: the first nodes of the layout not watched, and the first two tokens no circuit has. */
function unwatchedCircuit(b: Bundle, watched: readonly number[]): CircuitFile {
  const used = new Set(b.circuits.flatMap((c) => c.classes.flatMap((k) => k.tokens.map((t) => t.id))));
  const [t0, t1] = Array.from({ length: b.model.vocab_size }, (_, id) => id)
    .filter((id) => !used.has(id) && !b.tokenizer.isSpecial(id))
    .slice(0, 2);
  const flats = Array.from({ length: b.layout.count }, (_, f) => f)
    .filter((f) => !watched.includes(f))
    .slice(0, 3);
  const nodes = flats.map((flat) => {
    const id = b.layout.id(flat);
    const [layer, kind, site, index] = id.split('.');
    return { id, layer: Number(layer), site: `${kind}.${site}`, index: Number(index), flat, label: id, meaning: 'a node no shipped circuit uses', mean: b.means[flat], importance: 0 };
  });
  return {
    ...b.circuits[0],
    task: 'unwatched',
    scope: { kind: 'anywhere' },
    classes: [
      { label: 'one', tokens: [{ id: t0, text: b.tokenizer.tokenText(t0) }] },
      { label: 'other', tokens: [{ id: t1, text: b.tokenizer.tokenText(t1) }] },
    ],
    nodes,
    edges: [],
    key_nodes: undefined,
    firing: { terms: nodes.map((n, k) => ({ node: n.id, coef: k + 1 })), threshold: 0.5, positive_class: 0 },
  };
}

test('a circuit added runs each window once more for its own nodes and tokens only, a circuit removed or already read runs nothing; values equal a fresh analysis', { skip: noBundle }, async () => {
  const real = loadBundle(path.join(modelsDir, shippedName!)); // the shipped circuits
  const runner = await Runner.create(real.onnxPath, { provider: 'cpu' });
  const runs: RunInput[] = [];
  const counted: Pick<Runner, 'run'> = { run: (input) => (runs.push(input), runner.run(input)) };
  try {
    const text = fs.readFileSync(path.join(root, 'bench', 'stdlib-5000.py'), 'utf8').split('\n').slice(0, 300).join('\n');
    const own = new DocumentAnalyzer(real, counted, { inFlight: runner.parallelism });
    const first = done(await own.analyze(text));
    const windows = first.windowsComputed;
    assert.equal(runs.length, windows, 'cold: one run per window for every circuit');
    assert.ok(runs.every((r) => r.watch === own.watch || r.watch.join() === own.watch.join()), 'each cold run watches the union of the circuits\' nodes');

    const extra = unwatchedCircuit(real, own.watch);
    const flats = extra.nodes.map((n) => n.flat);
    const ids = extra.classes.map((k) => k.tokens[0].id).sort((x, y) => x - y);
    const added = own.withCircuits([...real.circuits, extra]);
    runs.length = 0;
    const second = done(await added.analyze(text));
    assert.equal(second.windowsComputed, windows);
    assert.equal(runs.length, windows, 'one more run per window');
    for (const r of runs) {
      assert.deepEqual([...r.watch], flats, 'watching only the new circuit\'s nodes');
      assert.deepEqual(Array.from(r.readIds, Number), ids, 'reading only its class tokens');
    }
    // the same numbers as an analyzer of all five circuits that has never run
    const freshAnalyzer = new DocumentAnalyzer({ ...real, circuits: [...real.circuits, extra] }, runner);
    const fresh = done(await freshAnalyzer.analyze(text));
    const byFlat = (a: DocumentAnalyzer, t: { watched: Float32Array }) => Object.fromEntries(a.watch.map((f) => [f, t.watched[a.column(f)!]]));
    assert.deepEqual(added.watch.slice(-flats.length), flats, 'the new nodes come after the columns already cached, which keep their order');
    assert.deepEqual(second.tokens.map((t) => [t.start, t.circuits, byFlat(added, t)]), fresh.tokens.map((t) => [t.start, t.circuits, byFlat(freshAnalyzer, t)]));
    for (const c of added.circuits) second.tokens.forEach((t) => assert.deepEqual(second.readout(t.index, c.task), fresh.readout(t.index, c.task), `${c.task} at token ${t.index}`));
    assert.ok(second.tokens.some((t) => t.circuits.unwatched.value !== 0), 'the new circuit reads real activations');

    runs.length = 0;
    const removed = done(await added.withCircuits(real.circuits).analyze(text));
    assert.equal(removed.windowsComputed, 0);
    assert.deepEqual(removed.tokens.map((t) => [t.circuits, Array.from(t.watched)]), first.tokens.map((t) => [t.circuits, Array.from(t.watched)]), 'removing a circuit leaves the others as they were');
    assert.equal(done(await added.withCircuits([...real.circuits, extra]).analyze(text)).windowsComputed, 0, 'adding it back');
    // a circuit whose nodes and class tokens are all read already (a shipped one under a task of its own)
    const copy = own.withCircuits([...real.circuits, { ...real.circuits[0], task: 'copy' }]);
    const third = done(await copy.analyze(text));
    assert.equal(third.windowsComputed, 0);
    third.tokens.forEach((t) => assert.equal(t.circuits.copy.value, t.circuits[real.circuits[0].task].value));
    assert.equal(runs.length, 0, 'nothing ran for removing, re-adding or a circuit already read');
  } finally {
    await runner.dispose();
  }
});
