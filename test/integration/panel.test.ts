// "Show circuit at cursor": where the circuit opens, and settings read live (issue 17).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { openFixture, repoDir, screenshot, type TestState, testState, waitFor } from './helpers';

type Panel = NonNullable<TestState['panel']> & { mode?: 'mean' | 'zero'; busy?: boolean };
type Readout = { readout: { after: { logitDiff: number } | null } };

suite('Show circuit at cursor: placement and live settings', () => {
  test('opens the circuit beside the editor, and changing circuitInspector.ablationMode in settings changes the next ablation without a reload', async () => {
    // no circuit tab open yet (an earlier test may have opened one): "Show" has to open it itself
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const doc = (await openFixture('quotes_and_lists.py')).document;
    // the command's own arguments (a document and an offset) instead of the cursor: inside "value"
    const offset = doc.getText().indexOf('print("value")') + 'print("val'.length;
    await vscode.commands.executeCommand('circuitInspector.showCircuitAtCursor', { uri: doc.uri.toString(), offset });
    await waitFor(async () => (await testState(doc.uri)).panel, 30_000, 'panel model');
    // the side bar is narrower than the graph needs: the circuit opens in a tab beside the editor
    const beside = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('circuitInspector.circuitPanel'));
    await waitFor(() => beside(), 15_000, 'the circuit panel beside the editor');

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
