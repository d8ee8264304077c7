// "Show circuit at cursor": where the circuit opens, and settings read live (issue 17).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { GRAPH_NEEDS_PX } from '../../src/extension/panel/circuitPanel';
import { openFixture, repoDir, screenshot, type TestState, testState, waitFor } from './helpers';

type Panel = NonNullable<TestState['panel']> & { mode?: 'mean' | 'zero'; busy?: boolean };
type Readout = { readout: { after: { logitDiff: number } | null } };
type Placement = { viewWidth?: number; opensIn: 'beside' | 'view'; onScreen: boolean };

const placement = async (): Promise<Placement> => ((await testState()) as TestState & { placement: Placement }).placement;
/** The circuit's tab beside the editor, if one is open. */
const besideTab = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('circuitInspector.circuitPanel'));

/** "Show circuit at cursor" with the command's own arguments (a document and an offset): inside "value". */
async function showInString(doc: vscode.TextDocument): Promise<void> {
  const offset = doc.getText().indexOf('print("value")') + 'print("val'.length;
  await vscode.commands.executeCommand('circuitInspector.showCircuitAtCursor', { uri: doc.uri.toString(), offset });
}

/** Waits until the circuit webview `kind` has drawn the graph (an export from it answers once it has), and checks every node is in it. */
async function drawnIn(kind: 'view' | 'panel'): Promise<void> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ci-placement-')), 'graph.json');
  await vscode.commands.executeCommand('circuitInspector._testExport', 'json', file, kind);
  const nodes = (JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: { id: string }[] }).nodes;
  fs.rmSync(path.dirname(file), { recursive: true });
  const panel = (await testState()).panel;
  assert.ok(panel && nodes.length >= panel.circuit.nodes.length, `the ${kind} draws the circuit: ${nodes.length} nodes`);
}

/**
 * Resize the side bar one step at a time, as a user would with VS Code's own command, until its view
 * reports a width that passes `done`. The command resizes the focused part, and a webview view's
 * focus does not count as the side bar's, so it narrows or widens the editor and the side bar takes
 * the difference.
 */
async function resizeSideBar(wider: boolean, done: (width: number) => boolean): Promise<void> {
  for (let steps = 1; steps <= 20; steps++) {
    await vscode.commands.executeCommand('workbench.action.focusActiveEditorGroup');
    await vscode.commands.executeCommand(wider ? 'workbench.action.decreaseViewWidth' : 'workbench.action.increaseViewWidth');
    await new Promise((r) => setTimeout(r, 400)); // the webview reports 150 ms after its size settles
    if (done((await placement()).viewWidth ?? 0)) return;
  }
  throw new Error(`the side bar did not reach the width asked for: ${(await placement()).viewWidth} px`);
}

suite('Show circuit at cursor: placement and live settings', () => {
  test('the side bar measured narrower than the graph needs: the circuit opens beside the editor; widened past it, in the side bar; closing the beside panel while the view is on screen is remembered as a choice', async () => {
    await testState(); // activates the extension, whose test commands follow
    await vscode.commands.executeCommand('circuitInspector._testForgetPlacement', true);
    await vscode.commands.executeCommand('workbench.action.closeSidebar');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const doc = (await openFixture('quotes_and_lists.py')).document;
    // the side-bar view, opened as a user would: its webview measures itself and reports its width
    await vscode.commands.executeCommand('circuitInspector.circuitView.focus');
    const narrow = await waitFor(async () => (await placement()).viewWidth, 30_000, 'the side-bar view to report its width');
    console.log(`[panel] the side-bar view measured ${narrow} px; the graph needs ${GRAPH_NEEDS_PX} px`);
    assert.ok(narrow > 100 && narrow < GRAPH_NEEDS_PX, `VS Code's default side bar is narrower than the graph: ${narrow} px`);
    assert.equal((await placement()).opensIn, 'beside');
    await showInString(doc);
    await waitFor(async () => (await testState(doc.uri)).panel, 30_000, 'panel model');
    const tab = await waitFor(() => besideTab(), 15_000, 'the circuit panel beside the editor');
    await drawnIn('panel');
    await screenshot('placement-narrow-side-bar');

    // the user closes the beside panel while the circuit is in the side bar: that is where they want it
    await vscode.window.tabGroups.close(tab);
    await waitFor(async () => ((await placement()).opensIn === 'view' ? true : undefined), 10_000, 'the choice of the side-bar view');
    await vscode.commands.executeCommand('circuitInspector._testForgetPlacement');
    assert.equal((await placement()).opensIn, 'beside', 'no choice: the measured width decides');

    // widen the side bar with VS Code's own command until the view measures at least what the graph needs
    await resizeSideBar(true, (w) => w >= GRAPH_NEEDS_PX);
    try {
      assert.equal((await placement()).opensIn, 'view', `a side bar of ${(await placement()).viewWidth} px has room`);
      await vscode.commands.executeCommand('workbench.action.closeSidebar');
      await waitFor(async () => ((await placement()).onScreen ? undefined : true), 10_000, 'the circuit off screen');
      await showInString(doc);
      await waitFor(async () => ((await placement()).onScreen ? true : undefined), 15_000, 'the circuit on screen');
      assert.equal(besideTab(), undefined, 'no panel beside the editor: the circuit is in the wide side bar');
      await drawnIn('view');
      assert.equal(besideTab(), undefined);
      await screenshot('placement-wide-side-bar');
    } finally {
      await resizeSideBar(false, (w) => w < GRAPH_NEEDS_PX).catch(() => undefined);
      await vscode.commands.executeCommand('circuitInspector._testForgetPlacement');
      await vscode.commands.executeCommand('workbench.action.closeSidebar');
    }
  });

  test('changing circuitInspector.ablationMode in settings changes the ablation in force and the next one, without a reload', async () => {
    const doc = (await openFixture('quotes_and_lists.py')).document;
    await showInString(doc);
    await waitFor(async () => (await testState(doc.uri)).panel, 30_000, 'panel model');
    const root = path.join(repoDir, 'models');
    const circuit = JSON.parse(fs.readFileSync(path.join(root, fs.readdirSync(root).sort()[0], 'circuits', 'single_double_quote.json'), 'utf8')) as { key_nodes: string[] };
    const config = vscode.workspace.getConfiguration('circuitInspector');
    const panel = async (): Promise<Panel> => (await testState(doc.uri)).panel as Panel;
    try {
      // the mode in force comes from the setting (default mean); an ablation without a mode uses it
      const mean = await vscode.commands.executeCommand<Readout>('circuitInspector._testSetAblation', circuit.key_nodes);
      assert.equal((await panel()).mode, 'mean');
      const zero = await vscode.commands.executeCommand<Readout>('circuitInspector._testSetAblation', circuit.key_nodes, 'zero');
      assert.ok(mean.readout.after && zero.readout.after);
      assert.notEqual(mean.readout.after.logitDiff, zero.readout.after.logitDiff, 'mean and zero ablation of the key nodes differ');
      await vscode.commands.executeCommand<Readout>('circuitInspector._testSetAblation', circuit.key_nodes, 'mean');

      // change the setting: the panel (and the ablation in force) switch to zero at once
      await config.update('ablationMode', 'zero', vscode.ConfigurationTarget.Global);
      const switched = await waitFor(async () => {
        const p = await panel();
        return p.mode === 'zero' && !p.busy ? p : undefined;
      }, 30_000, 'the panel in zero mode after the settings change');
      assert.ok(switched.readout?.after);
      assert.ok(Math.abs(switched.readout.after.logitDiff - zero.readout.after.logitDiff) < 1e-4, 'the ablation in force is re-run as a zero ablation');
      // and the next ablation, asked for without a mode, is a zero ablation
      await vscode.commands.executeCommand('circuitInspector.resetAblations');
      const next = await vscode.commands.executeCommand<Readout>('circuitInspector._testSetAblation', circuit.key_nodes);
      assert.ok(next.readout.after);
      assert.ok(Math.abs(next.readout.after.logitDiff - zero.readout.after.logitDiff) < 1e-4, `next ablation is zero: ${next.readout.after.logitDiff} vs ${zero.readout.after.logitDiff}`);
      await screenshot('panel-zero-mode');
    } finally {
      await config.update('ablationMode', undefined, vscode.ConfigurationTarget.Global);
      await waitFor(async () => ((await panel()).mode === 'mean' ? true : undefined), 30_000, 'mean mode restored');
      await vscode.commands.executeCommand('circuitInspector.resetAblations');
    }
  });
});
