// Notebooks (issue 19): a Jupyter notebook opened in VS Code (the built-in ipynb serializer, no
// Jupyter extension) gets highlights, hover, "Show circuit at cursor", "Why this token?" and "where
// attention looks" in its Python cells, each cell read after the Python cells above it (core/cellContext). Every check
// compares the cell with the same text as a plain Python file: what the model reads for the cell.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { joinedText, leftContext } from '../../src/core/cellContext';
import type { RenderedAttention } from '../../src/extension/attentionOverlay';
import { acceptDefaults, hoverText, screenshot, type TestState, testState, waitFor, workspaceDir } from './helpers';

const QUOTE = 'single_double_quote';
type Spans = NonNullable<TestState['decorations']>['spans'];
/** What the attention overlay drew, as the test hook gives it. */
type Rendered = Omit<RenderedAttention, 'uri'> & { readonly uri: string };

/** The decorations drawn in `uri`'s editor once some quote circuit span is among them. */
function quoteSpans(uri: vscode.Uri): Promise<Spans> {
  return waitFor(async () => {
    const spans = (await testState(uri)).decorations?.spans;
    return spans?.some((s) => s.task === QUOTE) ? spans : undefined;
  }, 60_000, `quote highlights in ${uri.toString()}`);
}

type Tokens = NonNullable<TestState['tokens']>;

/** Whether `tokens` (of a cell) are those of `file` from `shift` on, at the same quote readouts. */
function sameTokens(tokens: Tokens | undefined, file: Tokens | undefined, shift: number): boolean {
  const theirs = file?.filter((t) => t.start >= shift) ?? [];
  return !!tokens && tokens.length === theirs.length && tokens.every((t, i) => t.start + shift === theirs[i].start && Math.abs(t.logitDiff[QUOTE] - theirs[i].logitDiff[QUOTE]) < 1e-5);
}

suite('Notebooks', () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ci-notebook-'));
  let notebook: vscode.NotebookDocument;
  let cell: vscode.TextDocument;
  /** The last cell's text as a plain file after the cells above it, and where the cell starts in it. */
  let plain: vscode.TextDocument;
  let shift: number;

  /** The plain file's tokens (kept: VS Code may close the file, and the extension forget it, once no editor shows it). */
  let plainTokens: Tokens;
  /** The last cell's text with nothing before it, as a plain file's tokens. */
  let aloneTokens: Tokens;
  /** Waits until the last cell reads as the plain file: the notebook as the fixture has it. */
  const readsAsPlain = (what: string) => waitFor(async () => sameTokens((await testState(cell.uri)).tokens, plainTokens, shift) || undefined, 60_000, what);
  /** Waits until the last cell reads as its text with nothing before it. */
  const readsAlone = (what: string) => waitFor(async () => sameTokens((await testState(cell.uri)).tokens, aloneTokens, 0) || undefined, 60_000, what);
  /** Waits until the last cell's analysis differs from the plain file's: its context changed. */
  const readsOtherwise = (what: string) =>
    waitFor(async () => {
      const t = (await testState(cell.uri)).tokens;
      return (t && !sameTokens(t, plainTokens, shift)) || undefined;
    }, 60_000, what);

  /** The tokens of `text` as a Python file (shown: a file opened before the model has loaded is analysed when an editor shows it). */
  async function fileTokens(name: string, text: string): Promise<{ doc: vscode.TextDocument; tokens: Tokens }> {
    const file = path.join(scratch, name);
    fs.writeFileSync(file, text);
    const doc = await vscode.workspace.openTextDocument(file);
    await vscode.window.showTextDocument(doc);
    const tokens = await waitFor(async () => (await testState(doc.uri)).tokens, 60_000, `${name} analysed`);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    return { doc, tokens };
  }

  suiteSetup(async function () {
    this.timeout(120_000);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    // a copy: the web workbench saves edits after a delay (files.autoSave), and the tests edit cells
    const copy = path.join(scratch, 'notebook_cells.ipynb');
    fs.copyFileSync(path.join(workspaceDir, 'notebook_cells.ipynb'), copy);
    notebook = await vscode.workspace.openNotebookDocument(vscode.Uri.file(copy));
    const cells = notebook.getCells();
    assert.deepEqual(cells.map((c) => [c.kind, c.document.languageId]), [[vscode.NotebookCellKind.Code, 'python'], [vscode.NotebookCellKind.Markup, 'markdown'], [vscode.NotebookCellKind.Code, 'python']]);
    cell = cells[2].document;
    const context = leftContext(cells.map((c) => ({ code: c.kind === vscode.NotebookCellKind.Code, language: c.document.languageId, text: c.document.getText() })), 2);
    shift = context.length;
    ({ doc: plain, tokens: plainTokens } = await fileTokens('notebook_cells_joined.py', joinedText(context, cell.getText())));
    aloneTokens = (await fileTokens('notebook_cells_last.py', joinedText('', cell.getText()))).tokens;
  });

  suiteTeardown(async function () {
    this.timeout(120_000);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(scratch, { recursive: true, force: true });
    // the suites after this one start from the model's own circuits: a model load forgets the one found here
    const circuits = async () => ((await testState()) as { circuits?: string[] }).circuits ?? [];
    const own = (await circuits()).filter((c) => !c.startsWith('found_'));
    await vscode.commands.executeCommand('circuitInspector.reloadModel');
    await waitFor(async () => JSON.stringify(await circuits()) === JSON.stringify(own) || undefined, 60_000, 'the found circuit forgotten');
  });

  test('the last cell gets the highlights of its text read after the first cell, at the same places in the cell; the markdown cell gets none', async function () {
    this.timeout(120_000);
    // the plain file first, alone on screen: its decorations are what the cell must show
    await vscode.window.showTextDocument(plain.uri);
    const expected = (await quoteSpans(plain.uri)).filter((s) => s.start >= shift).map((s) => ({ ...s, start: s.start - shift, end: s.end - shift }));
    assert.ok(expected.some((s) => s.task === QUOTE), 'the quote circuit fires in the last cell\'s strings');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');

    await vscode.window.showNotebookDocument(notebook);
    const spans = await quoteSpans(cell.uri);
    assert.deepEqual(
      spans.map((s) => [s.start, s.end, s.task, s.cls]),
      expected.map((s) => [s.start, s.end, s.task, s.cls]),
      'the same spans, cell offsets',
    );
    for (const s of spans) assert.ok(s.end <= cell.getText().length, 'every span lies inside the cell');
    // and every token's readout is the plain file's (which a cell read alone would not give: the next tests)
    assert.ok(sameTokens((await testState(cell.uri)).tokens, plainTokens, shift), 'the readouts of the plain file');
    assert.equal((await testState(notebook.cellAt(1).document.uri)).decorations, undefined, 'markdown is not analysed');

    // the first cell is read without context: its own text's highlights
    const first = notebook.cellAt(0).document;
    const firstSpans = await waitFor(async () => (await testState(first.uri)).decorations?.spans, 60_000, 'the first cell\'s highlights');
    assert.ok(firstSpans.every((s) => s.end <= first.getText().length));
    await screenshot('notebook-highlights');
  });

  test('editing the first cell re-reads the last one: its context changed', async function () {
    this.timeout(120_000);
    await vscode.window.showNotebookDocument(notebook);
    await readsAsPlain('the last cell read after the first');
    const first = notebook.cellAt(0).document;
    const edit = new vscode.WorkspaceEdit();
    edit.insert(first.uri, new vscode.Position(0, 0), "GREETING = 'hello, world'\n");
    assert.ok(await vscode.workspace.applyEdit(edit));
    try {
      await readsOtherwise('the last cell analysed again with the new first cell');
      const plainStarts = plainTokens.filter((t) => t.start >= shift).map((t) => t.start - shift);
      assert.deepEqual((await testState(cell.uri)).tokens!.map((t) => t.start), plainStarts, 'the same tokens of the unchanged cell, other readouts');
    } finally {
      const undo = new vscode.WorkspaceEdit();
      undo.delete(first.uri, new vscode.Range(0, 0, 1, 0));
      await vscode.workspace.applyEdit(undo);
    }
    await readsAsPlain('the last cell read as before once the edit is undone');
  });

  test('a code cell added above the last one re-reads it, and so does removing it again', async function () {
    this.timeout(120_000);
    await vscode.window.showNotebookDocument(notebook);
    await readsAsPlain('the last cell read after the first');
    const edit = (e: vscode.NotebookEdit) => {
      const w = new vscode.WorkspaceEdit();
      w.set(notebook.uri, [e]);
      return vscode.workspace.applyEdit(w);
    };
    assert.ok(await edit(vscode.NotebookEdit.insertCells(2, [new vscode.NotebookCellData(vscode.NotebookCellKind.Code, "shades = ['pink', 'teal']", 'python')])));
    try {
      await readsOtherwise('the last cell analysed again after the new cell');
    } finally {
      assert.ok(await edit(vscode.NotebookEdit.deleteCells(new vscode.NotebookRange(2, 3))));
    }
    await readsAsPlain('the last cell read as before once the new cell is gone');
  });

  test('the last cell moved to the top is read with nothing before it, and after the first cell once moved back', async function () {
    this.timeout(120_000);
    await vscode.window.showNotebookDocument(notebook, { selections: [new vscode.NotebookRange(2, 3)] });
    await readsAsPlain('the last cell read after the first');
    await vscode.commands.executeCommand('notebook.cell.moveUp');
    await vscode.commands.executeCommand('notebook.cell.moveUp');
    try {
      assert.equal(notebook.cellAt(0).document, cell, 'the last cell is the first now');
      await readsAlone('the moved cell read with nothing before it');
    } finally {
      await vscode.window.showNotebookDocument(notebook, { selections: [new vscode.NotebookRange(0, 1)] });
      await vscode.commands.executeCommand('notebook.cell.moveDown');
      await vscode.commands.executeCommand('notebook.cell.moveDown');
    }
    assert.equal(notebook.cellAt(2).document, cell, 'the cell is back at the end');
    await readsAsPlain('the last cell read after the first again');
  });

  test('a cell handed to bash by a cell magic loses its highlights and is no context for the cells below', async function () {
    this.timeout(120_000);
    await vscode.window.showNotebookDocument(notebook);
    await readsAsPlain('the last cell read after the first');
    const first = notebook.cellAt(0).document;
    await waitFor(async () => ((await testState(first.uri)).decorations?.spans.length ? true : undefined), 60_000, 'the first cell\'s highlights');
    const edit = new vscode.WorkspaceEdit();
    edit.insert(first.uri, new vscode.Position(0, 0), '%%bash\n');
    assert.ok(await vscode.workspace.applyEdit(edit));
    try {
      await waitFor(async () => ((await testState(first.uri)).decorations?.spans.length === 0 ? true : undefined), 60_000, 'the bash cell\'s highlights gone');
      await readsAlone('the last cell read as if nothing came before it');
    } finally {
      const undo = new vscode.WorkspaceEdit();
      undo.delete(first.uri, new vscode.Range(0, 0, 1, 0));
      await vscode.workspace.applyEdit(undo);
    }
    await readsAsPlain('the last cell read after the first again');
  });

  test('a hover on a string of the last cell names the quote circuit with the numbers of the plain file', async function () {
    this.timeout(120_000);
    const editor = await vscode.window.showTextDocument(cell);
    const at = cell.getText().indexOf('"blue"') + 3;
    const pos = cell.positionAt(at);
    const text = await waitFor(async () => {
      const t = await hoverText(cell.uri, pos);
      return /The model expects/.test(t) ? t : undefined;
    }, 60_000, 'a hover with the prediction in the cell');
    assert.match(text, /Quote closing/);
    assert.match(text, /At the closing quote on line 2: The model expects/, 'the close is on the cell\'s own line 2');
    const plainText = await hoverText(plain.uri, plain.positionAt(at + shift));
    // the numbers of the description (the links after it name the documents)
    const numbers = (t: string) => t.slice(0, t.indexOf('[$(')).match(/-?\d+\.\d+/g);
    assert.deepEqual(numbers(text), numbers(plainText), `the same values and readout as the plain file:\n${text}\n---\n${plainText}`);
    editor.selection = new vscode.Selection(pos, pos);
    await vscode.commands.executeCommand('editor.action.showHover');
    await new Promise((r) => setTimeout(r, 1000)); // let the hover widget paint before the picture
    await screenshot('notebook-hover');
    await vscode.commands.executeCommand('editor.action.hideHover');
  });

  test('"where attention looks" in the last cell tints ranges of that cell with the plain file\'s weights; the cells above keep their share', async function () {
    this.timeout(120_000);
    const at = cell.getText().indexOf("'name'") + 2;
    const editor = await vscode.window.showTextDocument(cell);
    editor.selection = new vscode.Selection(cell.positionAt(at), cell.positionAt(at));
    const picked = await acceptDefaults<Rendered>('circuitInspector.showAttention');
    assert.ok(picked, 'the command draws a head in the cell');
    const r = await waitFor(async () => vscode.commands.executeCommand<Rendered | undefined>('circuitInspector._testAttention'), 10_000, 'the overlay in the cell');
    assert.equal(r.uri, cell.uri.toString());
    assert.ok(r.query.start <= at && at <= r.query.end, 'from the token at the cursor');
    assert.ok(r.tinted.length > 0, 'tokens of the cell are tinted');
    const text = cell.getText();
    for (const t of r.tinted) {
      assert.ok(t.start >= 0 && t.end <= r.query.end, `tinted ${JSON.stringify(t.text)} lies in the cell, at or before the query`);
      assert.equal(text.slice(t.start, t.end), t.text, 'the tinted range is the cell\'s token');
    }
    const total = r.weights.reduce((a, b) => a + b, 0) + r.startOfText + r.above + r.sink;
    assert.ok(Math.abs(total - 1) < 1e-6, `the cell's tokens, the start, the cells above and the sink make 1 (${total})`);
    assert.ok(r.above > 0, 'the head looks at the cells above too');
    assert.match(r.message, new RegExp(`^head ${r.layer}\\.${r.head} from \`.+\`: sink takes [\\d.]+ %; top tokens `));
    await screenshot('notebook-attention');
    // the same head from the same token of the plain file: the weights on the cell's part are its own
    const fromPlain = await vscode.commands.executeCommand<Rendered>('circuitInspector.showAttention', { uri: plain.uri.toString(), offset: at + shift, layer: r.layer, head: r.head });
    assert.ok(fromPlain);
    const cellPart = fromPlain.weights.slice(fromPlain.weights.length - r.weights.length);
    assert.ok(cellPart.every((w, i) => Math.abs(w - r.weights[i]) < 1e-9), 'the plain file\'s weights on the cell\'s tokens');
    assert.ok(Math.abs(fromPlain.weights.slice(0, -r.weights.length).reduce((a, b) => a + b, 0) - r.above) < 1e-9, 'the plain file\'s weights above the cell');
  });

  test('"Show circuit at cursor" and "Why this token?" work from the cell, at the cell\'s positions', async function () {
    this.timeout(180_000);
    const at = cell.getText().indexOf('"blue"') + 3;
    type Panel = NonNullable<TestState['panel']>;
    const shown = await vscode.commands.executeCommand<Panel>('circuitInspector.showCircuitAtCursor', { uri: cell.uri.toString(), offset: at });
    assert.equal(shown?.circuit.task, QUOTE);
    const fromPlain = await vscode.commands.executeCommand<Panel>('circuitInspector.showCircuitAtCursor', { uri: plain.uri.toString(), offset: at + shift });
    assert.ok(shown.readout && fromPlain.readout);
    assert.ok(Math.abs(shown.readout.before.logitDiff - fromPlain.readout.before.logitDiff) < 1e-5, 'the readout of the plain file');

    const editor = await vscode.window.showTextDocument(cell);
    editor.selection = new vscode.Selection(cell.positionAt(at), cell.positionAt(at));
    const found = await acceptDefaults<{ discovery: { position: { offset: number; line: number; col: number; token: string } }; document: vscode.Uri }>('circuitInspector.whyThisToken');
    assert.ok(found, '"Why this token?" finds a circuit in the cell');
    const p = found.discovery.position;
    const where = cell.positionAt(p.offset);
    assert.equal(`${p.line}:${p.col}`, `${where.line + 1}:${where.character + 1}`, 'the position in the cell\'s lines');
    assert.equal(p.token, cell.getText().slice(p.offset, p.offset + p.token.length));
    assert.equal(found.document.toString(), cell.uri.toString());
    await waitFor(async () => ((await testState()).panel?.circuit.task !== QUOTE ? true : undefined), 30_000, 'the found circuit in the panel');
    // the export answers once the webview has drawn the graph: then the picture shows it
    await vscode.commands.executeCommand('circuitInspector._testExport', 'json', path.join(scratch, 'found.json'));
    await screenshot('notebook-why');
  });
});
