// "Why this token?" (issue 19) in the real VS Code: the QuickPicks' defaults and a typed contrast
// open the found circuit in the circuit panel; "Save as circuit" writes it under the workspace's
// .circuit-inspector/ folder, from where it is loaded beside the model's circuits with its
// highlights; a broken file there is left out without losing the others; a node label typed in the
// panel is kept in the saved file and the JSON export; attribution averaged over the same token pair
// covers each place of the pair in the file. The suite runs on
// test/fixtures/rows-bundle (a tiny model exported with mask rows, which discovery needs).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { tokenCode } from '../../src/core/readoutText';
import { acceptDefaults, hoverText, openFixture, repoDir, screenshot, type TestState, testState, waitFor, workspaceDir } from './helpers';

interface Found {
  readonly discovery: { position: { offset: number; line: number; col: number }; target: { text: string }; alt: { text: string }; actual: { text: string } | null; top: { text: string }[]; nodes: { id: string }[]; circuit_only: { kept: number } };
  readonly file: { task: string; title: string };
}
type State = TestState & { circuits?: string[]; warnings?: string[]; panel?: TestState['panel'] & { circuit: { title: string } } };

const ROWS_BUNDLE = path.join(repoDir, 'test', 'fixtures', 'rows-bundle');
const SAVED = path.join(workspaceDir, '.circuit-inspector');
const WHY = 'circuitInspector.whyThisToken';

const state = async (uri?: vscode.Uri): Promise<State> => (await testState(uri)) as State;
const setBundle = (dir: string | undefined) => vscode.workspace.getConfiguration('circuitInspector').update('bundlePath', dir, vscode.ConfigurationTarget.Global);

/** "Why this token?" on the cursor with its QuickPicks' defaults (Enter in each). */
const acceptWhyDefaults = () => acceptDefaults<Found>(WHY);

suite('Why this token?', () => {
  let doc: vscode.TextDocument;
  /** Inside `value` of `print("value")`: the prediction after that token. */
  let offset: number;

  suiteSetup(async function () {
    this.timeout(120_000);
    fs.rmSync(SAVED, { recursive: true, force: true });
    await testState();
    await setBundle(ROWS_BUNDLE);
    await waitFor(async () => (await state()).model === 'rows-fixture', 60_000, 'the mask-rows fixture bundle to load');
    const editor = await openFixture('quotes_and_lists.py');
    doc = editor.document;
    offset = doc.getText().indexOf('print("value")') + 'print("val'.length;
    editor.selection = new vscode.Selection(doc.positionAt(offset), doc.positionAt(offset));
  });

  suiteTeardown(async function () {
    this.timeout(120_000);
    fs.rmSync(SAVED, { recursive: true, force: true });
    await setBundle(undefined);
    await waitFor(async () => (await state()).model !== 'rows-fixture' && (await state()).model, 60_000, 'the shipped bundle to load again');
  });

  test('Enter in both QuickPicks explains the default contrast (the next token in the code if listed, else the top one, against the runner-up) and opens it in the circuit panel, titled with the contrast', async function () {
    this.timeout(120_000);
    const found = await acceptWhyDefaults();
    assert.ok(found, 'the command returns the circuit it found');
    const d = found.discovery;
    const tops = d.top.map((t) => t.text);
    const expected = d.actual && tops.slice(0, 5).includes(d.actual.text) ? d.actual.text : tops[0];
    assert.equal(d.target.text, expected, `the target defaults to ${JSON.stringify(expected)} (top: ${JSON.stringify(tops)}, code: ${JSON.stringify(d.actual?.text)})`);
    assert.equal(d.alt.text, tops.find((t) => t !== expected), 'the alternative defaults to the runner-up');
    assert.ok(d.circuit_only.kept >= 0.8, `the circuit alone keeps ${d.circuit_only.kept} of the logit difference`);
    const where = doc.positionAt(d.position.offset);
    assert.equal(`${d.position.line}:${d.position.col}`, `${where.line + 1}:${where.character + 1}`, 'the position is the token at the cursor');
    const s = await waitFor(async () => {
      const p = (await state()).panel;
      return p?.circuit.task === found.file.task && p.readout ? p : undefined;
    }, 30_000, 'the found circuit in the panel with a readout');
    assert.equal(s.circuit.title, `found at ${d.position.line}:${d.position.col} for ${tokenCode(d.target.text)} vs ${tokenCode(d.alt.text)}`);
    assert.deepEqual(s.circuit.nodes.map((n) => n.id), d.nodes.map((n) => n.id), 'the panel draws the circuit\'s nodes');
    assert.ok(Math.abs(s.readout!.before.logitDiff) > 0, 'the panel reads the contrast at the cursor');
    // the export answers once the webview has drawn the graph: then the picture shows it
    const exported = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ci-found-')), 'found.json');
    await vscode.commands.executeCommand('circuitInspector._testExport', 'json', exported);
    const graph = JSON.parse(fs.readFileSync(exported, 'utf8')) as { nodes: { id: string }[] };
    fs.rmSync(path.dirname(exported), { recursive: true });
    for (const n of d.nodes) assert.ok(graph.nodes.some((g) => g.id === n.id), `the JSON export has ${n.id}`);
    await screenshot('why-this-token-panel');
  });

  test('a contrast given as the command\'s arguments is explained as given; the panel\'s ablation of a node changes the readout; text that is not one token gets no circuit', async function () {
    this.timeout(120_000);
    const top = (await acceptWhyDefaults())!.discovery.top.map((t) => t.text);
    const found = await vscode.commands.executeCommand<Found>(WHY, { uri: doc.uri.toString(), offset, target: top[2], alt: top[1] });
    assert.equal(found.discovery.target.text, top[2]);
    assert.equal(found.discovery.alt.text, top[1]);
    const shown = await waitFor(async () => {
      const p = (await state()).panel;
      return p?.circuit.task === found.file.task && p.readout ? p : undefined;
    }, 30_000, 'the typed contrast in the panel');
    const node = found.discovery.nodes[0].id;
    const ablated = (await vscode.commands.executeCommand('circuitInspector._testSetAblation', [node])) as Required<NonNullable<TestState['panel']>>;
    assert.deepEqual(ablated.ablated, [node]);
    assert.ok(ablated.readout?.after && Math.abs(ablated.readout.after.logitDiff - shown.readout!.before.logitDiff) > 1e-4, 'ablating the strongest node moves the logit difference');
    await vscode.commands.executeCommand('circuitInspector._testSetAblation', []);
    assert.equal(await vscode.commands.executeCommand(WHY, { uri: doc.uri.toString(), offset, target: 'not one token at all', alt: top[0] }), undefined);
  });

  test('averaged over the same token pair: the command with average set explains the pair at every place the file has it (the "(" before `items` on lines 12 and 9)', async function () {
    this.timeout(120_000);
    const text = doc.getText();
    const at = text.lastIndexOf('(items');
    const tokens = await waitFor(async () => (await state(doc.uri)).tokens, 30_000, 'the file\'s tokens');
    const k = tokens.findIndex((t) => t.start <= at && at < t.end);
    const target = text.slice(tokens[k + 1].start, tokens[k + 1].end);
    const found = await vscode.commands.executeCommand<Found & { discovery: { averaged?: { positions: { line: number }[] } } }>(WHY, { uri: doc.uri.toString(), offset: at, target, alt: target === ',' ? ')' : ',', average: true });
    assert.ok(found, `a circuit for ${JSON.stringify(target)} after "("`);
    assert.deepEqual(found.discovery.averaged?.positions.map((p) => p.line), [12, 9]);
  });

  test('Save as circuit writes the circuit with its contrast, position and evidence under .circuit-inspector/, where it is loaded with its highlights; a broken file there is left out and the others stay', async function () {
    this.timeout(120_000);
    const found = await acceptWhyDefaults();
    const uri = await vscode.commands.executeCommand<vscode.Uri>('circuitInspector.saveFoundCircuit');
    assert.equal(path.dirname(uri.fsPath), SAVED);
    const file = JSON.parse(fs.readFileSync(uri.fsPath, 'utf8')) as { task: string; found: { position: { offset: number } }; firing?: { terms: unknown[] }; metrics: { logit_diff_recovered: number } };
    assert.equal(file.task, found!.file.task);
    assert.equal(file.found.position.offset, found!.discovery.position.offset);
    assert.ok(file.firing && file.firing.terms.length > 0, 'the saved circuit has a firing rule');
    assert.ok(file.metrics.logit_diff_recovered >= 0.8);
    // its highlights: the firing rule holds at the token it was found at
    const at = found!.discovery.position.offset;
    const spans = await waitFor(async () => {
      const s = (await state(doc.uri)).decorations?.spans.filter((x) => x.task === file.task) ?? [];
      return s.some((x) => x.start <= at && at < x.end) ? s : undefined;
    }, 30_000, 'the saved circuit\'s highlight at the token it was found at');
    console.log(`[discover] saved ${file.task}: ${spans.length} highlighted tokens in quotes_and_lists.py`);
    await screenshot('why-this-token-saved-highlights');
    // where it fires, the hover names it, with the link that asks "Why this token?" there
    const hover = await hoverText(doc.uri, doc.positionAt(at));
    assert.match(hover, /found at 5:\d+ for/);
    assert.match(hover, /command:circuitInspector\.whyThisToken\?/);
    // a broken file beside it, then a copy under another task: the watcher reads both, keeps the good ones
    fs.writeFileSync(path.join(SAVED, 'broken.json'), '{"task": "broken"');
    fs.writeFileSync(path.join(SAVED, 'copy.json'), JSON.stringify({ ...file, task: 'copied_circuit' }));
    const circuits = await waitFor(async () => {
      const c = (await state()).circuits ?? [];
      return c.includes('copied_circuit') ? c : undefined;
    }, 30_000, 'the copied circuit to load');
    assert.ok(circuits.includes(file.task) && !circuits.includes('broken'), `the saved circuits load, the broken one does not: ${circuits.join(', ')}`);
    const said = ((await state()).warnings ?? []).filter((w) => w.includes('broken.json'));
    assert.equal(said.length, 1, 'one message names the broken file');
    assert.match(said[0], /^\.circuit-inspector\/broken\.json is not a valid circuit file \(.*\), so it was left out\.$/);
    // a file naming a node the model does not have is left out with the node named
    const alien = { ...file, task: 'alien_circuit', nodes: [{ ...(file as unknown as { nodes: object[] }).nodes[0], id: '9.attn.q.0', layer: 9, site: 'attn.q', index: 0 }], edges: [], key_nodes: [], firing: undefined };
    fs.writeFileSync(path.join(SAVED, 'alien.json'), JSON.stringify(alien));
    const alienSaid = await waitFor(async () => ((await state()).warnings ?? []).find((w) => w.includes('alien.json')), 30_000, 'a message naming alien.json');
    assert.match(alienSaid, /9\.attn\.q\.0.*, so it was left out\.$/);
    assert.ok(((await state()).circuits ?? []).includes('copied_circuit'), 'the other saved circuits stay');
    fs.rmSync(path.join(SAVED, 'copy.json'));
    await waitFor(async () => !((await state()).circuits ?? []).includes('copied_circuit'), 30_000, 'a deleted file\'s circuit to go');
  });

  test('A label typed on a node shows in the panel, is kept by Save as circuit and JSON export, and a saved circuit\'s file takes a later label in place', async function () {
    this.timeout(120_000);
    const found = await acceptWhyDefaults();
    assert.ok(found);
    const nodeId = found.discovery.nodes[0].id;
    const labelOf = async () => ((await state()).panel as { circuit: { task: string; nodes: { id: string; label: string }[] } } | undefined)?.circuit.nodes.find((n) => n.id === nodeId)?.label;
    await vscode.commands.executeCommand('circuitInspector._testSetLabel', nodeId, 'closes the value string');
    await waitFor(async () => (await labelOf()) === 'closes the value string', 30_000, 'the panel to show the typed label');
    await screenshot('why-this-token-node-label');
    const uri = await vscode.commands.executeCommand<vscode.Uri>('circuitInspector.saveFoundCircuit');
    const nodesIn = (file: string) => (JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: { id: string; label: string }[] }).nodes;
    assert.equal(nodesIn(uri.fsPath).find((n) => n.id === nodeId)?.label, 'closes the value string', 'the saved file has the label');
    const exported = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ci-label-')), 'circuit.json');
    await vscode.commands.executeCommand('circuitInspector._testExport', 'json', exported);
    assert.equal(nodesIn(exported).find((n) => n.id === nodeId)?.label, 'closes the value string', 'the JSON export has the label');
    // the circuit is saved now: a new label rewrites its file, and the circuit loaded from the file shows it
    const before = JSON.parse(fs.readFileSync(uri.fsPath, 'utf8')) as { found: unknown; firing: unknown };
    await vscode.commands.executeCommand('circuitInspector._testSetLabel', nodeId, 'renamed');
    await waitFor(async () => nodesIn(uri.fsPath).find((n) => n.id === nodeId)?.label === 'renamed', 30_000, 'the saved file to take the new label');
    const after = JSON.parse(fs.readFileSync(uri.fsPath, 'utf8')) as { found: unknown; firing: unknown };
    assert.deepEqual([after.found, after.firing], [before.found, before.firing], 'the rest of the file stays');
    await waitFor(async () => (await labelOf()) === 'renamed', 30_000, 'the panel to show the label from the saved file');
  });
});
