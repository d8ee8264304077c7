import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AttentionAt } from '../../src/core/attention';
import { defaultHead, describeHead, layerOfNode, reach, TINT_LEVELS, tintedTokens } from '../../src/core/attentionText';

// "x = f(a, b)" as tokens, the query on "b"
const tokens = [
  { start: 0, end: 1, text: 'x' },
  { start: 1, end: 3, text: ' =' },
  { start: 3, end: 5, text: ' f' },
  { start: 5, end: 6, text: '(' },
  { start: 6, end: 7, text: 'a' },
  { start: 7, end: 8, text: ',' },
  { start: 8, end: 10, text: ' b' },
];
const head = (weights: number[], startOfText: number, sink: number, h = 0) => ({ head: h, weights: Float64Array.from(weights), startOfText, sink });
const at = (heads: ReturnType<typeof head>[]): AttentionAt => ({ layer: 1, dHead: 32, query: tokens[6], tokens, heads });

test('tintedTokens: the most attended token gets the top level; a token under the lowest level is not tinted', () => {
  const h = head([0.001, 0, 0.03, 0.4, 0.1, 0.05, 0.029], 0.1, 0.3);
  const a = at([h]);
  const tinted = tintedTokens(a, h);
  assert.deepEqual(
    tinted.map((t) => [t.text, t.level]),
    [
      [' f', 0],
      ['(', TINT_LEVELS.length - 1],
      ['a', 1],
      [',', 0],
      [' b', 0],
    ],
  );
  assert.deepEqual(tintedTokens(a, head([0, 0, 0, 0, 0, 0, 0], 0, 1)), [], 'a head that attends only to its sink tints nothing');
  const lines = { ...a, tokens: [{ start: 0, end: 1, text: ':' }, { start: 1, end: 6, text: '\n    ' }, { start: 6, end: 7, text: '\n' }] };
  const across = tintedTokens(lines, head([0.2, 0.5, 0.3], 0, 0));
  assert.deepEqual(across.map((t) => [t.start, t.end, t.text]), [[0, 1, ':'], [2, 6, '    ']], 'a line break is not tinted, the indent after it is');
});

test('describeHead: names the head and the query, the sink share and the top tokens (the start of the file among them when it is)', () => {
  const h = head([0.001, 0, 0.02, 0.4, 0.1, 0.05, 0.029], 0.1, 0.3, 2);
  assert.equal(describeHead(at([h]), h), 'head 1.2 from ` b`: sink takes 30 %; top tokens `(` 40 %, `a` 10 %, the start of the file 10 %');
  const small = head([0, 0, 0, 0.005, 0, 0, 0], 0, 0.995);
  assert.equal(describeHead(at([small]), small, 1), 'head 1.0 from ` b`: sink takes 100 %; top tokens `(` 0.5 %');
  const cell = { ...head([0, 0, 0.02, 0.2, 0.1, 0.05, 0.03], 0, 0.1, 2), above: 0.5 };
  assert.equal(describeHead(at([cell]), cell, 2), 'head 1.2 from ` b`: sink takes 10 %; top tokens the cells above 50 %, `(` 20 %', 'a notebook cell\'s cells above, together');
  // tokens as the hover and the panel write them (readoutText's tokenCode), not as JSON strings with their quotes escaped
  const odd = [{ start: 0, end: 4, text: '":\n ' }, { start: 4, end: 5, text: '`' }, { start: 5, end: 7, text: '\t"' }];
  const oddHead = head([0.6, 0.3, 0], 0, 0.1);
  assert.equal(describeHead({ layer: 0, dHead: 32, query: odd[2], tokens: odd, heads: [oddHead] }, oddHead, 2), 'head 0.0 from `\\t"`: sink takes 10 %; top tokens `":\\n ` 60 %, `` ` `` 30 %');
});

test('defaultHead: the least sink share; among heads tied at it as shown (0.1 %), the one that looks furthest back, said in words', () => {
  const one = defaultHead([head([], 0, 0.7, 0), head([], 0, 0.02, 1), head([], 0, 0.4, 2)]);
  assert.equal(one.head.head, 1);
  assert.equal(one.why, 'the least sink share (2.0 %)');
  // three heads at 0.0 %: a previous-token head (all on `,`), one on the token itself, one that reads back to `(` and `a`
  const previous = head([0, 0, 0, 0, 0, 1, 0], 0, 0.0001, 0);
  const self = head([0, 0, 0, 0, 0, 0.1, 0.9], 0, 0, 1);
  const back = head([0, 0, 0, 0.5, 0.3, 0.1, 0.1], 0, 0.0003, 2);
  assert.ok(Math.abs(reach(back) - 0.8) < 1e-3 && reach(previous) < 1e-9);
  const tied = defaultHead([previous, self, back, head([0, 0, 0, 0.9, 0, 0, 0], 0, 0.1, 3)]);
  assert.equal(tied.head.head, 2, 'not the first head, nor the least sink by a hair');
  assert.equal(tied.why, 'of the 3 heads tied at the least sink share (0.0 %), the one that looks furthest back (80 % of its attention beyond this token and the one before it)');
});

test('layerOfNode: the layer and channel of q, k and v nodes only', () => {
  assert.deepEqual(layerOfNode('1.attn.k.70'), { layer: 1, channel: 70 });
  assert.deepEqual(layerOfNode('0.attn.v.3'), { layer: 0, channel: 3 });
  assert.equal(layerOfNode('1.attn.resid_delta.3'), undefined);
  assert.equal(layerOfNode('1.mlp.post_act.3'), undefined);
});
