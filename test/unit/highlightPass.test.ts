// The editor's highlight pass (core/analysis firingOnly, extension/loadedModel highlight): it watches
// only the shown circuits' firing-rule nodes and reads no logits, so it runs the smallest cone that
// computes them, and it must draw the very spans a full analysis of every circuit draws — the same
// tokens, where each fires, which class, the same value. Real bundle, real onnxruntime; both passes
// are computed and compared token by token.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type * as vscode from 'vscode';
import { type Cancelled, type DocumentAnalysis, DocumentAnalyzer, NO_ABLATION } from '../../src/core/analysis';
import { loadBundle } from '../../src/core/bundle';
import { bundleCones, coneFor } from '../../src/core/cone';
import { openModel } from '../../src/core/openModel';
import { Runner, type RunInput } from '../../src/core/runner';
import { type AnalysisResult, type FiringToken, type LoadedModel, loadModel } from '../../src/extension/loadedModel';
import { repoRoot } from './fixtures';

const bundleDir = path.join(repoRoot, 'models', 'pysparse-depth');
const bundle = loadBundle(bundleDir);
const cones = bundleCones(bundle);
// 300 lines of real code: strings, lists, ifs and whiles for every shipped circuit
const text = fs.readFileSync(path.join(repoRoot, 'bench', 'stdlib-5000.py'), 'utf8').split('\n').slice(0, 300).join('\n');
const log = { info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as vscode.LogOutputChannel;

function done<T extends DocumentAnalysis | AnalysisResult<FiringToken>>(r: T | Cancelled): T {
  if (r.status !== 'done') throw new Error('the analysis was cancelled');
  return r;
}

/** Where each circuit of `tasks` fires in `a` (token by token), with its class and value. */
function spans(a: { tokens: readonly { start: number; end: number; circuits: Readonly<Record<string, { fires: boolean; cls: 0 | 1; value: number }>> }[] }, tasks: readonly string[]) {
  return a.tokens.flatMap((t) => tasks.filter((task) => t.circuits[task].fires).map((task) => ({ task, start: t.start, end: t.end, cls: t.circuits[task].cls })));
}

test('the highlight pass of each circuit, and of all of them, runs its smallest cone and fires exactly where a full analysis does', async () => {
  const runner = await Runner.create(bundle.onnxPath, { provider: 'cpu', cones });
  const runs: RunInput[] = [];
  const counted = { run: (input: RunInput) => (runs.push(input), runner.run(input)) };
  try {
    const full = done(await new DocumentAnalyzer(bundle, runner, { inFlight: runner.parallelism, cones }).analyze(text));
    const every = bundle.circuits.map((c) => c.task);
    for (const tasks of [...every.map((t) => [t]), every]) {
      runs.length = 0;
      const pass = new DocumentAnalyzer(bundle, counted, { inFlight: runner.parallelism, cones }).firingOnly(tasks);
      const firing = bundle.circuits.filter((c) => tasks.includes(c.task)).flatMap((c) => (c.firing?.terms ?? []).map((t) => bundle.layout.flat(t.node) as number));
      assert.deepEqual([...pass.watch].sort((a, b) => a - b), [...new Set(firing)].sort((a, b) => a - b), `${tasks}: only the firing-rule nodes are watched`);
      const h = done(await pass.analyze(text));
      const cone = coneFor(cones, firing)?.upto;
      // one window a run; none for a circuit whose task applies nowhere in the text
      assert.equal(runs.length, h.windowsComputed);
      assert.ok(runs.every((r) => r.cone === cone && r.readIds.length === 1), `${tasks}: every run through ${cone ?? 'the full graph'}, reading no logits`);
      assert.deepEqual(h.tokens.map((t) => [t.start, t.end]), full.tokens.map((t) => [t.start, t.end]), `${tasks}: the same tokens`);
      assert.deepEqual(spans(h, tasks), spans(full, tasks), `${tasks}: the same spans`);
      h.tokens.forEach((t, i) => {
        assert.deepEqual(Object.keys(t.circuits), tasks, 'only the shown circuits');
        for (const task of tasks) {
          const [x, y] = [t.circuits[task], full.tokens[i].circuits[task]];
          // a window where no shown task applies is not run: NaN there, and nothing applies
          if (Number.isNaN(x.value)) assert.ok(!y.applies && !x.applies && !x.fires, `${task} at token ${i}: not run, yet its task applies`);
          else assert.ok(Math.abs(x.value - y.value) <= 1e-5, `${task} at token ${i}: ${x.value} vs ${y.value}`);
        }
      });
      if (tasks === every) assert.ok(spans(h, tasks).length > 0, 'the circuits fire somewhere in 300 lines');
      assert.throws(() => h.readout(0, tasks[0]), /the highlight pass reads no logits/);
    }
  } finally {
    await runner.dispose();
  }
});

test('with our kernels a cone may end at any node location: the runner offers one at each (the graphs kept), and each circuit\'s highlight pass stops at its last firing node with the bits of a full analysis', async () => {
  const forward = { model: bundle.model, layout: bundle.layout.entries, context: bundle.context };
  const runner = await Runner.create(bundle.onnxPath, { provider: 'cpu', cones, forward });
  const runs: RunInput[] = [];
  const counted = { run: (input: RunInput) => (runs.push(input), runner.run(input)) };
  try {
    assert.equal(runner.kernels, 'webassembly');
    assert.deepEqual(runner.cones.map((c) => c.upto), bundle.layout.entries.map((e) => e.name), 'one cone a node location, in the layout\'s order');
    for (const g of cones) assert.equal(runner.cones.find((c) => c.upto === g.upto), g, `the graph up to ${g.upto} kept`);
    const full = done(await new DocumentAnalyzer(bundle, runner, runner.analyzerOptions).analyze(text));
    const stops = new Set<string>();
    for (const c of bundle.circuits) {
      runs.length = 0;
      const h = done(await new DocumentAnalyzer(bundle, counted, runner.analyzerOptions).firingOnly([c.task]).analyze(text));
      const lastFlat = Math.max(...(c.firing?.terms ?? []).map((t) => bundle.layout.flat(t.node) as number));
      const last = bundle.layout.entries.find((e) => lastFlat >= e.offset && lastFlat < e.offset + e.length)?.name;
      // none where the circuit's task applies nowhere in the text
      assert.ok(runs.every((r) => r.cone === last), `${c.task}: every run stops at ${last}: ${[...new Set(runs.map((r) => r.cone))].join()}`);
      if (runs.length) stops.add(last as string);
      h.tokens.forEach((t, i) => {
        const [x, y] = [t.circuits[c.task].value, full.tokens[i].circuits[c.task].value];
        if (!Number.isNaN(x)) assert.ok(Object.is(x, y), `${c.task} at token ${i}: ${x} vs ${y}`);
      });
    }
    // the shipped circuits end at two locations, after either layer's attention, where no cone graph ends
    assert.ok(stops.size >= 2 && [...stops].some((s) => !cones.some((g) => g.upto === s)), `circuits stop where the bundle has no cone graph: ${[...stops].join()}`);
    const N = bundle.layout.count;
    const kernelOnly = runner.cones.find((c) => c.onnxPath === undefined)?.upto;
    await assert.rejects(runner.run({ ids: BigInt64Array.of(1n), B: 1, T: 1, mask: new Float32Array(2 * N).fill(1), fill: new Float32Array(2 * N), maskRows: 2, watch: [0], scoreFrom: 0, readIds: BigInt64Array.of(1n), cone: kernelOnly }), /has no graph of its own, so it runs one mask row at a time$/);
  } finally {
    await runner.dispose();
  }
});

test('after the highlight pass a full analysis of the same windows keeps its firing values and reads only the rest; no circuit shown runs nothing', async () => {
  const runner = await Runner.create(bundle.onnxPath, { provider: 'cpu', cones });
  const runs: RunInput[] = [];
  const counted = { run: (input: RunInput) => (runs.push(input), runner.run(input)) };
  try {
    const all = new DocumentAnalyzer(bundle, counted, { inFlight: runner.parallelism, cones });
    const quote = bundle.circuits[0].task;
    const h = done(await all.firingOnly([quote]).analyze(text));
    assert.ok(h.windowsComputed > 0 && h.windowsReused > 0, `some windows have no string, and are not run: ${h.windowsComputed} run of ${h.windowsComputed + h.windowsReused}`);
    runs.length = 0;
    const full = done(await all.analyze(text));
    const shown = new Set(all.firingOnly([quote]).watch);
    assert.equal(full.windowsComputed, h.windowsComputed + h.windowsReused, 'each window runs once more');
    assert.ok(runs.every((r) => r.cone === undefined), 'through the full graph');
    // the windows the highlight pass ran, for the nodes and class tokens it did not read; the others for all of them
    assert.equal(runs.filter((r) => r.watch.every((f) => !shown.has(f))).length, h.windowsComputed);
    h.tokens.forEach((t, i) => {
      if (!Number.isNaN(t.circuits[quote].value)) assert.deepEqual(full.tokens[i].circuits[quote], t.circuits[quote], `one value at token ${i}`);
    });
    runs.length = 0;
    const none = done(await new DocumentAnalyzer(bundle, counted, { cones }).firingOnly([]).analyze(text));
    assert.equal(runs.length, 0, 'highlights off: no forward pass');
    assert.equal(none.tokens.length, full.tokens.length);
  } finally {
    await runner.dispose();
  }
});

test('on our kernels the highlight pass computes only where a shown task applies: the very bits of a full analysis there, NaN elsewhere, windows still reused after an edit', async () => {
  const { runner } = await openModel(bundleDir, 'cpu');
  const runs: RunInput[] = [];
  const counted = { run: (input: RunInput) => (runs.push(input), runner.run(input)) };
  try {
    assert.equal(runner.kernels, 'webassembly');
    assert.equal(runner.analyzerOptions.neededOnly, true);
    const every = bundle.circuits.map((c) => c.task);
    const full = done(await new DocumentAnalyzer(bundle, runner, runner.analyzerOptions).analyze(text));
    const highlighter = new DocumentAnalyzer(bundle, counted, runner.analyzerOptions).firingOnly(every);
    const h = done(await highlighter.analyze(text));
    assert.ok(runs.length > 0 && runs.every((r) => r.cone !== undefined && r.needed !== undefined), 'every run a cone run that names its positions');
    const read = runs.reduce((n, r) => n + (r.needed as Uint8Array).reduce((m, x) => m + x, 0), 0);
    const scored = runs.reduce((n, r) => n + (r.needed as Uint8Array).length, 0);
    assert.ok(read > 0 && read < scored / 2, `the runs read ${read} of ${scored} scored positions`);
    let same = 0;
    h.tokens.forEach((t, i) => {
      const applies = every.some((task) => full.tokens[i].circuits[task].applies);
      for (const task of every) {
        const [x, y] = [t.circuits[task], full.tokens[i].circuits[task]];
        if (!applies) assert.ok(Number.isNaN(x.value) && !x.fires, `${task} at token ${i}: no shown task applies there, yet it has ${x.value}`);
        else {
          assert.ok(Object.is(x.value, y.value), `${task} at token ${i}: ${x.value} vs ${y.value}`);
          same++;
        }
      }
    });
    assert.ok(same > 0);
    assert.deepEqual(spans(h, every), spans(full, every), 'the same spans');
    // an edit inside one line: the other windows' keys (tokens and positions read) are found again
    runs.length = 0;
    const edited = text.replace('return', 'return  ');
    const again = done(await highlighter.analyze(edited));
    assert.ok(again.windowsReused > again.windowsComputed, `${again.windowsReused} windows reused, ${again.windowsComputed} run`);
  } finally {
    await runner.dispose();
  }
});

test('the screen first: its windows run cut at its end, the early paint holds its tokens with the bits of the whole analysis, and each cut window then runs whole', async () => {
  const { runner } = await openModel(bundleDir, 'cpu');
  const runs: RunInput[] = [];
  const counted = { run: (input: RunInput) => (runs.push(input), runner.run(input)) };
  try {
    const every = bundle.circuits.map((c) => c.task);
    const reference = done(await new DocumentAnalyzer(bundle, runner, runner.analyzerOptions).firingOnly(every).analyze(text));
    const lineStart = (n: number) => text.split('\n').slice(0, n).join('\n').length + 1;
    const [start, end] = [lineStart(60), lineStart(80)]; // 20 lines, ending inside a window's scored part
    let early: DocumentAnalysis | undefined;
    const h = done(await new DocumentAnalyzer(bundle, counted, runner.analyzerOptions).firingOnly(every).analyze(text, NO_ABLATION, { priority: { start, end }, onProgress: (p) => (early = p) }));
    assert.ok(early, 'painted early');
    // a cut run and the later whole run of its window read the same ids; the cut reads a prefix of the whole's positions
    const cuts = runs.flatMap((r, i) => {
      const whole = runs.slice(i + 1).find((w) => w.T === r.T && w.ids.every((id, j) => id === r.ids[j]));
      return whole ? [[r.needed as Uint8Array, whole.needed as Uint8Array]] : [];
    });
    assert.ok(cuts.length > 0, 'a screen window was cut at the screen\'s end');
    for (const [cut, whole] of cuts) {
      const last = cut.lastIndexOf(1);
      assert.ok(last >= 0 && cut.every((x, j) => x === (j <= last ? whole[j] : 0)) && whole.indexOf(1, last + 1) > last, 'the cut reads the whole run\'s positions up to the screen\'s end, and fewer');
    }
    assert.equal(runs.length, h.windowsComputed + cuts.length, 'every window once whole, the cut ones once more');
    // the early paint: the screen's tokens (none past its end), each with the whole analysis's bits
    const shown = early!.tokens;
    assert.ok(shown.every((t) => t.start < end), 'nothing past the screen');
    const onScreen = reference.tokens.filter((t) => t.start < end && t.end > start && every.some((task) => t.circuits[task].applies));
    assert.ok(onScreen.length > 0);
    const byIndex = new Map(shown.map((t) => [t.index, t]));
    for (const t of onScreen) for (const task of every) assert.ok(Object.is(byIndex.get(t.index)?.circuits[task].value, t.circuits[task].value), `${task} at token ${t.index}`);
    // the finished pass: the very values of one without a screen
    h.tokens.forEach((t, i) => every.forEach((task) => assert.ok(Object.is(t.circuits[task].value, reference.tokens[i].circuits[task].value), `${task} at token ${i}`)));
  } finally {
    await runner.dispose();
  }
});

test('a large file\'s screen is painted from the stretch around it before the whole file is tokenized, with the whole analysis\'s bits; a stretch that tokenizes otherwise is painted again from the whole plan', async () => {
  const { runner } = await openModel(bundleDir, 'cpu');
  try {
    const every = bundle.circuits.map((c) => c.task);
    const large = fs.readFileSync(path.join(repoRoot, 'bench', 'stdlib-5000.py'), 'utf8').split('\n').slice(0, 2000).join('\n');
    const reference = done(await new DocumentAnalyzer(bundle, runner, runner.analyzerOptions).firingOnly(every).analyze(large));
    const lineStart = (n: number) => large.split('\n').slice(0, n).join('\n').length + 1;
    const screen = { start: lineStart(1000), end: lineStart(1040) };
    const onScreen = reference.tokens.filter((t) => t.start < screen.end && t.end > screen.start && every.some((task) => t.circuits[task].applies));
    assert.ok(onScreen.length > 0);
    /** A pass with the screen first through a tokenizer that records what it was given (and, with `skew`, tokenizes a stretch otherwise). */
    const pass = async (skew: boolean) => {
      const encoded: number[] = [];
      const base = bundle.tokenizer;
      const tokenizer = Object.assign(Object.create(Object.getPrototypeOf(base) as object) as typeof base, base, {
        encode: (t: string) => {
          encoded.push(t.length);
          const e = base.encode(t);
          return skew && t.length < large.length ? { ...e, ids: e.ids.map((id) => (id + 1) % 2000) } : e;
        },
      });
      const paints: { tokens: DocumentAnalysis['tokens']; encoded: number[] }[] = [];
      const h = done(await new DocumentAnalyzer({ ...bundle, tokenizer }, runner, runner.analyzerOptions).firingOnly(every).analyze(large, NO_ABLATION, { priority: screen, onProgress: (p) => paints.push({ tokens: p.tokens, encoded: [...encoded] }) }));
      return { h, paints, encoded };
    };
    const same = (tokens: DocumentAnalysis['tokens']) => {
      const at = new Map(tokens.map((t) => [t.start, t]));
      return onScreen.every((t) => at.get(t.start)?.end === t.end && every.every((task) => Object.is(at.get(t.start)?.circuits[task].value, t.circuits[task].value)));
    };
    const { h, paints, encoded } = await pass(false);
    assert.equal(paints.length, 1, 'painted early once');
    assert.ok(paints[0].encoded.length > 0 && paints[0].encoded.every((n) => 3 * n < large.length), `before the paint only a stretch was tokenized: ${paints[0].encoded.join(', ')} of ${large.length} characters`);
    assert.ok(encoded.includes(large.length), 'then the whole file');
    assert.ok(paints[0].tokens.every((t) => t.start < screen.end), 'nothing past the screen');
    assert.ok(same(paints[0].tokens), 'the screen\'s tokens with the bits of the whole analysis');
    h.tokens.forEach((t, i) => every.forEach((task) => assert.ok(Object.is(t.circuits[task].value, reference.tokens[i].circuits[task].value), `${task} at token ${i}`)));
    // tokens that differ from the whole file's: the whole plan paints the screen again, and that paint is right
    const skewed = await pass(true);
    assert.equal(skewed.paints.length, 2, 'painted from the stretch, then again from the whole plan');
    assert.ok(!same(skewed.paints[0].tokens) && same(skewed.paints[1].tokens));
  } finally {
    await runner.dispose();
  }
});

test('the editor model: highlight() has the shown circuits\' firing of analyze(), tokenAt() every circuit\'s firing and readout at a token', async () => {
  const loaded = await loadModel(bundleDir, 'cpu', log);
  assert.equal(loaded.kind, 'ok');
  const model = (loaded as { model: LoadedModel }).model;
  try {
    const quote = model.circuits[0].task;
    const h = done(await model.highlight('doc#base', text, [quote], { thresholdScale: 0.5 }));
    const full = done(await model.analyze('doc#all', text, NO_ABLATION, { thresholdScale: 0.5 }));
    // the same tokens and firing, where the pass ran (elsewhere nothing applies: see above)
    const ran = (t: FiringToken) => !Number.isNaN(t.circuits[quote].value);
    assert.deepEqual(h.tokens.map((t) => (ran(t) ? t : { ...t, circuits: {} })), full.tokens.map(({ text: t, start, end, circuits }, i) => ({ text: t, start, end, circuits: ran(h.tokens[i]) ? { [quote]: circuits[quote] } : {} })));
    const i = full.tokens.findIndex((t) => t.circuits[quote].fires);
    assert.ok(i >= 0, 'the quote circuit fires somewhere');
    const at = await model.tokenAt(text, full.tokens[i].start, { thresholdScale: 0.5 });
    const { logitDiff, ...firing } = full.tokens[i];
    assert.ok(at);
    const { logitDiff: atDiff, ...atFiring } = at;
    assert.deepEqual(atFiring, firing);
    // its readout reads all V there (the panel's probabilities), the analysis the class tokens alone
    for (const c of model.circuits) assert.ok(Math.abs(atDiff[c.task] - logitDiff[c.task]) < 1e-4, c.task);
  } finally {
    await model.dispose();
  }
});
