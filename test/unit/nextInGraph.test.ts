// Next-token lists ranked in the graph (training/export.py NextTokenInterface): the shipped model.onnx
// returns log-sum-exp over the read logits and its NEXT_TOP_K largest beside them, so the analyzer
// (core/analysis summarise) no longer ranks [P, V] logits on the caller's thread. One token must keep
// one value: the CLI's, the hover's and the panel's numbers come from either path, so both are run
// on the same real text and compared token by token. A graph exported before (the rows-bundle
// fixture), or a request for more entries than the graph ranks, still ranks from the logits.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { type Cancelled, type DocumentAnalysis, DocumentAnalyzer, type TokenResult } from '../../src/core/analysis';
import { loadBundle } from '../../src/core/bundle';
import { Runner, type RunInput, type RunOutput } from '../../src/core/runner';
import { repoRoot } from './fixtures';

const shipped = loadBundle(path.join(repoRoot, 'models', 'pysparse-depth'));
// 200 lines of real code: strings, lists, ifs and whiles, so every circuit's task applies somewhere
const text = fs.readFileSync(path.join(repoRoot, 'bench', 'stdlib-5000.py'), 'utf8').split('\n').slice(0, 200).join('\n');

function done(r: DocumentAnalysis | Cancelled): DocumentAnalysis {
  if (r.status !== 'done') throw new Error('the analysis was cancelled');
  return r;
}

/** The CLI's printed form of a number (src/cli.ts round): what must not move. */
const printed = (x: number): number => Math.round(x * 1e4) / 1e4;

/** A runner that hands on the real runner's outputs without the graph's ranking: the analyzer ranks from the logits, as for an older bundle. */
function withoutRanking(runner: Runner): { run: (input: RunInput) => Promise<RunOutput> } {
  return {
    run: async (input) => {
      const { logits, watched } = await runner.run(input);
      return { logits, watched };
    },
  };
}

test('the shipped graph ranks next tokens, and the analysis from its ranking gives the numbers ranking the logits gives, token by token', async () => {
  const runner = await Runner.create(shipped.onnxPath, { provider: 'cpu' });
  const ranked: RunOutput[] = [];
  const watching = { run: async (input: RunInput) => (ranked.push(await runner.run(input)), ranked[ranked.length - 1]) };
  try {
    for (const topK of [5, 8]) {
      ranked.length = 0;
      const options = { topK, inFlight: runner.parallelism };
      const graph = done(await new DocumentAnalyzer(shipped, watching, options).analyze(text, undefined, { nextTokens: true }));
      const here = done(await new DocumentAnalyzer(shipped, withoutRanking(runner), options).analyze(text, undefined, { nextTokens: true }));
      assert.ok(ranked.length > 5 && ranked.every((o) => o.next?.k === 8), 'every run of model.onnx returned its ranking of 8');
      assert.equal(graph.tokens.length, here.tokens.length);
      let pSame = 0;
      let pAll = 0;
      graph.tokens.forEach((t, i) => {
        const h = here.tokens[i];
        assert.deepEqual(t.next.map((n) => n.id), h.next.map((n) => n.id), `token ${i}: the same next tokens in the same order`);
        t.next.forEach((n, k) => {
          assert.equal(printed(n.p), printed(h.next[k].p), `token ${i}, next ${k}: the printed probability`);
          assert.ok(Math.abs(n.p - h.next[k].p) <= 1e-7 * h.next[k].p, `token ${i}, next ${k}: ${n.p} vs ${h.next[k].p}`);
          pSame += Number(n.p === h.next[k].p);
          pAll++;
        });
        for (const c of shipped.circuits) {
          const [a, b] = [graph.readout(i, c.task), here.readout(i, c.task)];
          assert.equal(a.logitDiff, b.logitDiff, `token ${i}, ${c.task}: the logit difference`);
          const [pa, pb] = [a.p as readonly [number, number], b.p as readonly [number, number]];
          for (const k of [0, 1]) assert.ok(Math.abs(pa[k] - pb[k]) <= 1e-12 && printed(pa[k]) === printed(pb[k]), `token ${i}, ${c.task}: P(class ${k}) ${pa[k]} vs ${pb[k]}`);
        }
      });
      // float64 sums in another order differ in the last bits at most; the float32 probabilities nearly never
      assert.ok(pSame >= 0.999 * pAll, `${pSame} of ${pAll} probabilities bit for bit the same`);
    }
  } finally {
    await runner.dispose();
  }
});

test('stream() (the CLI) and analyzeAt() (the hover and the panel) give analyze()\'s numbers from the graph\'s ranking', async () => {
  const runner = await Runner.create(shipped.onnxPath, { provider: 'cpu' });
  try {
    const analyzer = new DocumentAnalyzer(shipped, runner, { topK: 3, inFlight: runner.parallelism });
    const whole = done(await analyzer.analyze(text, undefined, { nextTokens: true }));
    const streamed: TokenResult[] = [];
    for await (const chunk of new DocumentAnalyzer(shipped, runner, { topK: 3, inFlight: runner.parallelism }).stream(text, undefined, { nextTokens: true })) streamed.push(...chunk);
    assert.equal(streamed.length, whole.tokens.length);
    streamed.forEach((t, i) => {
      assert.deepEqual(t.next, whole.tokens[i].next, `token ${i}: next tokens`);
      for (const [task, r] of Object.entries(t.readouts ?? {})) assert.deepEqual(r, whole.readout(i, task), `token ${i}: ${task}`);
    });
    for (const i of [0, 7, 333, 1000, whole.tokens.length - 1]) {
      const at = await new DocumentAnalyzer(shipped, runner, { topK: 3 }).analyzeAt(text, whole.tokens[i].start);
      assert.deepEqual(at?.token.next, whole.tokens[i].next, `token ${i}: the hover's next tokens`);
      for (const c of shipped.circuits) assert.deepEqual(at?.readouts[c.task], whole.readout(i, c.task), `token ${i}: the hover's ${c.task} readout`);
    }
  } finally {
    await runner.dispose();
  }
});

test('a graph exported before the ranking outputs (rows-bundle) still gets its next tokens, ranked from the logits', async () => {
  const old = loadBundle(path.join(repoRoot, 'test', 'fixtures', 'rows-bundle'));
  const runner = await Runner.create(old.onnxPath, { provider: 'cpu', workers: 1 });
  try {
    const snippet = 'def f(x):\n    return g("a", [x, 1])\n';
    const ids = old.tokenizer.encode(snippet).ids;
    const V = old.model.vocab_size;
    // the whole snippet is one window: position p + 1 holds token p, and every position is scored
    const out = await runner.run({ ids: BigInt64Array.from([old.eotId, ...ids], BigInt), B: 1, T: ids.length + 1, mask: new Float32Array(old.layout.count).fill(1), fill: old.means, watch: [], scoreFrom: 1, readIds: BigInt64Array.from({ length: V }, (_, v) => BigInt(v)) });
    assert.equal(out.next, undefined, 'no ranking from a graph without the outputs');
    const a = done(await new DocumentAnalyzer(old, runner, { topK: 4 }).analyze(snippet, undefined, { nextTokens: true }));
    assert.equal(a.tokens.length, ids.length);
    a.tokens.forEach((t, p) => {
      const row = Array.from(out.logits.subarray(p * V, (p + 1) * V));
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, l) => s + Math.exp(l - max), 0));
      const order = row.map((l, v) => [l, v]).sort((x, y) => y[0] - x[0] || x[1] - y[1]).slice(0, 4);
      assert.deepEqual(t.next.map((n) => n.id), order.map(([, v]) => v), `token ${p}: the 4 largest logits`);
      t.next.forEach((n, k) => assert.ok(Math.abs(n.p - Math.exp(order[k][0] - lse)) <= 1e-6, `token ${p}: P of next ${k}`));
    });
  } finally {
    await runner.dispose();
  }
});
