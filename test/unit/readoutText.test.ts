import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { describeChange, describeFiring, describePlace, describePrediction, describeRuleAgainstModel } from '../../src/core/readoutText';

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

test('where the code has not written the answer yet (a ] with nothing after it on its line) it says so, neither right nor wrong', () => {
  const w = describePrediction({ labels: ['nested', 'flat'], tokens: [']', ']\n'], logitDiff: 3, truth: undefined, pending: true });
  assert.equal(w.correct, undefined);
  assert.match(w.sentence, /\. Nothing follows here in the code yet, so the prediction is neither right nor wrong\.$/);
  assert.doesNotMatch(w.sentence, /neither side|Correct|Wrong/);
});

test('an ablation says from what to what the preference moved, and whether it flipped', () => {
  assert.equal(describeChange(['double', 'single'], 5.62, 1.37), 'Preference for double over single (logit difference) went from +5.62 to +1.37 nats: still double.');
  assert.equal(describeChange(['double', 'single'], -1.1, -1.19), 'Preference for double over single (logit difference) went from −1.10 to −1.19 nats: still single.');
  assert.match(describeChange(['double', 'single'], 0.8, -0.3), /flipped to single\.$/);
});

test('the place of a prediction is named by what the task reads there, not "the close" for every task', () => {
  assert.equal(describePlace('string-close', 3, '"abc"'), 'At the closing quote on line 3');
  assert.equal(describePlace('list-close', 7, '[1, 2]'), 'At the `]` on line 7');
  assert.equal(describePlace('name-compare-assign', 62, 'name'), 'After `name` on line 62');
  assert.equal(describePlace('keyword-true', 4, 'while True'), 'After `while True` on line 4');
});

test('a firing rule is said in words: what its value is, which side it points to and the threshold it passes or not', () => {
  const rule = { threshold: 1, terms: 4, labels: ['nested', 'flat'] as const, positive: 0 as const, shown: true };
  assert.equal(
    describeFiring({ ...rule, value: -4.55, fires: true }),
    ' fires here, pointing to **flat**: its firing rule (the log-odds of nested against flat that 4 of its key nodes give; below 0 points to flat) reads −4.55, beyond ±1.00.',
  );
  assert.equal(
    describeFiring({ ...rule, value: 0.36, fires: false }),
    ' is quiet here: its firing rule (the log-odds of nested against flat that 4 of its key nodes give; below 0 points to flat) reads +0.36, within ±1.00, so the token is not marked.',
  );
  assert.match(describeFiring({ ...rule, value: 3, fires: true, shown: false }), /pointing to \*\*nested\*\*: .+ reads \+3\.00, beyond ±1\.00\. Its highlights are off \(setting `circuitInspector\.highlights\.circuits`\), so the token is not marked\.$/);
  assert.match(describeFiring({ ...rule, terms: 1, positive: 1, value: 2, fires: true }), /pointing to \*\*flat\*\*: its firing rule \(its key node's activation, weighted; above 0 points to flat, below to nested\) reads \+2\.00/);
});

test('where the rule that fires and the model at the same token point to different classes, the hover says the rest of the model outweighs the key nodes', () => {
  // 16:23 of examples/demo.py on the shipped bundle: `'a` of `['a', 'b']`, the rule +2.23 (double), the model −2.71 (single, right)
  const quoteRule = { labels: ['double', 'single'] as const, positive: 0 as const, terms: 4, threshold: 1, shown: true };
  assert.equal(
    describeRuleAgainstModel({ ...quoteRule, value: 2.23, fires: true }, -2.71),
    "Here the rule and the model part ways: its 4 key nodes point to **double**, the whole model to **single**: the rest of the model outweighs them at this token, so the mark's side is not the model's prediction.",
  );
  assert.equal(describeRuleAgainstModel({ ...quoteRule, value: 2.23, fires: true }, 0.4), undefined, 'both double');
  assert.equal(describeRuleAgainstModel({ ...quoteRule, value: -2.23, fires: true }, -0.4), undefined, 'both single');
  assert.equal(describeRuleAgainstModel({ ...quoteRule, value: 0.5, fires: false }, -2.71), undefined, 'a quiet rule marks nothing');
  assert.match(describeRuleAgainstModel({ ...quoteRule, terms: 1, positive: 1, value: 2, fires: true }, 1) ?? '', /its key node points to \*\*single\*\*, the whole model to \*\*double\*\*: the rest of the model outweighs it/);
});
