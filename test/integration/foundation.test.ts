// Foundation: the extension loads in a real VS Code, its commands exist, and the native addon
// onnxruntime-node works inside the extension host. These do not need the trained model bundle.
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import { EXTENSION_ID, fixturesDir, openFixture, screenshot, waitFor } from './helpers';

suite('Foundation', () => {
  test('the extension activates when a Python file from the fixture workspace is opened', async () => {
    const editor = await openFixture('quotes_and_lists.py');
    assert.strictEqual(editor.document.languageId, 'python');
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is loaded as the development extension`);
    await waitFor(() => ext.isActive, 30_000, 'activation');
    await screenshot('foundation-activated');
  });

  test('circuitInspector.showCircuitAtCursor and every other contributed command are registered', async () => {
    const all = new Set(await vscode.commands.getCommands(true));
    assert.ok(all.has('circuitInspector.showCircuitAtCursor'));
    const contributed: { command: string }[] = vscode.extensions.getExtension(EXTENSION_ID)?.packageJSON.contributes.commands ?? [];
    const missing = contributed.map((c) => c.command).filter((c) => !all.has(c));
    assert.deepStrictEqual(missing, [], 'contributed commands without a handler');
  });

  test('onnxruntime-node runs an InferenceSession in the extension host', async () => {
    // Loaded the way the extension loads it (a plain require from node_modules, external to the bundle).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
    const session = await ort.InferenceSession.create(path.join(fixturesDir, 'add.onnx'));
    try {
      const A = new ort.Tensor('float32', Float32Array.from([1, 2, 3]), [1, 3]);
      const B = new ort.Tensor('float32', Float32Array.from([10, 20, 30]), [1, 3]);
      const { C } = await session.run({ A, B });
      assert.deepStrictEqual(Array.from(C.data as Float32Array), [11, 22, 33]);
    } finally {
      await session.release();
    }
  });

  // The driver's failure paths, shown on demand (see scripts/run-vscode-tests.js): both must turn the run red.
  if (process.env.CIRCUIT_TEST_CRASH === '1') {
    test('crash: the extension host dies mid-run', () => {
      process.kill(process.pid, 'SIGSEGV');
    });
  }
  if (process.env.CIRCUIT_TEST_UNHANDLED === '1') {
    test('unhandled rejection: a promise nobody awaits rejects', async () => {
      void Promise.reject(new Error('circuit-inspector deliberate unhandled rejection'));
      await new Promise((r) => setTimeout(r, 2000)); // the host reports it after 1 s
    });
  }
});
