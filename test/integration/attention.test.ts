// "Where attention looks" (issue 19) in the real VS Code, on the shipped bundle: the command's
// QuickPick default (the head with the least sink share) tints the tokens that head attends to from
// the cursor, and says so in the status bar; an attention node selected in the circuit panel draws
// its own head at the panel's token; moving the cursor clears the overlay.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { acceptDefaults, hoverText, openFixture, repoDir, screenshot, testState, type TestState, waitFor } from './helpers';

const ATTENTION = 'circuitInspector.showAttention';

/** The shipped model's shape (the first bundle under models/, the one the extension loads by default). */
function shippedModel(): { n_layer: number; n_head: number; d_head: number } {
  const root = path.join(repoDir, 'models');
  const manifest = JSON.parse(fs.readFileSync(path.join(root, fs.readdirSync(root).sort()[0], 'manifest.json'), 'utf8')) as { model: { n_layer: number; n_head: number; d_head: number } };
  return manifest.model;
}

interface Rendered {
  readonly uri: string;
  readonly layer: number;
  readonly head: number;
  readonly query: { readonly start: number; readonly end: number };
  readonly tinted: readonly { readonly start: number; readonly end: number; readonly text: string; readonly weight: number; readonly level: number }[];
  readonly weights: readonly number[];
  readonly startOfText: number;
  readonly sink: number;
  readonly message: string;
}

/** The panel's model with the token it describes. */
type Panel = NonNullable<TestState['panel']> & { readonly cursor: { readonly range: { line: number; character: number; endLine: number; endCharacter: number } } };

const shown = async () => vscode.commands.executeCommand<Rendered | undefined>('circuitInspector._testAttention');

/** What the overlay must hold whatever the head: tinted tokens at or before the query, weights that make 1 with the sink, the most attended token tinted most. */
function checkOverlay(r: Rendered, doc: vscode.TextDocument): void {
  assert.equal(r.uri, doc.uri.toString());
  const total = r.weights.reduce((a, b) => a + b, 0) + r.startOfText + r.sink;
  assert.ok(Math.abs(total - 1) < 1e-6, `the weights, the start of the file and the sink make 1 (${total})`);
  assert.ok(r.tinted.length > 0 || r.sink > 0.99, 'something is tinted unless the sink takes everything');
  const text = doc.getText();
  for (const t of r.tinted) {
    assert.ok(t.end <= r.query.end, `tinted ${JSON.stringify(t.text)} is at or before the query`);
    assert.equal(text.slice(t.start, t.end), t.text, 'the tinted range is the token');
  }
  const top = Math.max(...r.weights);
  const topIsLineBreak = r.tinted.every((t) => t.weight !== top); // a bare line break is left untinted
  assert.ok(topIsLineBreak || r.tinted.some((t) => t.weight === top && t.level === 4), 'the most attended token has the strongest tint');
  assert.match(r.message, new RegExp(`^head ${r.layer}\\.${r.head} from \`.+\`: sink takes [\\d.]+ %; top tokens `));
}

suite('Where attention looks', () => {
  let editor: vscode.TextEditor;
  let doc: vscode.TextDocument;
  /** Inside `items: ` of `print("items: " + …)`: the string's last word. */
  let offset: number;

  suiteSetup(async function () {
    this.timeout(120_000);
    editor = await openFixture('quotes_and_lists.py');
    doc = editor.document;
    await waitFor(async () => (await testState(doc.uri)).decorations, 60_000, 'the shipped model to analyse the file');
    offset = doc.getText().indexOf('print("items: ') + 'print("item'.length;
    editor.selection = new vscode.Selection(doc.positionAt(offset), doc.positionAt(offset));
  });

  test('the hover at the cursor links to the command', async () => {
    const text = await hoverText(doc.uri, doc.positionAt(offset));
    assert.match(text, /\[\$\(eye\) Where attention looks from this token\]\(command:circuitInspector\.showAttention\?/);
  });

  test('the command at the cursor, Enter in its QuickPick: the head with the least sink share tints the tokens it attends to; the status bar says which', async function () {
    this.timeout(120_000);
    const picked = await acceptDefaults<Rendered>(ATTENTION, () => screenshot('attention-quickpick'));
    assert.ok(picked, 'the command returns what it drew');
    const r = await waitFor(shown, 10_000, 'the overlay');
    assert.deepEqual({ layer: r.layer, head: r.head }, { layer: picked.layer, head: picked.head });
    checkOverlay(r, doc);
    assert.ok(r.query.start <= offset && offset <= r.query.end, 'from the token at the cursor');
    await screenshot('attention-overlay');
    // every head, drawn by name: none has less sink than the default (beyond a tie as the share is shown,
    // 0.1 %), and of the tied ones none looks further back (core/attentionText defaultHead)
    const reach = (x: Rendered) => 1 - x.sink - x.weights.slice(-2).reduce((a, b) => a + b, 0);
    let tied = 0;
    const { n_layer, n_head } = shippedModel();
    for (let layer = 0; layer < n_layer; layer++) {
      for (let head = 0; head < n_head; head++) {
        const other = await vscode.commands.executeCommand<Rendered | undefined>(ATTENTION, { uri: doc.uri.toString(), offset, layer, head });
        assert.ok(other, `head ${layer}.${head} is drawn`);
        checkOverlay(other, doc);
        assert.ok(other.sink >= r.sink - 0.0005, `head ${layer}.${head}'s sink ${other.sink} is not below the default's ${r.sink}`);
        if (Math.abs(other.sink - r.sink) < 0.0005 && (layer !== r.layer || head !== r.head)) {
          tied++;
          assert.ok(reach(other) <= reach(r) + 1e-9, `head ${layer}.${head} ties and looks further back than the default`);
        }
      }
    }
    // the status bar says why this head: the least sink share, and how a tie was broken
    assert.match(r.message, tied > 0 ? /; drawn by default: of the \d+ heads tied at the least sink share \([\d.]+ %\), the one that looks furthest back/ : /; drawn by default: the least sink share/);
  });

  test('an attention node selected in the circuit panel draws its head from the panel\'s token; moving the cursor clears the overlay', async function () {
    this.timeout(120_000);
    // the previous test's last overlay goes as the cursor moves off and back
    editor.selection = new vscode.Selection(doc.positionAt(0), doc.positionAt(0));
    editor.selection = new vscode.Selection(doc.positionAt(offset), doc.positionAt(offset));
    await waitFor(async () => (await shown()) === undefined, 10_000, 'the previous overlay to clear');
    await vscode.commands.executeCommand('circuitInspector.showCircuitAtCursor');
    // the panel first shows the cursor's token, then the token its circuit reads out at, with the readout
    const panel = await waitFor(async () => {
      const p = (await testState(doc.uri)).panel as Panel | undefined;
      return p?.readout ? p : undefined;
    }, 30_000, 'the circuit panel with its readout');
    // a query node if the circuit has one (its head is the circuit's own), else any q, k or v node
    const ids = panel.circuit.nodes.map((n) => n.id);
    const node = ids.find((id) => /^\d+\.attn\.q\.\d+$/.test(id)) ?? ids.find((id) => /^\d+\.attn\.[kv]\.\d+$/.test(id));
    assert.ok(node, `the ${panel.circuit.task} circuit has a q, k or v node`);
    await vscode.commands.executeCommand('circuitInspector._testSelectNode', node);
    const [layer, , , channel] = node.split('.');
    const r = await waitFor(async () => {
      const s = await shown();
      return s && s.layer === Number(layer) && s.head === Math.floor(Number(channel) / shippedModel().d_head) ? s : undefined;
    }, 30_000, `the overlay of ${node}'s head`);
    checkOverlay(r, doc);
    // the panel describes the token its circuit reads out at (the quote circuit's: before the closing quote)
    const { range } = panel.cursor;
    const at = (line: number, character: number) => doc.offsetAt(new vscode.Position(line, character));
    assert.deepEqual([r.query.start, r.query.end], [at(range.line, range.character), at(range.endLine, range.endCharacter)], 'from the token the panel describes');
    // the circuit drawn beside the editor (an export waits for the webview's graph) for the screenshot
    await vscode.commands.executeCommand('circuitInspector.openCircuitBeside');
    const drawn = path.join(os.tmpdir(), 'ci-attention-panel.json');
    await vscode.commands.executeCommand('circuitInspector._testExport', 'json', drawn, 'panel');
    fs.rmSync(drawn, { force: true });
    assert.ok(await shown(), 'the overlay stays while the cursor does');
    await screenshot('attention-panel-node');
    editor.selection = new vscode.Selection(doc.positionAt(0), doc.positionAt(0));
    await waitFor(async () => (await shown()) === undefined, 10_000, 'the overlay to clear');
  });

  test('closing the editor clears the overlay and its status bar sentence, which would name a token no longer shown', async function () {
    this.timeout(120_000);
    editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(doc.positionAt(offset), doc.positionAt(offset));
    assert.ok(await vscode.commands.executeCommand<Rendered | undefined>(ATTENTION, { uri: doc.uri.toString(), offset, layer: 0, head: 0 }), 'a head is drawn');
    assert.ok(await shown());
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await waitFor(async () => (await shown()) === undefined, 10_000, 'the overlay (and its status bar sentence) cleared with its editor');
  });
});
