import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { AttentionReader, bundleAttention, headPattern } from '../../src/core/attention';
import { BundleError } from '../../src/core/bundle';
import type { ModelSession } from '../../src/core/ortSession';
import { planWindows } from '../../src/core/windows';
import { fixtureSession } from './fixtureSession';
import { repoRoot } from './fixtures';

// a tiny random model with attention sinks and PyTorch's attention from a few query tokens (test/fixtures/make_attention_bundle.py)
const fixtureDir = path.join(repoRoot, 'test/fixtures/attention-bundle');
const golden = JSON.parse(fs.readFileSync(path.join(fixtureDir, 'attention_golden.json'), 'utf8')) as { text: string; cases: { offset: number; token: number; probs: number[][][] }[] };

const fixture = fixtureSession(fixtureDir);

const wholeText = (seq: ArrayLike<number>) => planWindows(seq.length, fixture.bundle.context);

test('AttentionReader: every head of every layer, redrawn from the graph\'s q and k nodes, matches PyTorch\'s attention within 1e-4, sink included', async () => {
  const reader = new AttentionReader(fixture.bundle, fixture.session, wholeText);
  let worst = 0;
  for (const c of golden.cases) {
    for (let layer = 0; layer < reader.layers; layer++) {
      const at = await reader.at(golden.text, c.offset, layer);
      assert.equal(at.tokens.length, c.token + 1, 'the tokens up to and including the query');
      assert.ok(at.query.start <= c.offset && c.offset < at.query.end, 'the query is the token at the offset');
      for (const h of at.heads) {
        const want = c.probs[layer][h.head]; // [T]: the end-of-text token, then the document's tokens
        const got = [h.startOfText, ...h.weights];
        assert.equal(got.length, want.length);
        got.forEach((w, t) => (worst = Math.max(worst, Math.abs(w - want[t]))));
        worst = Math.max(worst, Math.abs(h.sink - (1 - want.reduce((a, b) => a + b, 0))));
        assert.ok(Math.abs(got.reduce((a, b) => a + b, 0) + h.sink - 1) < 1e-9, 'weights and the sink share make 1');
      }
    }
  }
  assert.ok(worst <= 1e-4, `largest difference from PyTorch ${worst}`);
});

test('AttentionReader: in a later window the query attends over that window only, with no end-of-text token; another token of a window already read runs nothing', async () => {
  let runs = 0;
  const counted = { run: (input: Parameters<ModelSession['run']>[0]) => (runs++, fixture.session.run(input)) };
  const reader = new AttentionReader(fixture.bundle, counted, wholeText);
  const text = golden.text.repeat(4); // longer than the fixture's 64-token context
  const at = await reader.at(text, text.length - 2, 1);
  const n = fixture.bundle.tokenizer.encode(text).ids.length;
  const win = planWindows(n + 1, fixture.bundle.context).at(-1)!;
  assert.equal(at.tokens.length, n - (win.start - 1), 'the window\'s tokens up to the query');
  for (const h of at.heads) assert.equal(h.startOfText, 0);
  const previous = at.tokens[at.tokens.length - 2].start; // scored in the same window: the last one scores its last half
  const before = await reader.at(text, previous, 1);
  assert.equal(runs, 1, 'the second token of the same window is redrawn from the kept q and k');
  assert.ok(before.query.start < at.query.start);
  assert.deepEqual(before.heads, (await new AttentionReader(fixture.bundle, fixture.session, wholeText).at(text, previous, 1)).heads, 'the same pattern as from a run of its own');
});

test('headPattern: a sink logit far above every score takes all the attention; without a sink the weights make 1', () => {
  const rows = Float32Array.of(1, 0, /* q */ 1, 0, 0, 1); // keys (1,0) and (0,1)
  const drowned = headPattern(rows, 0, 2, 2, 2, 2, 1, 50);
  assert.ok(drowned.sink > 0.999999);
  const plain = headPattern(rows, 0, 2, 2, 2, 2, 1);
  assert.equal(plain.sink, 0);
  assert.ok(Math.abs(plain.weights[0] - Math.E / (Math.E + 1)) < 1e-12);
});

test('bundleAttention: a bundle without its attention parameters, or with sinks of the wrong shape, is refused with one sentence', () => {
  const { bundle } = fixture;
  const { attention, ...without } = bundle.manifest;
  assert.ok(attention);
  assert.throws(() => bundleAttention({ ...bundle, manifest: without }), (e: Error) => e instanceof BundleError && /does not carry its attention parameters .*; re-export it with training\/export\.py\.$/.test(e.message));
  const wrong = { ...bundle, manifest: { ...bundle.manifest, attention: { scale: 0.25, sink_logits: [[1, 2]] } } };
  assert.throws(() => bundleAttention(wrong), /attention\.sink_logits is not 2 layers × 2 heads/);
  const negative = { ...bundle, manifest: { ...bundle.manifest, attention: { scale: -1 } } };
  assert.throws(() => bundleAttention(negative), /manifest\.json attention\.scale: /);
});
