import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { describeChange, describePrediction } from '../../src/core/readoutText';

const quote = { labels: ['double', 'single'] as const, tokens: ['")', "')"] as const };

test('a prediction is named with its side, its probability within the contrast and the raw one', () => {
  const w = describePrediction({ ...quote, logitDiff: 3.5, raw: [0.039, 0.0001], truth: 0 });
  assert.equal(w.expected, 0);
  assert.ok(Math.abs(w.contrastP - 1 / (1 + Math.exp(-3.5))) < 1e-12);
  assert.equal(w.correct, true);
  assert.equal(w.sentence, 'The model expects **double** (`")`): 97.1 % against single within the contrast; as the next token among all 3.9 %. Correct here.');
});

test('a wrong prediction says what the code has instead', () => {
  const w = describePrediction({ ...quote, logitDiff: -0.4, truth: 0 });
  assert.equal(w.expected, 1);
  assert.equal(w.correct, false);
  assert.match(w.sentence, /^The model expects \*\*single\*\* \(`'\)`\): 59\.9 % against double within the contrast\. Wrong here: the code has \*\*double\*\* \(`"\)`\)\.$/);
});

test('where the code has neither side there is nothing to check, and newlines in a token show as \\n', () => {
  const w = describePrediction({ labels: ['nested', 'flat'], tokens: [']', ']\n'], logitDiff: -2, truth: undefined });
  assert.equal(w.correct, undefined);
  assert.match(w.sentence, /\*\*flat\*\* \(`\]\\n`\)/);
  assert.match(w.sentence, /has neither side/);
});

test('an ablation says from what to what the preference moved, and whether it flipped', () => {
  assert.equal(describeChange(['double', 'single'], 5.62, 1.37), 'Preference for double over single (logit difference) went from +5.62 to +1.37 nats: still double.');
  assert.equal(describeChange(['double', 'single'], -1.1, -1.19), 'Preference for double over single (logit difference) went from −1.10 to −1.19 nats: still single.');
  assert.match(describeChange(['double', 'single'], 0.8, -0.3), /flipped to single\.$/);
});
