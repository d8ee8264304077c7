// One number per token (issue 17): the whole-file pass (stream(), what `analyze FILE --json` writes;
// analyze(), what the editor draws) and the cursor pass (analyzeAt(), what `analyze FILE --at L:C`,
// the hover and the panel show) give identical circuit values, scope and readouts for the same
// token, on a real file, with the shipped bundle and its circuits, under the panel's ablations too.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { type Ablation, DocumentAnalyzer, type TokenResult } from '../../src/core/analysis';
import { type Bundle, loadBundle } from '../../src/core/bundle';
import { Runner } from '../../src/core/runner';
import { documentScope } from '../../src/core/tasks';

const root = path.resolve(__dirname, '..', '..', '..');
const modelsDir = path.join(root, 'models');
const shippedName = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).sort().find((d) => fs.existsSync(path.join(modelsDir, d, 'manifest.json'))) : undefined;
const noBundle = shippedName ? false : 'no model bundle under models/ (made by training/pipeline.sh)';
const file = path.join(root, 'test/fixtures/workspace/stdlib_ntpath.py');

/** What the CLI's JSON holds of a token's circuits and readouts (before rounding). */
function numbers(t: TokenResult) {
  return {
    text: t.text,
    start: t.start,
    circuits: Object.fromEntries(Object.entries(t.circuits).map(([task, c]) => [task, { value: c.value, fires: c.fires, applies: c.applies, cls: c.cls }])),
    readouts: t.readouts,
  };
}

test('one number per token: whole-file pass and cursor pass agree exactly on circuit values, scope and readouts (stdlib_ntpath.py, shipped circuits)', { skip: noBundle }, async () => {
  const bundle: Bundle = loadBundle(path.join(modelsDir, shippedName as string));
  const text = fs.readFileSync(file, 'utf8');
  const runner = await Runner.create(bundle.onnxPath, { provider: 'cpu' });
  try {
    // the CLI's whole-file pass: stream() with next tokens (the default --top 3)
    const whole = new DocumentAnalyzer(bundle, runner, { topK: 3 });
    const tokens: TokenResult[] = [];
    for await (const chunk of whole.stream(text, undefined, { nextTokens: true })) tokens.push(...chunk);
    assert.equal(tokens.map((t) => t.text).join(''), text);
    // the cursor pass on its own analyzer (its own cache: every window is run again), at every
    // token of the file (1,400 tokens, several windows)
    const cursor = new DocumentAnalyzer(bundle, runner, { topK: 3 });
    const picked = tokens.filter((t) => t.end > t.start);
    assert.ok(picked.length >= 300, `${picked.length} tokens compared`);
    let inScope = 0;
    for (const t of picked) {
      const at = await cursor.analyzeAt(text, t.start);
      assert.ok(at, `a token at ${t.start}`);
      assert.deepEqual(numbers(at.token), numbers(t), `token ${JSON.stringify(t.text)} at ${t.start}`);
      for (const [task, r] of Object.entries(t.readouts ?? {})) assert.deepEqual(at.readouts[task], r);
      if (Object.keys(t.readouts ?? {}).length) inScope++;
    }
    assert.ok(inScope > 20, `${inScope} of the compared tokens are in some circuit's scope (readouts compared there)`);
    // the editor's pass (analyze(), class tokens only) draws the same circuit values and scope
    const editor = new DocumentAnalyzer(bundle, runner);
    const drawn = await editor.analyze(text);
    assert.equal(drawn.status, 'done');
    if (drawn.status !== 'done') return;
    for (const t of picked) {
      const e: TokenResult = drawn.tokens[t.index];
      for (const [task, c] of Object.entries(t.circuits)) {
        assert.equal(e.circuits[task].value, c.value, `${task} at ${t.start}`);
        assert.equal(e.circuits[task].applies, c.applies);
        assert.equal(e.circuits[task].fires, c.fires);
      }
    }
    // scope is the one decision: a circuit fires only where its task applies
    const scope = documentScope(text);
    for (const t of tokens) for (const c of bundle.circuits) assert.equal(t.circuits[c.task].applies, scope.applies(c, t.start, t.end));
    assert.ok(tokens.every((t) => Object.values(t.circuits).every((c) => c.applies || !c.fires)));
  } finally {
    await runner.dispose();
  }
});

/** Differences of the numbers two results give one token, beyond `tol`, in words (none: agree). */
function apart(a: TokenResult, b: TokenResult, tol: number): string[] {
  const out: string[] = [];
  const near = (what: string, x: number | undefined, y: number | undefined) => {
    if (x === undefined || y === undefined ? x !== y : !(Math.abs(x - y) <= tol)) out.push(`${what}: ${x} against ${y}`);
  };
  for (const [task, c] of Object.entries(b.circuits)) {
    const d = a.circuits[task];
    near(`${task} value`, d.value, c.value);
    if (d.fires !== c.fires || d.applies !== c.applies || d.cls !== c.cls) out.push(`${task} decisions`);
  }
  for (const [task, r] of Object.entries(b.readouts ?? {})) {
    const q = (a.readouts ?? {})[task];
    near(`${task} logit difference`, q?.logitDiff, r.logitDiff);
    near(`${task} P`, q?.p?.[0], r.p?.[0]);
  }
  if (a.next.map((n) => n.id).join() !== b.next.map((n) => n.id).join()) out.push('next tokens');
  a.next.forEach((n, k) => near(`next ${k} P`, n.p, b.next[k]?.p));
  return out;
}

test('one number per token under an ablation: the cursor pass gives the whole-file pass\'s decisions and numbers exactly (stdlib_ntpath.py; nodes ablated, and the quote circuit alone)', { skip: noBundle }, async () => {
  const bundle: Bundle = loadBundle(path.join(modelsDir, shippedName as string));
  const text = fs.readFileSync(file, 'utf8');
  const runner = await Runner.create(bundle.onnxPath, { provider: 'cpu' });
  const quote = bundle.circuits.find((c) => c.task === 'single_double_quote') ?? bundle.circuits[0];
  const ablations: Ablation[] = [
    { nodes: new Set(quote.nodes.slice(0, 3).map((n) => n.id)), mode: 'mean' },
    { nodes: new Set(quote.nodes.slice(0, 2).map((n) => n.id)), mode: 'zero' },
    { nodes: new Set(), mode: 'mean', circuitOnly: quote },
  ];
  try {
    const plain: TokenResult[] = [];
    for await (const chunk of new DocumentAnalyzer(bundle, runner, { topK: 3 }).stream(text, undefined, { nextTokens: true })) plain.push(...chunk);
    for (const ablation of ablations) {
      const whole = new DocumentAnalyzer(bundle, runner, { topK: 3 });
      const tokens: TokenResult[] = [];
      for await (const chunk of whole.stream(text, ablation, { nextTokens: true })) tokens.push(...chunk);
      const cursor = new DocumentAnalyzer(bundle, runner, { topK: 3 });
      // every 3rd token: ~480 cursor runs an ablation, windows' first and last positions among them
      const picked = tokens.filter((t, k) => t.end > t.start && k % 3 === 0);
      for (const t of picked) {
        const at = await cursor.analyzeAt(text, t.start, ablation);
        assert.ok(at, `a token at ${t.start}`);
        assert.deepEqual(apart(at.token, t, 0), [], `token ${JSON.stringify(t.text)} at ${t.start}`);
      }
      // the test can fail: the ablation moves the numbers of most tokens by more than that
      const moved = picked.filter((t) => apart(t, plain[t.index], 2e-5).length > 0);
      assert.ok(moved.length > picked.length / 2, `${moved.length} of ${picked.length} tokens moved by the ablation`);
    }
  } finally {
    await runner.dispose();
  }
});
