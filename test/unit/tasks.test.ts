// The one scope decision (src/core/tasks.ts) and the circuit file's `scope` key (src/schemas/circuit.ts).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { type CircuitFile, circuitFile } from '../../src/schemas/circuit';
import { check } from '../../src/schemas/validate';
import { circuitAt, circuitsAt, documentScope, samePrediction, scopeOf, withoutRepeats } from '../../src/core/tasks';

const root = path.resolve(__dirname, '..', '..', '..');
const sample = JSON.parse(fs.readFileSync(path.join(root, 'test/fixtures/circuit-sample.json'), 'utf8')) as CircuitFile;
const withTask = (task: string, labels: [string, string], scope?: CircuitFile['scope']): CircuitFile => ({
  ...sample,
  task,
  scope,
  classes: [
    { ...sample.classes[0], label: labels[0] },
    { ...sample.classes[1], label: labels[1] },
  ],
});

test('circuit files: `scope` is optional, checked against the scope kinds, unknown keys dropped', () => {
  const ok = check(circuitFile, { ...sample, scope: { kind: 'list-close', region: 'inside', note: 'x' } });
  assert.ok(ok.ok);
  if (ok.ok) assert.deepEqual(ok.value.scope, { kind: 'list-close', region: 'inside' });
  assert.ok(check(circuitFile, sample).ok, 'absent is fine');
  const bad = check(circuitFile, { ...sample, scope: { kind: 'strings' } });
  assert.ok(!bad.ok);
  if (!bad.ok) assert.match(bad.error.message, /scope\.kind/);
  assert.ok(!check(circuitFile, { ...sample, scope: { kind: 'anywhere', region: 'all' } }).ok);
  for (const f of fs.readdirSync(path.join(root, 'models'))) {
    const dir = path.join(root, 'models', f, 'circuits');
    if (!fs.existsSync(dir)) continue;
    for (const c of fs.readdirSync(dir)) {
      const json = JSON.parse(fs.readFileSync(path.join(dir, c), 'utf8')) as CircuitFile;
      assert.ok(json.scope, `${f}/circuits/${c} states its scope`);
      // the kind is the task's (a paper form's, its task's); read_at follows the bundle's tokenizer (training/tasks.py: closer_scope)
      assert.equal(json.scope.kind, scopeOf({ task: json.task.replace(/_paper$/, '') }).kind, `${c}: the same kind as the default for its task`);
    }
  }
});

test('scopeOf: the file\'s scope, else the shipped task\'s by name, else anywhere', () => {
  assert.deepEqual(scopeOf({ task: 'single_double_quote' }), { kind: 'string-close' });
  assert.deepEqual(scopeOf({ task: 'bracket_counting' }), { kind: 'list-close' });
  assert.deepEqual(scopeOf({ task: 'while_return_true' }), { kind: 'keyword-true' });
  assert.deepEqual(scopeOf({ task: 'if_equals' }), { kind: 'name-compare-assign' });
  assert.deepEqual(scopeOf({ task: 'my_circuit' }), { kind: 'anywhere' });
  assert.deepEqual(scopeOf({ task: 'toString' }), { kind: 'anywhere' }, 'no prototype keys');
  assert.deepEqual(scopeOf({ task: 'single_double_quote', scope: { kind: 'anywhere' } }), { kind: 'anywhere' });
});

test('DocumentScope: applies, the prediction offset and the truth by class label; nested = another ] follows', () => {
  const src = 'x = "ab"  # "c"\nv = [[1, 2], [3]]\nw = [a[0]]\n';
  const s = documentScope(src);
  assert.equal(documentScope(src), s, 'once per text');
  const quote = withTask('single_double_quote', ['double', 'single']);
  const bracket = withTask('bracket_counting', ['nested', 'flat']);
  const at = (needle: string, k = 0) => src.indexOf(needle) + k;
  assert.ok(s.applies(quote, at('ab'), at('ab') + 1), 'inside a string');
  assert.ok(!s.applies(quote, at('x'), at('x') + 1), 'code');
  assert.ok(!s.applies(quote, at('"c"', 1), at('"c"', 2)), 'a comment');
  assert.equal(s.predictionOffset(quote, at('ab'), at('ab') + 1), at('ab') + 1);
  assert.equal(s.truth(quote, at('ab'), at('ab') + 1), 0);
  // [3]] : the ] after 3 is followed by another ] → nested; the last ] ends the line → flat
  assert.equal(s.truth(bracket, at('3'), at('3') + 1), 0);
  assert.equal(s.truth(bracket, at('2'), at('2') + 1), undefined, '2], : neither side follows');
  assert.ok(!s.applies(bracket, at('2'), at('2') + 1), 'and the task does not apply there');
  assert.equal(s.truth(bracket, at('0'), at('0') + 1), 0, 'a[0]] : nested, although the subscript is at depth 2 only by its list');
  assert.ok(!s.applies(bracket, at('v'), at('v') + 1));
  assert.equal(circuitAt([bracket, quote], src, at('ab'), at('ab') + 1), quote);
  assert.equal(circuitAt([quote, bracket], src, at('3'), at('3') + 1), bracket);
  assert.equal(circuitAt([quote, bracket, withTask('mine', ['a', 'b'])], src, at('x'), at('x') + 1), undefined, 'anywhere circuits are never picked by place');
});

test('circuitsAt offers every circuit of a place in bundle order; samePrediction pairs a task with its paper-form core only', () => {
  const src = 'x = f("ab")\nv = [[1, 2], [3]]\n';
  const at = (needle: string) => src.indexOf(needle);
  const quote = withTask('single_double_quote', ['double', 'single']);
  const core = withTask('single_double_quote_paper', ['double', 'single'], { kind: 'string-close' });
  const bracket = withTask('bracket_counting', ['nested', 'flat']);
  const found = withTask('mine', ['a', 'b']);
  assert.deepEqual(circuitsAt([quote, bracket, found, core], src, at('ab'), at('ab') + 1), [quote, core]);
  assert.deepEqual(circuitsAt([quote, bracket, found, core], src, at('3'), at('3') + 1), [bracket]);
  assert.ok(samePrediction(quote, core), 'the same scope (by name and stated) and the same class tokens');
  assert.ok(!samePrediction(quote, bracket), 'another scope');
  const fewerTokens = { ...core, classes: [{ ...core.classes[0], tokens: core.classes[0].tokens.slice(0, 1) }, core.classes[1]] as CircuitFile['classes'] };
  assert.ok(core.classes[0].tokens.length > 1 && !samePrediction(quote, fewerTokens), 'other class tokens: another prediction');
  assert.ok(!samePrediction(quote, { ...core, scope: { kind: 'string-close', region: 'point' } }), 'another region');
});

test('withoutRepeats leaves out a later circuit with the same prediction and node set, in any node order; one that differs in either stays', () => {
  const quote = withTask('single_double_quote', ['double', 'single']);
  const sameNodes = { ...withTask('single_double_quote_paper', ['double', 'single'], { kind: 'string-close' }), title: 'Quote, the paper form', nodes: [...quote.nodes].reverse() };
  const fewerNodes = { ...sameNodes, task: 'smaller_core', nodes: quote.nodes.slice(1) };
  const otherTask = { ...withTask('bracket_counting', ['nested', 'flat']), nodes: quote.nodes };
  assert.ok(quote.nodes.length > 1, 'the sample has nodes to reorder and drop');
  const folded = withoutRepeats([quote, otherTask, sameNodes, fewerNodes]);
  assert.deepEqual(folded.circuits, [quote, otherTask, fewerNodes]);
  assert.deepEqual(folded.repeats, [{ task: 'single_double_quote_paper', title: 'Quote, the paper form', sameAs: 'single_double_quote' }]);
  assert.deepEqual(withoutRepeats([quote]).repeats, []);
});

test('DocumentScope with read_at closer: the prediction is read at the ] itself, and its truth is what follows that ]', () => {
  const src = 'v = [[1, 2], [3]]\n';
  const s = documentScope(src);
  const bracket = { ...withTask('bracket_counting', ['nested', 'flat']), scope: { kind: 'list-close' as const, read_at: 'closer' as const } };
  const first = src.indexOf(']]');
  assert.equal(s.predictionOffset(bracket, first, first + 1), first);
  assert.equal(s.truth(bracket, first, first + 1), 0, 'another ] follows: nested');
  assert.equal(s.truth(bracket, first + 1, first + 2), 1, 'the line ends: flat');
  assert.equal(s.predictionOffset(bracket, src.indexOf('3'), src.indexOf('3') + 1), undefined, 'the token before the ] does not answer');
});

test('DocumentScope.truth of a circuit found at a token: the class whose token text the code continues with', () => {
  const src = "names = ['a', 'b']\nrows = [[1]]\n";
  const s = documentScope(src);
  const found = (target: string[], alt: string[]): CircuitFile => ({
    ...sample,
    task: 'found_1_10_vs_11',
    scope: undefined,
    classes: [
      { ...sample.classes[0], label: 'target', tokens: target.map((text, id) => ({ id, text })) },
      { ...sample.classes[1], label: 'alt', tokens: alt.map((text, id) => ({ id: 100 + id, text })) },
    ],
  });
  const b = src.indexOf("'b'") + 2; // the token `'` that closes 'b' ends here; `]` follows
  assert.equal(s.truth(found([']'], [',']), b, b + 1), 0, 'the code has the target');
  assert.equal(s.truth(found([','], [']']), b, b + 1), 1, 'the code has the alternative');
  assert.equal(s.truth(found(['+'], [',']), b, b + 1), undefined, 'neither side follows');
  const one = src.indexOf('1]]') + 1;
  assert.equal(s.truth(found([']'], [']]\n']), one - 1, one), 1, 'both follow: the longer text is what the code has');
});
