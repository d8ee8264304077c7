// The CLI's analyzer (AnalyzerOptions.watchFiringOnly) watches only the circuits' firing-rule nodes, the
// only nodes it prints through their firing values, and still reads the logits: every number it prints
// must be the one the editor's analyzer (every circuit's nodes watched) gives. Real bundle, real
// onnxruntime, token by token.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { type Cancelled, type DocumentAnalysis, DocumentAnalyzer, type TokenResult } from '../../src/core/analysis';
import { loadBundle } from '../../src/core/bundle';
import { Runner, type RunInput } from '../../src/core/runner';
import { repoRoot } from './fixtures';

const bundle = loadBundle(path.join(repoRoot, 'models', 'pysparse-depth'));
const text = fs.readFileSync(path.join(repoRoot, 'bench', 'stdlib-5000.py'), 'utf8').split('\n').slice(300, 450).join('\n');

function done(r: DocumentAnalysis | Cancelled): DocumentAnalysis {
  if (r.status !== 'done') throw new Error('the analysis was cancelled');
  return r;
}

test('watching only the firing-rule nodes gives every firing value, readout and next token of the full watch, bit for bit', async () => {
  const runner = await Runner.create(bundle.onnxPath, { provider: 'cpu' });
  const runs: RunInput[] = [];
  const counted = { run: (input: RunInput) => (runs.push(input), runner.run(input)) };
  try {
    const firing = [...new Set(bundle.circuits.flatMap((c) => (c.firing?.terms ?? []).map((t) => bundle.layout.flat(t.node) as number)))].sort((a, b) => a - b);
    const options = { topK: 3, inFlight: runner.parallelism };
    const narrow = new DocumentAnalyzer(bundle, counted, { ...options, watchFiringOnly: true });
    const wide = new DocumentAnalyzer(bundle, runner, options);
    assert.deepEqual(narrow.watch, firing, 'the firing-rule nodes alone');
    assert.ok(wide.watch.length > firing.length, `the editor's analyzer watches every circuit's nodes (${wide.watch.length})`);
    const streamed: TokenResult[] = [];
    for await (const chunk of narrow.stream(text, undefined, { nextTokens: true })) streamed.push(...chunk);
    assert.ok(runs.length > 3 && runs.every((r) => r.watch.length === firing.length && r.cone === undefined), 'every run watches those nodes through the full graph');
    const full = done(await wide.analyze(text, undefined, { nextTokens: true }));
    assert.equal(streamed.length, full.tokens.length);
    streamed.forEach((t, i) => {
      const w = full.tokens[i];
      assert.deepEqual([t.start, t.end, t.next], [w.start, w.end, w.next], `token ${i}`);
      assert.deepEqual(t.circuits, w.circuits, `token ${i}: firing values`);
      for (const [task, r] of Object.entries(t.readouts ?? {})) assert.deepEqual(r, full.readout(i, task), `token ${i}: ${task}`);
    });
    assert.ok(streamed.some((t) => Object.values(t.circuits).some((c) => c.fires)), 'some circuit fires in the text');
  } finally {
    await runner.dispose();
  }
});
