// Grouping discovery's ablation rows by the tail they can share (src/core/discoverRoute.ts): every group's
// rows agree before its tail's start, each row is in exactly one group, and rows go to the latest tail
// they can share with another row.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { type RowGroup, routeRows, type TailStart } from '../../src/core/discoverRoute';

const N = 12;
const TAILS: readonly TailStart[] = [
  { from: 'a', start: 3, lastLayer: false },
  { from: 'b', start: 6, lastLayer: false },
  { from: 'c', start: 9, lastLayer: true },
];

/** Rows [rows.length, N]: all ones but the listed flat indices, 0. */
function masks(rows: readonly (readonly number[])[]): Float32Array {
  const m = new Float32Array(rows.length * N).fill(1);
  rows.forEach((ablated, r) => ablated.forEach((f) => (m[r * N + f] = 0)));
  return m;
}

function byTail(groups: readonly RowGroup[]): Record<string, number[][]> {
  const out: Record<string, number[][]> = {};
  for (const g of groups) (out[g.tail?.from ?? 'model'] ??= []).push([...g.rows]);
  return out;
}

test('routeRows: single-node ablations share the tail of their location; one alone before every tail runs through the model', () => {
  // rows 0, 1 ablate past c; 2 between b and c; 3, 4 between a and b; 5 before a; 6 nothing
  const rows = [[10], [11], [7], [4], [5], [1], []];
  const groups = routeRows(masks(rows), rows.length, N, TAILS);
  // the unablated row agrees with 0 and 1 before c; 2 is then alone from b and joins 3 and 4 from a
  assert.deepEqual(byTail(groups), { c: [[0, 1, 6]], a: [[2, 3, 4]], model: [[5]] });
});

test('routeRows: rows that differ early share only an early tail; the groups partition the rows and agree before their start', () => {
  const rows = [[0, 10], [0, 11], [1, 7], [1, 8], [2, 4], [2], [5, 6]];
  const m = masks(rows);
  const groups = routeRows(m, rows.length, N, TAILS);
  assert.deepEqual(byTail(groups), { c: [[0, 1]], b: [[2, 3]], a: [[4, 5]], model: [[6]] });
  const seen = groups.flatMap((g) => g.rows).sort((a, b) => a - b);
  assert.deepEqual(seen, rows.map((_, r) => r));
  for (const g of groups) {
    if (!g.tail) continue;
    const start = g.tail.start;
    for (const r of g.rows) assert.deepEqual(m.subarray(r * N, r * N + start), m.subarray(g.rows[0] * N, g.rows[0] * N + start));
  }
});

test('routeRows: without tails every row runs through the model; identical rows share the latest tail', () => {
  const rows = [[10], [11]];
  assert.deepEqual(byTail(routeRows(masks(rows), 2, N, [])), { model: [[0, 1]] });
  const same = [[0, 4], [0, 4], [0, 4]];
  assert.deepEqual(byTail(routeRows(masks(same), 3, N, TAILS)), { c: [[0, 1, 2]] });
});
