// "Choose model…" with a bundle converted from OpenAI's released-model format (issue 18), in the real
// VS Code: the setup writes a clean-room fixture in their format and converts it with
// `python -m training.import_openai` (test/fixtures/make_openai_bundle.py, the repo's .venv) into a
// temporary model folder, once without and once with its circuit (--viz). The suite switches to them
// with the command and checks that the first analyses a Python file, that its hover and "Show circuit
// at cursor" say it has no circuits, that "Why this token?" finds one there and opens it in the panel;
// that the second's circuit gets highlights, hover and panel; that after a model change the panel shows
// the new model's circuit at the same place, or says the model has none there; that a broken bundle
// leaves the model in use loaded; and that the list (Enter on its first entry) switches back to the
// shipped model.
import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import * as vscode from 'vscode';
import { acceptDefaults, hoverText, openFixture, repoDir, screenshot, type TestState, testState, waitFor } from './helpers';

const CHOOSE = 'circuitInspector.chooseModel';
const CONVERTED = 'openai-fixture'; // the bundle name make_openai_bundle.py writes

type State = TestState & { circuits?: string[]; panelCleared?: string; panel?: { busy: boolean; cursor: unknown } };
type Chosen = { loaded: string } | { error: string } | undefined;

const state = async (uri?: vscode.Uri): Promise<State> => (await testState(uri)) as State;
const config = () => vscode.workspace.getConfiguration('circuitInspector');
const setting = (key: string, value: unknown) => config().update(key, value, vscode.ConfigurationTarget.Global);

/** The text of every hover at `pos`, joined. */
/** The converted model in use, whichever tests ran before (VSCODE_TEST_GREP may pick one alone). */
async function useConverted(): Promise<void> {
  if ((await state()).model !== CONVERTED) assert.deepEqual(await vscode.commands.executeCommand<Chosen>(CHOOSE, CONVERTED), { loaded: CONVERTED });
}

suite('Choose model', () => {
  let folder: string;
  let shipped: string;

  suiteSetup(async function () {
    this.timeout(300_000);
    shipped = (await waitFor(async () => (await state()).model, 60_000, 'the shipped model'))!;
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'ci-models-'));
    const python = path.join(repoDir, '.venv', 'bin', 'python');
    assert.ok(fs.existsSync(python), `${python} is missing: the suite converts its fixture with the repo's Python environment (training/requirements.lock)`);
    await promisify(execFile)(python, [path.join(repoDir, 'test', 'fixtures', 'make_openai_bundle.py'), '--out', folder], { cwd: repoDir, timeout: 240_000 });
    // beside it, a bundle whose manifest is cut short: listed, and refused when chosen
    fs.mkdirSync(path.join(folder, 'broken'));
    fs.writeFileSync(path.join(folder, 'broken', 'manifest.json'), '{"format": "circuit-inspector-bundle/1"');
    await setting('modelFolders', [folder]);
  });

  suiteTeardown(async function () {
    this.timeout(120_000);
    await setting('modelFolders', undefined);
    await setting('bundlePath', undefined);
    await waitFor(async () => (await state()).model === shipped, 60_000, 'the shipped model to be back');
    fs.rmSync(folder, { recursive: true, force: true });
  });

  test('the command switches to the converted bundle by name and remembers it; the model has no circuits', async function () {
    this.timeout(120_000);
    const chosen = await vscode.commands.executeCommand<Chosen>(CHOOSE, CONVERTED);
    assert.deepEqual(chosen, { loaded: CONVERTED });
    const s = await state();
    assert.equal(s.model, CONVERTED);
    assert.deepEqual(s.circuits, [], 'an imported model without --viz has no circuits');
    assert.equal(config().get('bundlePath'), path.join(folder, CONVERTED), 'a bundle from a model folder is remembered by its path');
  });

  test('it analyses a Python file; hover and "Show circuit at cursor" say it has no circuits, and "Why this token?" finds one and opens it in the panel', async function () {
    this.timeout(180_000);
    await useConverted();
    const editor = await openFixture('quotes_and_lists.py');
    const doc = editor.document;
    const s = await waitFor(async () => {
      const st = await state(doc.uri);
      return st.model === CONVERTED && st.tokens?.length && st.decorations ? st : undefined;
    }, 60_000, 'the converted model\'s analysis of quotes_and_lists.py');
    assert.ok(s.tokens!.length > 50, `${s.tokens!.length} tokens analysed`);
    assert.deepEqual(s.decorations!.spans, [], 'no circuits, no highlights');
    const offset = doc.getText().indexOf('print("value")') + 'print("val'.length;
    const hover = await hoverText(doc.uri, doc.positionAt(offset));
    assert.match(hover, new RegExp(`Model \`${CONVERTED}\` has no circuits, so nothing is highlighted`));
    assert.match(hover, /command:circuitInspector\.whyThisToken\?/, 'the hover offers "Why this token?"');
    editor.selection = new vscode.Selection(doc.positionAt(offset), doc.positionAt(offset));
    await vscode.commands.executeCommand('editor.action.showHover');
    await new Promise((r) => setTimeout(r, 1500)); // the hover asks the provider, then draws
    await screenshot('choose-model-converted-hover');
    assert.equal(await vscode.commands.executeCommand('circuitInspector.showCircuitAtCursor'), undefined, 'no circuit to show: the command says so');
    const found = await acceptDefaults<{ discovery: { nodes: { id: string }[] }; file: { task: string } }>('circuitInspector.whyThisToken');
    assert.ok(found && found.discovery.nodes.length > 0, 'discovery finds a circuit on the converted model');
    const panel = await waitFor(async () => {
      const p = (await state()).panel;
      return p?.circuit.task === found.file.task && p.readout ? p : undefined;
    }, 60_000, 'the found circuit in the panel');
    assert.deepEqual(panel.circuit.nodes.map((n) => n.id), found.discovery.nodes.map((n) => n.id));
    // the beside panel's export answers once its webview has drawn the graph
    const exported = path.join(folder, 'found.json');
    await vscode.commands.executeCommand('circuitInspector._testExport', 'json', exported, 'panel');
    const graph = JSON.parse(fs.readFileSync(exported, 'utf8')) as { nodes: { id: string }[] };
    for (const n of found.discovery.nodes) assert.ok(graph.nodes.some((g) => g.id === n.id), `the panel draws ${n.id}`);
    await vscode.commands.executeCommand('editor.action.hideHover');
    await new Promise((r) => setTimeout(r, 1500)); // the webview paints after it answers
    await screenshot('choose-model-converted-panel');
  });

  test('the converted bundle with a circuit (--viz): highlights exactly where its rule fires, its hover where its task applies, and its panel', async function () {
    this.timeout(180_000);
    const dir = path.join(folder, `${CONVERTED}-viz`);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { circuits: string[] };
    const circuit = JSON.parse(fs.readFileSync(path.join(dir, manifest.circuits[0]), 'utf8')) as { task: string; nodes: unknown[] };
    const task = circuit.task;
    assert.deepEqual(await vscode.commands.executeCommand<Chosen>(CHOOSE, `${CONVERTED}-viz`), { loaded: `${CONVERTED}-viz` });
    // the fixture's circuit (random weights) fails the paper task's evidence thresholds, so its highlights
    // start off and its hover warns that it does not carry its task: they are turned on here to check the rule
    await setting('highlights.circuits', { [task]: true });
    try {
      // scope_mixed.py: the fixture's circuit (random weights) fires at one of its list closes
      const editor = await openFixture('scope_mixed.py');
      const doc = editor.document;
      const s = await waitFor(async () => {
        const st = await state(doc.uri);
        return st.model === `${CONVERTED}-viz` && st.tokens?.length && st.decorations ? st : undefined;
      }, 60_000, 'the analysis with the converted circuit');
      const firing = s.tokens!.filter((t) => t.circuits[task].fires).map((t) => t.start);
      assert.ok(firing.length > 0, `the converted circuit fires somewhere in scope_mixed.py (if the fixture writer changed, pick another file)`);
      editor.revealRange(new vscode.Range(doc.positionAt(firing[0]), doc.positionAt(firing[0])), vscode.TextEditorRevealType.InCenter);
      assert.deepEqual(s.decorations!.spans.filter((x) => x.task === task).map((x) => x.start).sort((a, b) => a - b), firing, 'a highlight on every token where the rule fires, and nowhere else');
      const applies = s.tokens!.find((t) => t.circuits[task].applies);
      assert.ok(applies, `the task ${task} applies somewhere in scope_mixed.py`);
      const hover = await hoverText(doc.uri, doc.positionAt(applies.start));
      assert.ok(hover.includes(encodeURIComponent(`"task":"${task}"`)), `the hover links to the ${task} circuit: ${hover}`);
      const shown = await vscode.commands.executeCommand<{ circuit: { task: string; nodes: unknown[] } }>('circuitInspector.showCircuitAtCursor', { uri: doc.uri.toString(), offset: applies.start });
      assert.equal(shown?.circuit.task, task, 'Show circuit at cursor picks the converted circuit where its task applies');
      assert.equal(shown.circuit.nodes.length, circuit.nodes.length);
      await vscode.commands.executeCommand('circuitInspector._testExport', 'json', path.join(folder, 'viz.json'), 'panel');
      await new Promise((r) => setTimeout(r, 1500)); // the webview paints after it answers
      await screenshot('choose-model-converted-viz-panel');
    } finally {
      await setting('highlights.circuits', undefined);
    }
  });

  test('after a model change the panel shows the new model\'s circuit at the same place, or says that the model changed and has none there', async function () {
    this.timeout(240_000);
    const models = path.join(repoDir, 'models');
    const first = fs.readdirSync(models).sort().find((d) => fs.existsSync(path.join(models, d, 'manifest.json')))!;
    // another bundle with the shipped model's circuits: a copy of it, its files linked
    const copy = path.join(folder, 'shipped-copy');
    fs.mkdirSync(copy, { recursive: true });
    for (const f of fs.readdirSync(path.join(models, first))) if (!fs.existsSync(path.join(copy, f))) fs.symlinkSync(path.join(models, first, f), path.join(copy, f));
    assert.ok(await vscode.commands.executeCommand<Chosen>(CHOOSE, first));
    const doc = (await openFixture('quotes_and_lists.py')).document;
    const offset = doc.getText().indexOf('print("value")') + 'print("val'.length;
    const shown = await vscode.commands.executeCommand<{ circuit: { task: string; nodes: { id: string }[] } }>('circuitInspector.showCircuitAtCursor', { uri: doc.uri.toString(), offset });
    assert.ok(shown, 'the shipped model shows a circuit inside a string');
    const task = shown.circuit.task;
    const ablated = await vscode.commands.executeCommand<{ ablated: string[] }>('circuitInspector._testSetAblation', [shown.circuit.nodes[0].id]);
    assert.deepEqual(ablated?.ablated, [shown.circuit.nodes[0].id]);
    const cursor = (await state()).panel!.cursor;

    assert.deepEqual(await vscode.commands.executeCommand<Chosen>(CHOOSE, 'shipped-copy'), { loaded: shipped });
    // measured again on the new model: the old model's ablation is gone, the place is the same
    const again = await waitFor(async () => {
      const p = (await state()).panel;
      return p?.circuit.task === task && p.ablated.length === 0 && p.readout && !p.busy ? p : undefined;
    }, 60_000, 'the new model\'s circuit at the same place');
    assert.deepEqual(again.cursor, cursor);

    assert.deepEqual(await vscode.commands.executeCommand<Chosen>(CHOOSE, CONVERTED), { loaded: CONVERTED });
    const cleared = await waitFor(async () => {
      const s = await state();
      return s.panel === undefined && s.panelCleared ? s.panelCleared : undefined;
    }, 60_000, 'the panel to drop the old model\'s circuit');
    assert.match(cleared, new RegExp(`^The model changed to ${CONVERTED}, which has no circuit whose task applies here\\.`));
    await new Promise((r) => setTimeout(r, 1500)); // the webview paints after the message
    await screenshot('choose-model-panel-cleared');
  });

  test('a broken bundle gives one sentence naming its file, and the model in use stays loaded and chosen', async function () {
    this.timeout(120_000);
    await useConverted();
    const chosen = await vscode.commands.executeCommand<Chosen>(CHOOSE, 'broken');
    assert.ok(chosen && 'error' in chosen, 'the command reports the failure');
    assert.match(chosen.error, /manifest\.json is not valid JSON/);
    assert.ok(chosen.error.includes(path.join(folder, 'broken')) && !chosen.error.includes('\n'), 'one line naming the bundle');
    assert.equal((await state()).model, CONVERTED, 'the model in use stays');
    assert.equal(config().get('bundlePath'), path.join(folder, CONVERTED), 'and stays the chosen one');
    const unknown = await vscode.commands.executeCommand<Chosen>(CHOOSE, 'csp_nowhere');
    assert.ok(unknown && 'error' in unknown);
    const searched = `no model bundle named "csp_nowhere" in ${path.join(repoDir, 'models')}, ${folder}, `;
    assert.ok(unknown.error.startsWith(searched) && unknown.error.endsWith('models.'), `the folders searched, the extension's storage last: ${unknown.error}`);
  });

  test('bundlePath naming no bundle says where it looked; then the list (shipped bundles first) and Enter on its first entry load the shipped model, remembered by name', async function () {
    this.timeout(120_000);
    await setting('bundlePath', 'csp_nowhere');
    const error = await waitFor(async () => (await state()).error, 60_000, 'the unknown name\'s error');
    assert.ok(error.startsWith(`No model bundle named "csp_nowhere" in ${path.join(repoDir, 'models')}, ${folder}, `) && !error.includes('\n'), error);
    const chosen = await acceptDefaults<Chosen>(CHOOSE, async () => {
      await new Promise((r) => setTimeout(r, 600)); // the list is drawn
      await screenshot('choose-model-list');
    });
    assert.deepEqual(chosen, { loaded: shipped });
    assert.equal((await state()).model, shipped);
    const models = path.join(repoDir, 'models');
    const first = fs.readdirSync(models).sort().find((d) => fs.existsSync(path.join(models, d, 'manifest.json')));
    assert.equal(config().get('bundlePath'), first, 'a shipped bundle is remembered by its folder\'s name');
  });
});
