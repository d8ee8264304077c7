import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { loadBundle } from '../../src/core/bundle';
import { checkRunInput, ModelSession, type RunInput } from '../../src/core/ortSession';
import { repoRoot } from './fixtures';

const modelsDir = path.join(repoRoot, 'models');
const shippedName = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).sort().find((d) => fs.existsSync(path.join(modelsDir, d, 'manifest.json'))) : undefined;
const noBundle = shippedName ? false : 'no model bundle under models/ (made by training/pipeline.sh)';

const input = (over: Partial<RunInput>): RunInput => ({ ids: new BigInt64Array(6), B: 1, T: 6, mask: new Float32Array(8).fill(1), fill: new Float32Array(8), watch: [], scoreFrom: 5, readIds: BigInt64Array.of(1n), ...over });

test('checkRunInput: mask rows must divide the mask and be 1, B, or any number for one batch row', () => {
  assert.doesNotThrow(() => checkRunInput(input({ maskRows: 4 })));
  assert.doesNotThrow(() => checkRunInput(input({ ids: new BigInt64Array(12), B: 2, maskRows: 2 })));
  assert.throws(() => checkRunInput(input({ maskRows: 3 })), /8 mask values do not make 3 rows/);
  assert.throws(() => checkRunInput(input({ ids: new BigInt64Array(12), B: 2, maskRows: 4 })), /4 mask rows for 2 batch rows/);
});

/** One run of a window under M single-node ablations equals M separate runs (or, on a bundle exported before mask rows, is refused in one sentence). */
async function rowsEqualSeparateRuns(dir: string): Promise<void> {
  const b = loadBundle(dir);
  const session = await ModelSession.create(b.onnxPath, { provider: 'cpu', threads: 2, spinning: false });
  try {
    assert.equal(session.maskRows, b.manifest.mask_rows === true, 'the graph and the manifest agree on mask rows');
    const N = b.layout.count;
    const text = 'def f(x):\n    return g("a", [x, 1';
    const ids = BigInt64Array.from(b.tokenizer.encode(text).ids.map(BigInt));
    const T = ids.length;
    const M = 12;
    const mask = new Float32Array(M * N).fill(1);
    // row m ablates node m·N/M (every location is hit across the rows); row 0 ablates nothing
    for (let m = 1; m < M; m++) mask[m * N + Math.floor((m * N) / M)] = 0;
    const fill = new Float32Array(M * N);
    for (let m = 0; m < M; m++) fill.set(b.means, m * N);
    const V = b.model.vocab_size;
    const readIds = BigInt64Array.from({ length: V }, (_, v) => BigInt(v));
    const base = { ids, B: 1, T, watch: [3, N - 1], scoreFrom: T - 2, readIds };
    if (!session.maskRows) {
      await assert.rejects(session.run({ ...base, mask, fill, maskRows: M }), /re-export it with training\/export\.py/);
      return;
    }
    const all = await session.run({ ...base, mask, fill, maskRows: M });
    const per = 2 * V;
    assert.equal(all.logits.length, M * per);
    let moved = 0;
    for (let m = 0; m < M; m++) {
      const one = await session.run({ ...base, mask: mask.subarray(m * N, (m + 1) * N), fill: b.means });
      for (let i = 0; i < per; i++) assert.ok(Math.abs(all.logits[m * per + i] - one.logits[i]) <= 1e-5, `row ${m}, logit ${i}`);
      for (let i = 0; i < 4; i++) assert.ok(Math.abs(all.watched[m * 4 + i] - one.watched[i]) <= 1e-5, `row ${m}, watched ${i}`);
      if (m > 0 && all.logits.subarray(m * per, (m + 1) * per).some((x, i) => Math.abs(x - all.logits[i]) > 1e-4)) moved++;
    }
    assert.ok(moved > 0, 'no single-node ablation moved a logit: the rows were not applied');
  } finally {
    await session.release();
  }
}

test('mask rows on a bundle exported with them (test/fixtures/rows-bundle): one run of M ablations equals M runs', () => rowsEqualSeparateRuns(path.join(repoRoot, 'test/fixtures/rows-bundle')));

test('mask rows on the shipped bundle: equal to separate runs, or refused in one sentence if it was exported before them', { skip: noBundle }, () => rowsEqualSeparateRuns(path.join(modelsDir, shippedName ?? '')));
