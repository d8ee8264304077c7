import * as assert from 'assert';
import * as vscode from 'vscode';
import { EXTENSION_ID, openFixture, screenshot, testState, waitFor } from './helpers';

suite('Foundation', () => {
  test('the extension activates on a Python file and loads the model with onnxruntime-node', async () => {
    await openFixture('quotes_and_lists.py');
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, 'extension is installed');
    await waitFor(() => ext.isActive, 30_000, 'activation');
    const state = await waitFor(async () => {
      const s = await testState();
      return s.model || s.error ? s : undefined;
    }, 60_000, 'model load');
    assert.ok(state.model, `model loaded (error: ${state.error ?? 'none'})`);
    assert.ok(state.provider === 'cpu' || state.provider === 'cuda');
  });

  test('the product commands are registered', async () => {
    const all = await vscode.commands.getCommands(true);
    for (const c of ['circuitInspector.showCircuitAtCursor', 'circuitInspector.openCircuitBeside', 'circuitInspector.toggleHighlights', 'circuitInspector.resetAblations', 'circuitInspector.reloadModel']) {
      assert.ok(all.includes(c), `${c} registered`);
    }
    await screenshot('foundation');
  });
});
