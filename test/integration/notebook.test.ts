// Notebooks (issue 19): a Jupyter notebook opened in VS Code (the built-in ipynb serializer, no
// Jupyter extension) gets highlights, hover, "Show circuit at cursor" and "Why this token?" in its
// Python cells, each cell read after the Python cells above it (core/cellContext). Every check
// compares the cell with the same text as a plain Python file: what the model reads for the cell.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { joinedText, leftContext } from '../../src/core/cellContext';
import { acceptDefaults, screenshot, type TestState, testState, waitFor, workspaceDir } from './helpers';

const QUOTE = 'single_double_quote';
type Spans = NonNullable<TestState['decorations']>['spans'];

/** The decorations drawn in `uri`'s editor once some quote circuit span is among them. */
function quoteSpans(uri: vscode.Uri): Promise<Spans> {
  return waitFor(async () => {
    const spans = (await testState(uri)).decorations?.spans;
    return spans?.some((s) => s.task === QUOTE) ? spans : undefined;
  }, 60_000, `quote highlights in ${uri.toString()}`);
}

async function hoverText(uri: vscode.Uri, pos: vscode.Position): Promise<string> {
  const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, pos);
  return hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : (c as vscode.MarkdownString).value))).join('\n');
}

suite('Notebooks', () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ci-notebook-'));
  let notebook: vscode.NotebookDocument;
  let cell: vscode.TextDocument;
  /** The last cell's text as a plain file after the cells above it, and where the cell starts in it. */
  let plain: vscode.TextDocument;
  let shift: number;

  suiteSetup(async function () {
    this.timeout(120_000);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    notebook = await vscode.workspace.openNotebookDocument(vscode.Uri.file(path.join(workspaceDir, 'notebook_cells.ipynb')));
    const cells = notebook.getCells();
    assert.deepEqual(cells.map((c) => [c.kind, c.document.languageId]), [[vscode.NotebookCellKind.Code, 'python'], [vscode.NotebookCellKind.Markup, 'markdown'], [vscode.NotebookCellKind.Code, 'python']]);
    cell = cells[2].document;
    const context = leftContext(cells.map((c) => ({ code: c.kind === vscode.NotebookCellKind.Code, language: c.document.languageId, text: c.document.getText() })), 2);
    shift = context.length;
    const file = path.join(scratch, 'notebook_cells_joined.py');
    fs.writeFileSync(file, joinedText(context, cell.getText()));
    plain = await vscode.workspace.openTextDocument(file);
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  test('the last cell gets the highlights of its text read after the first cell, at the same places in the cell; the markdown cell gets none', async function () {
    this.timeout(120_000);
    // the plain file first, alone on screen: its decorations are what the cell must show
    await vscode.window.showTextDocument(plain);
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
    // and every token's readout is the plain file's (which a cell read alone would not give: the next test)
    const tokens = (await testState(cell.uri)).tokens!;
    const plainTokens = (await testState(plain.uri)).tokens!.filter((t) => t.start >= shift);
    assert.deepEqual(tokens.map((t) => t.start + shift), plainTokens.map((t) => t.start));
    tokens.forEach((t, i) => assert.ok(Math.abs(t.logitDiff[QUOTE] - plainTokens[i].logitDiff[QUOTE]) < 1e-5, `the quote readout at ${t.start}`));
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
    const before = (await testState(cell.uri)).tokens!;
    const first = notebook.cellAt(0).document;
    const edit = new vscode.WorkspaceEdit();
    edit.insert(first.uri, new vscode.Position(0, 0), "GREETING = 'hello, world'\n");
    assert.ok(await vscode.workspace.applyEdit(edit));
    try {
      const after = await waitFor(async () => {
        const t = (await testState(cell.uri)).tokens;
        return t && t.some((x, i) => Math.abs(x.logitDiff[QUOTE] - before[i].logitDiff[QUOTE]) > 1e-6) ? t : undefined;
      }, 60_000, 'the last cell analysed again with the new first cell');
      assert.deepEqual(after.map((t) => [t.start, t.end]), before.map((t) => [t.start, t.end]), 'the same tokens of the unchanged cell');
    } finally {
      const undo = new vscode.WorkspaceEdit();
      undo.delete(first.uri, new vscode.Range(0, 0, 1, 0));
      await vscode.workspace.applyEdit(undo);
    }
  });

  test('a cell handed to bash by a cell magic loses its highlights and is no context for the cells below', async function () {
    this.timeout(120_000);
    await vscode.window.showNotebookDocument(notebook);
    const first = notebook.cellAt(0).document;
    await waitFor(async () => ((await testState(first.uri)).decorations?.spans.length ? true : undefined), 60_000, 'the first cell\'s highlights');
    // the last cell's text with nothing before it, as a plain file: what the model reads for it once the first cell is bash
    const file = path.join(scratch, 'notebook_cells_last.py');
    fs.writeFileSync(file, joinedText('', cell.getText()));
    const alone = await waitFor(async () => (await testState((await vscode.workspace.openTextDocument(file)).uri)).tokens, 60_000, 'the plain file of the last cell');
    const edit = new vscode.WorkspaceEdit();
    edit.insert(first.uri, new vscode.Position(0, 0), '%%bash\n');
    assert.ok(await vscode.workspace.applyEdit(edit));
    try {
      await waitFor(async () => ((await testState(first.uri)).decorations?.spans.length === 0 ? true : undefined), 60_000, 'the bash cell\'s highlights gone');
      const same = (t: NonNullable<TestState['tokens']>) => t.length === alone.length && t.every((x, i) => x.start === alone[i].start && Math.abs(x.logitDiff[QUOTE] - alone[i].logitDiff[QUOTE]) < 1e-5);
      await waitFor(async () => {
        const t = (await testState(cell.uri)).tokens;
        return t && same(t) ? t : undefined;
      }, 60_000, 'the last cell read as if nothing came before it');
    } finally {
      const undo = new vscode.WorkspaceEdit();
      undo.delete(first.uri, new vscode.Range(0, 0, 1, 0));
      await vscode.workspace.applyEdit(undo);
    }
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
    assert.match(text, /At the close on line 2: The model expects/, 'the close is on the cell\'s own line 2');
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
