import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadKernels } from '../../src/core/wasmForward';

// The AbsTopK kernel alone (kernels/forward.ts) against a sort, on rows the model's windows rarely hold:
// ties at the threshold, ±0, subnormals, ±∞, constant rows, every k. The model-level tests
// (wasmForward.test.ts) check the same selections as PyTorch and onnxruntime on real windows.

/** Each row with the entries whose |x| is at least the k-th largest |x| kept (ties kept) and the others +0. */
function reference(rows: Float32Array, n: number, k: number): Float32Array {
  const out = new Float32Array(rows.length);
  for (let r = 0; r < rows.length / n; r++) {
    const row = rows.subarray(r * n, (r + 1) * n);
    const threshold = Array.from(row, Math.abs).sort((a, b) => b - a)[k - 1];
    row.forEach((v, i) => (out[r * n + i] = Math.abs(v) >= threshold ? v : 0));
  }
  return out;
}

// a small linear congruential generator: the same rows on every run
function generator(seed: number): () => number {
  let s = seed;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

const KINDS: Record<string, (u: () => number) => number> = {
  spread: (u) => (u() - 0.5) * 4,
  'ties and zeros': (u) => Math.round((u() - 0.5) * 4),
  'signed zeros and subnormals': (u) => (u() < 0.5 ? 0 : u() < 0.2 ? -0 : (u() - 0.5) * 1e-39),
  constant: () => 1.5,
  infinities: (u) => (u() < 0.1 ? (u() < 0.5 ? Infinity : -Infinity) : (u() - 0.5) * 1e30),
  'powers of two': (u) => (u() < 0.5 ? -1 : 1) * 2 ** Math.floor(u() * 60 - 30),
};

test('AbsTopK keeps exactly the entries a sort keeps, ties at the threshold included, on rows of every kind and width', () => {
  const K = loadKernels();
  K.memory.grow(16);
  const at = 1 << 16; // above the module's own data
  const u = generator(7);
  let checked = 0;
  for (const [kind, value] of Object.entries(KINDS)) {
    for (let trial = 0; trial < 300; trial++) {
      // widths are multiples of 4 (the host checks); every tenth row is as wide as a model's (256–4,092
      // keys), where the kernel narrows its counts to the keys still open
      const n = trial % 10 === 0 ? 4 * (64 + Math.floor(u() * 960)) : 4 * (1 + Math.floor(u() * 40));
      const k = 1 + Math.floor(u() * n);
      const rowCount = 1 + Math.floor(u() * 3);
      const rows = Float32Array.from({ length: rowCount * n }, () => value(u));
      new Float32Array(K.memory.buffer, at, rows.length).set(rows);
      K.absTopK(at, rowCount, n, k, at + 4 * rows.length);
      const got = new Float32Array(K.memory.buffer, at, rows.length);
      const want = reference(rows, n, k);
      want.forEach((w, i) => assert.ok(Object.is(got[i], w), `${kind}, width ${n}, k ${k}, entry ${i}: ${got[i]} where a sort keeps ${w}`));
      checked++;
    }
  }
  assert.equal(checked, 6 * 300);
});

test("AbsTopK keeps what a sort keeps when each row's threshold moves from the last one's: the same binade, the next one up or down, far away", () => {
  // The kernel looks for a row's threshold first in the binade of the previous row's: these rows' scales
  // stay, double, halve or jump ×2¹⁰ from row to row, so that every way of that try (found there, found in
  // the neighbouring binade, not found) is taken, at widths that are counted whole and that are narrowed.
  const K = loadKernels();
  K.memory.grow(16);
  const at = 1 << 16;
  const u = generator(11);
  const moves = [1, 1, 2, 0.5, 1, 1024, 1 / 1024, 2, 2, 0.5, 1];
  for (const n of [8, 128, 1024, 4096]) {
    for (const k of [1, n >> 3, n >> 2, n >> 1, n - 1]) {
      let scale = 1;
      const rowCount = 3 * moves.length;
      const rows = new Float32Array(rowCount * n);
      for (let r = 0; r < rowCount; r++) {
        scale *= moves[r % moves.length];
        // every fifth row: k entries of one size above the rest, so exactly k reach the binade's low end
        const exact = r % 5 === 4;
        for (let i = 0; i < n; i++) rows[r * n + i] = (u() < 0.5 ? -1 : 1) * scale * (exact ? (i < k ? 1.5 : 0.25 * u()) : 2 * u());
      }
      new Float32Array(K.memory.buffer, at, rows.length).set(rows);
      K.absTopK(at, rowCount, n, k, at + 4 * rows.length);
      const got = new Float32Array(K.memory.buffer, at, rows.length);
      const want = reference(rows, n, k);
      want.forEach((w, i) => assert.ok(Object.is(got[i], w), `width ${n}, k ${k}, row ${Math.floor(i / n)}, entry ${i % n}: ${got[i]} where a sort keeps ${w}`));
    }
  }
});
