// The model as the editor sees it (extension/loadedModel) with saved or found circuits beside the
// bundle's own: a new circuit runs only what no earlier run read (nothing for one whose nodes and
// class tokens are the bundle's; test/unit/analysis.test.ts counts the runs of one that has new
// ones), the same circuits again or none run nothing, and every reader (analyze, readout,
// activations, topTokens) has the extra circuit's values. Real bundle, real onnxruntime.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type * as vscode from 'vscode';
import { NO_ABLATION } from '../../src/core/analysis';
import { type DocumentResult, type LoadedModel, loadModel } from '../../src/extension/loadedModel';
import { repoRoot } from './fixtures';

const modelsDir = path.join(repoRoot, 'models');
const shippedName = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).sort().find((d) => fs.existsSync(path.join(modelsDir, d, 'manifest.json'))) : undefined;
const noBundle = shippedName ? false : 'no model bundle under models/ (made by training/pipeline.sh)';
const log = { info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as vscode.LogOutputChannel;
const text = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'workspace', 'quotes_and_lists.py'), 'utf8');

const done = (r: DocumentResult | { status: 'cancelled' }): DocumentResult => {
  assert.equal(r.status, 'done');
  return r as DocumentResult;
};

test('extra circuits: no run for what the cache holds, none when they did not change or are removed; every reader has their values', { skip: noBundle }, async () => {
  const loaded = await loadModel(path.join(modelsDir, shippedName!), 'cpu', log);
  assert.equal(loaded.kind, 'ok');
  const model = (loaded as { model: LoadedModel }).model;
  try {
    const own = model.circuits.map((c) => c.task);
    const first = done(await model.analyze('doc', text, NO_ABLATION));
    const windows = first.windowsComputed;
    assert.ok(windows > 0);

    // one of the bundle's circuits under a task of its own: real nodes, a real firing rule
    const extra = { ...model.circuits[0], task: 'extra_sample' };
    model.setExtraCircuits([extra]);
    assert.deepEqual(model.circuits.map((c) => c.task), [...own, 'extra_sample']);
    const second = done(await model.analyze('doc', text, NO_ABLATION));
    assert.equal(second.windowsComputed, 0, 'its nodes and class tokens were all read for the bundle\'s circuits');
    assert.equal(second.windowsReused, windows);
    assert.equal(second.tokens.length, first.tokens.length);
    second.tokens.forEach((t, i) => {
      for (const task of own) assert.ok(Math.abs(t.circuits[task].value - first.tokens[i].circuits[task].value) < 1e-5, `${task} at token ${i} is unchanged`);
      // the same circuit under another task: the same numbers, read from the cached columns
      assert.ok(Math.abs(t.circuits.extra_sample.value - t.circuits[own[0]].value) < 1e-5, `token ${i}: the extra circuit's firing value`);
      assert.ok(Math.abs(t.logitDiff.extra_sample - t.logitDiff[own[0]]) < 1e-4, `token ${i}: the extra circuit's logit difference`);
    });

    // the extra circuit's value at a token is its firing rule over the activations read for it there, and its readout is the number drawn
    const i = second.tokens.findIndex((t) => t.end > t.start && t.circuits.extra_sample.value !== 0);
    const t = second.tokens[i];
    const acts = await model.activations(text, t.start, 'extra_sample', NO_ABLATION);
    const value = extra.firing!.terms.reduce((s, term) => s + term.coef * acts[term.node], 0);
    assert.ok(Math.abs(value - t.circuits.extra_sample.value) < 1e-4, `firing value ${t.circuits.extra_sample.value} vs ${value} from the activations`);
    const readout = await model.readout(text, t.start, 'extra_sample', NO_ABLATION);
    assert.ok(readout && Math.abs(readout.logitDiff - t.logitDiff.extra_sample) < 1e-4);
    const top = await model.topTokens(text, extra.firing!.terms[0].node, 3);
    assert.equal(top.length, 3);
    assert.ok(top.every((x, k) => k === 0 || Math.abs(x.value) <= Math.abs(top[k - 1].value)));

    // the same circuits again (the saved folder re-read): nothing runs
    model.setExtraCircuits([{ ...extra }]);
    assert.equal(done(await model.analyze('doc', text, NO_ABLATION)).windowsComputed, 0);
    // none: the bundle's circuits alone
    model.setExtraCircuits([]);
    const last = done(await model.analyze('doc', text, NO_ABLATION));
    assert.equal(last.windowsComputed, 0, 'removing a circuit runs nothing');
    assert.deepEqual(Object.keys(last.tokens[0].circuits), own);
    assert.equal(await model.readout(text, t.start, 'extra_sample', NO_ABLATION), undefined, 'a circuit no longer set has no readout');
  } finally {
    await model.dispose();
  }
});
