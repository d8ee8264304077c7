// The words under "keeps N %" (issue 19): each share said with the logit differences it is made of,
// in the CLI's discover, "Why this token?"'s message and the panel's faithfulness line.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { inWords } from '../../src/cliDiscover';
import type { Discovery } from '../../src/core/discoverAt';
import { discoverySummary, fullWords, onlyWords, withoutWords } from '../../src/core/shareWords';
import { NEAR_TIE, OVERSHOOT } from '../../src/schemas/shares';
import { faithfulnessWords } from '../../src/webview/faithfulnessWords';

const close = { full: 1.1, target: ')', alt: ',' };
/** The model with every node at its mean: a slight lean to the target, as at most places. */
const means = { diff: 0.2, mode: 'mean' as const };
const noNode = '; with every node ablated (each at its mean) the model prefers `)` over `,` by 0.20';

test('a circuit alone far above the full model overshoots: how many times, and by how much the rest pulls the other way', () => {
  // 9:19 of examples/demo.py on the session-12 bundle: +5.33 alone against +1.10, "keeps 484 %"
  assert.equal(onlyWords(close, 5.33, means), 'alone the circuit prefers `)` over `,` by 5.33, 4.8 times the full model\'s 1.10: the rest of the model pulls toward `,` by 4.23, so the circuit alone overshoots' + noNode);
  assert.match(onlyWords(close, OVERSHOOT * close.full + 1e-9, means), /overshoots/);
  assert.doesNotMatch(onlyWords(close, OVERSHOOT * close.full - 1e-3, means), /overshoots/);
  assert.equal(onlyWords(close, 0.95, means), 'alone the circuit prefers `)` over `,` by 0.95, against the full model\'s 1.10' + noNode);
  assert.equal(onlyWords(close, -0.3, means), 'alone the circuit prefers `,` over `)` by 0.30: on its own it points the other way' + noNode);
});

test('where the model prefers the alternative (the code\'s token is not its first choice), the sides follow the sign', () => {
  const p = { full: -1.1, target: ']', alt: ',' };
  assert.equal(fullWords(p), 'the model prefers `,` over `]` by 1.10');
  assert.equal(
    onlyWords(p, -4.59, { diff: -0.3, mode: 'zero' }),
    'alone the circuit prefers `,` over `]` by 4.59, 4.2 times the full model\'s 1.10: the rest of the model pulls toward `]` by 3.49, so the circuit alone overshoots; with every node ablated (each at zero) the model prefers `,` over `]` by 0.30',
  );
  assert.equal(withoutWords(p, 1.29), 'without it the model prefers `]` over `,` by 1.29: removing the circuit flips the preference');
});

test('a circuit alone that gives what every node ablated gives is said to add little: its removal is what marks it', () => {
  // 2:15 of `y = [1, [2, 3]]` on the shipped bundle: 11 layer-0 query nodes, alone +3.24, every node at its mean +3.24 too
  const p = { full: 1.26, target: '\n', alt: '\n\n' };
  const leaning = { diff: 3.238, mode: 'mean' as const };
  assert.equal(
    onlyWords(p, 3.238, leaning),
    'alone the circuit gives +3.24, what the model gives with no node kept: with every node ablated (each at its mean) the model prefers `\\n` over `\\n\\n` by 3.24, so keeping the circuit adds only +0.00; what removing it costs (below) is what marks these nodes here',
  );
  // a tenth of the full preference apart is the line
  assert.match(onlyWords(p, 3.238 + 0.12, leaning), /^alone the circuit gives \+3\.36, what the model gives with no node kept: .* adds only \+0\.12;/);
  assert.match(onlyWords(p, 3.238 + 0.13, leaning), /^alone the circuit prefers `\\n` over `\\n\\n` by 3\.37, 2\.7 times .* overshoots; with every node ablated/);
});

test('a near-tie says that every share of it is a ratio of small numbers', () => {
  // 7:18 of examples/demo.py on the session-12 bundle: full +0.15, "circuit only keeps 3984 %"
  assert.equal(fullWords({ ...close, full: 0.15 }), `the model barely prefers \`)\` over \`,\` (by 0.15, under ${NEAR_TIE}), so every share of it below is a ratio of small numbers`);
  assert.equal(fullWords(close), 'the model prefers `)` over `,` by 1.10');
});

test('without the circuit: the share it costs, a flip, or a rise', () => {
  assert.equal(withoutWords(close, 0.22), 'without it the model prefers `)` over `,` by 0.22: removing the circuit costs 80 % of the preference');
  assert.equal(withoutWords(close, 0.88), 'without it the model prefers `)` over `,` by 0.88: removing the circuit costs 20 % of the preference, and the rest of the model keeps the other part');
  assert.equal(withoutWords(close, -0.5), 'without it the model prefers `,` over `)` by 0.50: removing the circuit flips the preference');
  assert.equal(withoutWords(close, 5.84), 'without it the model prefers `)` over `,` more, by 5.84: taken together the circuit\'s nodes pull toward `,`');
});

const found: Discovery = {
  position: { line: 9, col: 19, offset: 0, token: '2' },
  target: { id: 1, text: ')' },
  alt: { id: 2, text: ',' },
  actual: { id: 1, text: ')' },
  top: [],
  mode: 'mean',
  full: { logit_diff: 1.1, p_target: 0.5, p_alt: 0.2 },
  nodes: [{ id: '1.mlp.post_act.7', attribution: 0.9, label: '1.mlp.post_act.7' }],
  edges: [],
  all_ablated: { logit_diff: 0.2, kept: 0.1818 },
  circuit_only: { logit_diff: 5.33, kept: 4.8455 },
  without_circuit: { logit_diff: -0.5, kept: -0.4545 },
  rows: 781,
  ms: 3100,
};

test('the CLI says each figure in words under its number; "Why this token?" says the same in its message', () => {
  const text = inWords(found);
  assert.match(text, /\n {2}circuit only \(everything else mean-ablated\): \+5\.33, keeps 485 %\n {4}alone the circuit prefers `\)` over `,` by 5\.33, 4\.8 times .* overshoots; with every node ablated \(each at its mean\) the model prefers `\)` over `,` by 0\.20\n/);
  assert.match(text, /\n {2}without the circuit \(its nodes mean-ablated\): −0\.50, keeps -45 %\n {4}without it the model prefers `,` over `\)` by 0\.50: removing the circuit flips the preference\n/);
  assert.match(text, /\ncircuit: 1 node, 0 edges into the output\n/);
  const steering = (ids: string[]) => inWords({ ...found, nodes: ids.map((id) => ({ id, attribution: 0.1, label: id })) }).split('\n')[2];
  assert.equal(steering(['0.attn.q.30']), 'circuit: 1 node, 0 edges into the output; it is a query or key channel, which acts on the output through where its head attends, not through weight edges');
  assert.equal(steering(['0.attn.q.30', '0.attn.k.2']), 'circuit: 2 nodes, 0 edges between them and 0 into the output; all of them are query or key channels, which act on the output through where their heads attend, not through weight edges');
  assert.match(steering(['0.attn.q.30', '1.mlp.post_act.7', '0.attn.v.3']), /; 1 of them is a query or key channel, which acts on the output through where its head attends, not through weight edges$/);
  assert.match(text, /full model: logit difference \+1\.10 \(P 0\.500 vs 0\.200\): the model prefers `\)` over `,` by 1\.10\n/);
  assert.equal(
    discoverySummary(found),
    '1 node explains `)` over `,` at 9:19; the model prefers `)` over `,` by 1.10. Alone the circuit prefers `)` over `,` by 5.33, 4.8 times the full model\'s 1.10: the rest of the model pulls toward `,` by 4.23, so the circuit alone overshoots; with every node ablated (each at its mean) the model prefers `)` over `,` by 0.20 (keeps 485 %). Without it the model prefers `,` over `)` by 0.50: removing the circuit flips the preference (leaves -45 %). Found in 3.1 s (781 forward passes).',
  );
});

test('the panel\'s faithfulness line: a near-tie, an overshoot, a circuit that adds little to every node ablated, and nothing more in between', () => {
  assert.match(faithfulnessWords(0.15, 39.84, 0.5, 'mean'), /barely prefers either side \(\|logit diff\| < 0\.5\)/);
  assert.match(faithfulnessWords(1.1, 4.85, 0.2, 'mean'), /the circuit alone overshoots: its difference is 4\.8 times the full model’s, because the nodes outside it pull toward the alternative\.$/);
  assert.match(faithfulnessWords(-1.1, 4.2, 0.2, 'mean'), /4\.2 times the full model’s, because the nodes outside it pull toward the target\.$/);
  assert.match(faithfulnessWords(-1.1, 1.1, 0.2, 'mean'), /100 % = the circuit alone does what the model does\.$/);
  assert.match(faithfulnessWords(1.1, null, null, 'mean'), /does what the model does\.$/);
  // 2:15 of `y = [1, [2, 3]]`: the circuit alone 258 %, every node at its mean 258 % too
  assert.match(faithfulnessWords(1.26, 2.58, 2.58, 'mean'), /Here every node ablated gives as much \(258%\): the nodes at their means alone lean this way, so keeping the circuit adds little and the share says nothing of it; ablating its nodes shows what they carry\.$/);
  assert.match(faithfulnessWords(1.26, 0.95, 0.86, 'zero'), /the nodes at zero alone lean this way/);
  assert.doesNotMatch(faithfulnessWords(1.26, 0.95, 0.84, 'mean'), /gives as much/);
});
