import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { foundFiring } from '../../src/core/foundFiring';

const value = (firing: NonNullable<ReturnType<typeof foundFiring>>, acts: Record<string, number>) => firing.terms.reduce((s, t) => s + t.coef * (acts[t.node] ?? 0), 0);

test('at the found position the firing value is the sum of the active nodes\' attributions, fires, and points to the target', () => {
  const nodes = [
    { id: '0.mlp.post_act.3', attribution: 2.5, label: '' },
    { id: '1.attn.v.7', attribution: -0.5, label: '' },
    { id: '0.attn.q.1', attribution: 1.0, label: '' }, // silent at the position: no term
  ];
  const acts = { '0.mlp.post_act.3': 0.8, '1.attn.v.7': -2, '0.attn.q.1': 0 };
  const firing = foundFiring({ nodes }, acts);
  assert.ok(firing);
  assert.deepEqual(firing.terms.map((t) => t.node), ['0.mlp.post_act.3', '1.attn.v.7']);
  assert.ok(Math.abs(value(firing, acts) - 2.0) < 1e-9);
  assert.equal(firing.threshold, 1.5);
  assert.equal(firing.positive_class, 0);
  // three quarters of the activations: at the threshold; half: quiet
  const scaled = (k: number) => Object.fromEntries(Object.entries(acts).map(([id, a]) => [id, a * k]));
  assert.ok(Math.abs(value(firing, scaled(0.75))) >= firing.threshold - 1e-9);
  assert.ok(Math.abs(value(firing, scaled(0.5))) < firing.threshold);
});

test('nodes that on balance push to the alternative give a rule whose positive side is the alternative, so the found position still reads as the target', () => {
  const firing = foundFiring({ nodes: [{ id: '0.mlp.post_act.3', attribution: -1.5, label: '' }] }, { '0.mlp.post_act.3': 3 });
  assert.ok(firing);
  const v = value(firing, { '0.mlp.post_act.3': 3 });
  assert.ok(v < 0);
  assert.equal(firing.positive_class, 1); // value < 0 → class 1 − positive_class = 0, the target
});

test('no node active at the position: no rule', () => {
  assert.equal(foundFiring({ nodes: [{ id: '0.attn.q.1', attribution: 1, label: '' }] }, { '0.attn.q.1': 0 }), undefined);
});
