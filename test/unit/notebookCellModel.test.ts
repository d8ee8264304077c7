// A notebook cell's model (extension/notebookCellModel): each call reads the cell after the cells
// above it, and every number it gives is the one the model gives for the same token of the joined
// text, at the cell's own offsets. Real bundle, real onnxruntime.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type * as vscode from 'vscode';
import { NO_ABLATION } from '../../src/core/analysis';
import { asPython, type CellSource, joinedText, leftContext, linesBefore, MAX_CONTEXT_CHARS } from '../../src/core/cellContext';
import { type DocumentResult, type LoadedModel, loadModel } from '../../src/extension/loadedModel';
import { CellModel } from '../../src/extension/notebookCellModel';
import { repoRoot } from './fixtures';

const modelsDir = path.join(repoRoot, 'models');
const shippedName = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).sort().find((d) => fs.existsSync(path.join(modelsDir, d, 'manifest.json'))) : undefined;
const noBundle = shippedName ? false : 'no model bundle under models/ (made by training/pipeline.sh)';
const log = { info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as vscode.LogOutputChannel;

// the notebook of the integration test (test/fixtures/workspace/notebook_cells.ipynb): code, markdown, code
const cells = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'workspace', 'notebook_cells.ipynb'), 'utf8')).cells.map((c: { cell_type: string; source: string[] }) => ({
  code: c.cell_type === 'code',
  language: c.cell_type === 'code' ? 'python' : 'markdown',
  text: c.source.join(''),
}));
const cell = cells[2].text as string;
const context = leftContext(cells, 2);
const joined = joinedText(context, cell);
const shift = context.length;

const done = (r: DocumentResult | { status: 'cancelled' }): DocumentResult => {
  assert.equal(r.status, 'done');
  return r as DocumentResult;
};
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-5, `${what}: ${a} vs ${b}`);

/** `use` run on the shipped bundle's model, disposed after. */
async function withModel(use: (model: LoadedModel) => Promise<void>): Promise<void> {
  const loaded = await loadModel(path.join(modelsDir, shippedName!), 'cpu', log);
  assert.equal(loaded.kind, 'ok');
  const model = (loaded as { model: LoadedModel }).model;
  try {
    await use(model);
  } finally {
    await model.dispose();
  }
}

test('a cell is read after the cells above it: the joined text\'s numbers at the cell\'s offsets', { skip: noBundle }, async () => {
  await withModel(async (model) => {
    const inCell = new CellModel(model, context);
    const whole = done(await model.analyze('joined', joined, NO_ABLATION));
    const own = done(await inCell.analyze('cell', cell, NO_ABLATION));
    const expected = whole.tokens.filter((t) => t.start >= shift);
    assert.equal(own.tokens.length, expected.length, 'the cell\'s tokens and no others');
    own.tokens.forEach((t, i) => {
      const w = expected[i];
      assert.deepEqual([t.start, t.end, t.text], [w.start - shift, w.end - shift, w.text]);
      // the text the model read: the cell's, its magic line as a comment (core/cellContext asPython)
      assert.equal(asPython(cell).slice(t.start, t.end), t.text, 'offsets are the cell\'s');
      for (const task of Object.keys(w.circuits)) {
        close(t.circuits[task].value, w.circuits[task].value, `${task} at ${t.start}`);
        assert.equal(t.circuits[task].fires, w.circuits[task].fires);
      }
    });

    // the context matters: the cell alone reads differently somewhere
    const alone = done(await model.analyze('alone', cell, NO_ABLATION));
    const task = model.circuits[0].task;
    const differs = alone.tokens.some((t, i) => Math.abs(t.logitDiff[task] - own.tokens[i].logitDiff[task]) > 1e-3);
    assert.ok(differs, 'the cells above change what the model reads in the cell');

    // every reader takes and gives the cell's offsets
    const at = cell.indexOf('"blue"') + 3;
    assert.deepEqual(await inCell.readout(cell, at, task, NO_ABLATION), await model.readout(joined, at + shift, task, NO_ABLATION));
    assert.deepEqual(await inCell.activations(cell, at, task, NO_ABLATION), await model.activations(joined, at + shift, task, NO_ABLATION));
    const next = await inCell.nextTokens(cell, at);
    const nextJoined = await model.nextTokens(joined, at + shift);
    assert.ok(next && nextJoined);
    assert.deepEqual({ ...next, start: next.start + shift, end: next.end + shift }, nextJoined);
    const node = model.circuits[0].nodes[0].id;
    const top = await inCell.topTokens(cell, node, 5);
    assert.ok(top.length > 0 && top.every((t) => asPython(cell).slice(t.start, t.end) === t.text), 'top tokens of the cell, at its offsets');

    // "Why this token?" reports the position in the cell's lines (1-based) and offsets
    const found = await inCell.discover(cell, at, {});
    const foundJoined = await model.discover(joined, at + shift, {});
    assert.equal(found.position.offset + shift, foundJoined.position.offset);
    assert.equal(found.position.line + linesBefore(context), foundJoined.position.line);
    assert.equal(found.position.line, 1 + cell.slice(0, found.position.offset).split('\n').length - 1);
    assert.deepEqual(found.nodes, foundJoined.nodes);
  });
});

test('where attention looks from a cell: the joined text\'s weights on the cell\'s tokens, the cells above as one share', { skip: noBundle }, async () => {
  await withModel(async (model) => {
    const inCell = new CellModel(model, context);
    assert.equal(inCell.layers, model.layers);
    // from a string of the last line, and from the cell's first token (its magic line, read as a comment)
    for (const at of [cell.indexOf("'name'") + 2, 0]) {
      for (let layer = 0; layer < model.layers; layer++) {
        const own = await inCell.attention(cell, at, layer);
        const whole = await model.attention(joined, at + shift, layer);
        const first = whole.tokens.findIndex((t) => t.end > shift);
        assert.ok(first > 0, 'the window reaches into the cells above');
        assert.deepEqual(
          own.tokens.map((t) => [t.start, t.end]),
          whole.tokens.slice(first).map((t) => [Math.max(0, t.start - shift), t.end - shift]),
          'the window\'s tokens in the cell, at its offsets',
        );
        for (const t of own.tokens) assert.equal(t.text, cell.slice(t.start, t.end), 'the cell\'s own text');
        assert.deepEqual(own.query, own.tokens[own.tokens.length - 1]);
        assert.ok(own.query.start <= at && at <= own.query.end, `the query ${JSON.stringify(own.query)} holds ${at}`);
        own.heads.forEach((h, k) => {
          const w = whole.heads[k];
          assert.deepEqual([...h.weights], [...w.weights.subarray(first)], `head ${layer}.${k}: the joined text's weights`);
          close(h.above ?? NaN, w.weights.subarray(0, first).reduce((a, x) => a + x, 0), `head ${layer}.${k}: the cells above`);
          assert.ok(h.above! > 0);
          close(h.weights.reduce((a, x) => a + x, 0) + h.startOfText + h.above! + h.sink, 1, `head ${layer}.${k}: the shares make 1`);
          assert.deepEqual([h.startOfText, h.sink], [w.startOfText, w.sink]);
        });
      }
    }
    // an empty cell has no token of its own to look from
    await assert.rejects(inCell.attention('', 0, 0), /^Error: the cell has no tokens to look from$/);
  });
});

test('a cell deep in a long notebook reads the same numbers after its nearest cells as after the whole notebook', { skip: noBundle }, async () => {
  // 600 lines of the standard library in cells of 25 lines: about 21,000 characters above the last cell
  const lines = fs.readFileSync(path.join(repoRoot, 'bench', 'stdlib-5000.py'), 'utf8').split('\n').slice(0, 600);
  const notebook: CellSource[] = [];
  for (let i = 0; i < lines.length; i += 25) notebook.push({ code: true, language: 'python', text: lines.slice(i, i + 25).join('\n') });
  await withModel(async (model) => {
    const index = notebook.length - 1;
    const near = leftContext(notebook, index);
    const all = leftContext(notebook, index, Infinity);
    assert.ok(near.length >= MAX_CONTEXT_CHARS && near.length < all.length - 2_000, `${near.length} of ${all.length} characters above the cell read`);
    const text = notebook[index].text;
    const read = done(await new CellModel(model, near).analyze('near', text, NO_ABLATION));
    const whole = done(await new CellModel(model, all).analyze('all', text, NO_ABLATION));
    assert.deepEqual(read.tokens.map((t) => [t.start, t.end]), whole.tokens.map((t) => [t.start, t.end]));
    read.tokens.forEach((t, i) => {
      for (const task of Object.keys(t.circuits)) close(t.logitDiff[task], whole.tokens[i].logitDiff[task], `${task} at ${t.start}`);
    });
  });
});
