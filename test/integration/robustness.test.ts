// Robustness inside a real VS Code: odd and huge inputs, edits faster than the model, editors
// closed or files deleted under an analysis, broken bundles, CUDA asked for where there is none,
// and a long session of analyses and ablations whose memory must stay flat.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import * as vscode from 'vscode';
import { MAX_PARTIAL_CHARS } from '../../src/extension/documents';
import { freshModel, openFixture, repoDir, type TestState, testState, waitFor, workspaceDir } from './helpers';

const QUOTE = 'single_double_quote';
const FIXTURE = fs.readFileSync(path.join(workspaceDir, 'quotes_and_lists.py'), 'utf8');
const modelsDir = path.join(__dirname, '..', '..', '..', 'models');
const shipped = path.join(modelsDir, fs.readdirSync(modelsDir).sort()[0]);

interface State extends TestState {
  notice?: string;
  /** The document version the shown results are for, and the [start, end) analysed (null: all). */
  analyzed?: { version: number; partial: { start: number; end: number } | null };
  inFlight: number;
}

const state = (uri?: vscode.Uri) => testState(uri) as Promise<State>;

/** The state once `doc`'s current version has been analysed and nothing is running. */
function analysed(doc: vscode.TextDocument, timeoutMs = 60_000): Promise<State> {
  return waitFor(async () => {
    const s = await state(doc.uri);
    return s.analyzed?.version === doc.version && s.inFlight === 0 && s.decorations ? s : undefined;
  }, timeoutMs, `analysis of ${path.basename(doc.uri.path)} v${doc.version}`);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ci-robust-'));

async function show(file: string, content: string | Buffer): Promise<vscode.TextEditor> {
  fs.writeFileSync(path.join(tmp, file), content);
  return vscode.window.showTextDocument(await vscode.workspace.openTextDocument(path.join(tmp, file)));
}

async function untitled(content: string): Promise<vscode.TextEditor> {
  return vscode.window.showTextDocument(await vscode.workspace.openTextDocument({ language: 'python', content }));
}

async function closeAll(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

async function setting(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('circuitInspector').update(key, value, vscode.ConfigurationTarget.Global);
}

/** Spans shown with a margin from the firing threshold (tokens right at it may flip with float noise). */
function clearSpans(s: State): string[] {
  return (s.decorations?.spans ?? []).filter((x) => Math.abs(x.strength - 1) > 1e-3).map((x) => `${x.start}-${x.end}:${x.task}:${x.cls}`);
}

/** Heap and RSS in MB after a full collection (gc made callable for this measurement). */
function memory(): { heapMB: number; rssMB: number } {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
  const m = process.memoryUsage();
  return { heapMB: m.heapUsed / 2 ** 20, rssMB: m.rss / 2 ** 20 };
}

/** A copy of the shipped bundle, broken by `edit`. */
function copyOfShipped(edit: (dir: string) => void): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'bundle-'));
  fs.cpSync(shipped, dir, { recursive: true });
  edit(dir);
  return dir;
}

type Manifest = { model: { vocab_size: number }; nodes: { count: number; layout: { name: string; length: number }[]; means: string }; circuits: string[] };

function editManifest(dir: string, edit: (m: Manifest) => void): void {
  const file = path.join(dir, 'manifest.json');
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  edit(m);
  fs.writeFileSync(file, JSON.stringify(m));
}

/** Ways a bundle breaks: what is done to a copy of the shipped one, and the message the user must get. */
const BROKEN_BUNDLES: [string, (dir: string) => void, RegExp][] = [
  ['missing', (d) => fs.rmSync(d, { recursive: true }), /the folder does not exist\. Set circuitInspector\.bundlePath/],
  ['truncated ONNX', (d) => fs.truncateSync(path.join(d, 'model.onnx'), fs.statSync(path.join(d, 'model.onnx')).size >> 1), /model\.onnx could not be loaded by onnxruntime .*re-export the bundle/],
  [
    'manifest not matching the graph',
    (d) =>
      editManifest(d, (m) => {
        const last = m.nodes.layout[m.nodes.layout.length - 1];
        last.length -= 1;
        m.nodes.count -= 1;
        // a circuit naming the dropped node would be refused first, by the circuit check
        m.circuits = m.circuits.filter((c) => !fs.readFileSync(path.join(d, c), 'utf8').includes(`"${last.name}.${last.length}"`));
        fs.truncateSync(path.join(d, m.nodes.means), 4 * m.nodes.count);
      }),
    /the ONNX graph does not run with the node layout and model in manifest\.json .*re-export the bundle/,
  ],
  [
    'circuit naming a node that does not exist',
    (d) => {
      // the node renamed everywhere (edges, firing rule, key nodes): only the layout can object
      const file = path.join(d, 'circuits', `${QUOTE}.json`);
      const c = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: { id: string }[] };
      const renamed = JSON.parse(JSON.stringify(c).split(`"${c.nodes[0].id}"`).join('"9.mlp.post_act.3"')) as { nodes: Record<string, unknown>[] };
      Object.assign(renamed.nodes[0], { layer: 9, site: 'mlp.post_act', index: 3 });
      fs.writeFileSync(file, JSON.stringify(renamed));
    },
    /names node 9\.mlp\.post_act\.3, which is not in the model's node layout\. Re-export the bundle or fix the circuit file\./,
  ],
  ['wrong tokenizer', (d) => editManifest(d, (m) => (m.model.vocab_size = 4096)), /tokenizer\.json has 2048 tokens but the model has 4096, so it is the wrong tokenizer/],
];

suite('Robustness', () => {
  suiteSetup(async () => {
    await openFixture('quotes_and_lists.py');
    await waitFor(async () => (await state()).model, 60_000, 'model');
  });
  teardown(closeAll);
  suiteTeardown(async () => {
    await setting('debounceMs', undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('an empty file, non-UTF-8 bytes, NUL characters, an untitled buffer and a non-Python file', async () => {
    const empty = await show('empty.py', '');
    const e = await analysed(empty.document);
    assert.deepStrictEqual(e.decorations?.spans, [], 'nothing to highlight, and no error');

    // Latin-1 bytes and a byte that is never UTF-8: VS Code decodes them to U+FFFD or guesses
    const latin = await show('latin1.py', Buffer.concat([Buffer.from('s = "caf'), Buffer.from([0xe9, 0xff, 0xfe]), Buffer.from('"\nt = \'x\'\n')]));
    const l = await analysed(latin.document);
    const length = latin.document.getText().length;
    assert.ok(l.decorations!.spans.every((x) => x.start >= 0 && x.end <= length && x.start < x.end), 'spans inside the text');

    // NUL characters (a binary file opened as text): skipped, with a notice, nothing shown
    const nul = await untitled('x = "a\u0000b"\n' + FIXTURE);
    const other = await untitled(FIXTURE); // analysed after the NUL buffer was scheduled
    const o = await analysed(other.document);
    assert.ok(o.decorations!.spans.length > 0, 'an untitled Python buffer is analysed and highlighted');
    const n = await state(nul.document.uri);
    assert.equal(n.analyzed, undefined, 'the NUL buffer is not analysed');
    assert.equal(n.decorations, undefined);

    // a real binary file: VS Code either refuses it as text or the extension skips it
    fs.writeFileSync(path.join(tmp, 'blob.py'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0x0d, 0xff, 0x00, 0x22]));
    await vscode.workspace.openTextDocument(path.join(tmp, 'blob.py')).then(
      async (doc) => assert.equal((await state(doc.uri)).analyzed, undefined),
      (err: Error) => assert.match(err.message, /binary/i),
    );

    const text = await show('notes.txt', FIXTURE);
    assert.equal(text.document.languageId, 'plaintext');
    await analysed((await untitled(FIXTURE)).document); // something opened later is done by now
    const t = await state(text.document.uri);
    assert.equal(t.analyzed, undefined, 'a non-Python file is left alone');
    assert.equal(t.decorations, undefined);
  });

  test('a 10 MB Python file and a 1 MB single line: only a bounded part around the view is analysed', async () => {
    for (const [file, content] of [
      ['big.py', FIXTURE.repeat(Math.ceil(10e6 / FIXTURE.length))],
      ['line.py', `x = [${'"ab", \'cd\', '.repeat(1e6 / 12)}]`],
    ] as const) {
      const editor = await show(file, content);
      const s = await analysed(editor.document, 120_000);
      assert.ok(s.analyzed?.partial, `${file}: only part of it is analysed`);
      const { start, end } = s.analyzed.partial;
      assert.ok(end > start && end - start <= MAX_PARTIAL_CHARS, `${file}: [${start}, ${end}) is at most ${MAX_PARTIAL_CHARS} characters`);
      assert.ok(s.decorations!.spans.length > 0, `${file}: the analysed part is highlighted`);
      assert.ok(s.decorations!.spans.every((x) => x.start >= start && x.end <= end), `${file}: highlights only where it analysed`);
      console.log(`[robustness] ${file}: ${(content.length / 1e6).toFixed(1)} M characters, analysed [${start}, ${end})`);
      await closeAll();
    }
  });

  test('a file deleted while it is analysed stays usable, and so does the extension', async () => {
    const editor = await show('deleted.py', FIXTURE.repeat(20));
    fs.rmSync(path.join(tmp, 'deleted.py'));
    await analysed(editor.document);
    assert.ok(await editor.edit((b) => b.insert(new vscode.Position(0, 0), 'x = "still here"\n')), 'the buffer is still editable');
    await analysed(editor.document); // the edit is analysed too
  });

  test('an editor closed in the middle of its analysis: the analysis ends without error and the next file works', async () => {
    // 30 KB of lines not seen before (the window cache would answer repeated ones at once): seconds of analysis
    const lines = Array.from({ length: 1200 }, (_, i) => `item_${i} = ${i % 2 ? `"closed ${i}"` : `['c${i}', ${i}]`}`);
    const editor = await show('closed.py', lines.join('\n'));
    const uri = editor.document.uri;
    assert.equal((await state(uri)).analyzed, undefined, 'still analysing');
    await closeAll();
    await waitFor(async () => (await state()).inFlight === 0, 60_000, 'the analysis to end');
    assert.equal((await state()).error, undefined);
    const next = await untitled(FIXTURE);
    assert.ok((await analysed(next.document)).decorations!.spans.length > 0);
  });

  test('10 s of typing at 20 edits/s: the queue stays bounded and the final highlights are those of the final text', async () => {
    await setting('debounceMs', 0); // every edit asks for an analysis at once: the hardest case for the queue
    const editor = await untitled(Array.from({ length: 400 }, (_, i) => `typed_${i} = ${i % 2 ? `"t${i}"` : `['t', ${i}]`}`).join('\n') + '\n');
    await analysed(editor.document);
    let maxInFlight = 0;
    let typing = true;
    const poll = (async () => {
      for (; typing; await new Promise((r) => setTimeout(r, 10))) maxInFlight = Math.max(maxInFlight, (await state()).inFlight);
    })();
    const started = Date.now();
    for (let i = 0; i < 200; i++) {
      const line = editor.document.lineCount - 1;
      // type a line of code, string by string: quotes open and close as the text grows
      const ch = 'v = "x" + \'y\'\n'[i % 14];
      await editor.edit((b) => b.insert(new vscode.Position(line, editor.document.lineAt(line).text.length), ch));
      await new Promise((r) => setTimeout(r, Math.max(0, started + 50 * (i + 1) - Date.now())));
    }
    typing = false;
    await poll;
    const typed = await analysed(editor.document);
    console.log(`[robustness] typing: 200 edits in ${((Date.now() - started) / 1000).toFixed(1)} s, at most ${maxInFlight} analyses in flight`);
    // a superseded analysis stops at its next model batch, so only a few can overlap; a queue that grew with the edits would pass 8 by far
    assert.ok(maxInFlight <= 8, `analyses in flight stay bounded, saw ${maxInFlight}`);
    // the same text analysed from scratch in a fresh buffer gives the same highlights
    const fresh = await analysed((await untitled(editor.document.getText())).document);
    assert.deepStrictEqual(clearSpans(typed), clearSpans(fresh), 'no stale highlights');
    await setting('debounceMs', undefined);
  });

  test('CUDA asked for on a machine without it: the CPU, with one notice, and highlights as usual', async () => {
    await setting('executionProvider', 'cuda');
    await vscode.commands.executeCommand('circuitInspector.reloadModel'); // returns once the loads queued so far are done
    try {
      const s = await waitFor(async () => {
        const x = await state();
        return x.model && (x.provider === 'cuda' || x.notice) ? x : undefined;
      }, 60_000, 'the model on CUDA or on the CPU with a notice');
      if (s.provider !== 'cuda') {
        assert.equal(s.provider, 'cpu');
        assert.match(s.notice ?? '', /^CUDA is not available \(.+\); running on the CPU\.$/);
      }
      assert.equal(s.error, undefined);
      const editor = await untitled(FIXTURE);
      assert.ok((await analysed(editor.document)).decorations!.spans.length > 0);
    } finally {
      await setting('executionProvider', undefined);
      await waitFor(async () => (await state()).model, 60_000, 'model reload');
    }
  });

  test('the model reloaded while a long file is being analysed: the run on the old model ends without an error, and the new model paints the file', async () => {
    await setting('maxFileSizeKB', 2048);
    try {
      // a fresh model first, so that nothing of the file is cached (other suites analyse the same lines)
      await freshModel();
      // 15,000 lines: its analysis outlasts the moment the reload below begins
      const editor = await show('reloaded-mid-run.py', fs.readFileSync(path.join(repoDir, 'bench', 'stdlib-5000.py'), 'utf8').repeat(3));
      await waitFor(async () => (await testState()).inFlight, 60_000, 'the analysis of the long file running');
      const errorsBefore = (await testState()).errors?.length ?? 0;
      await vscode.commands.executeCommand('circuitInspector.reloadModel');
      await waitFor(async () => {
        const s = await testState();
        return s.model && s.inFlight === 0;
      }, 120_000, 'the reloaded model idle');
      assert.deepStrictEqual((await testState()).errors?.slice(errorsBefore), [], 'no error logged by the reload');
      assert.ok((await analysed(editor.document, 120_000)).decorations!.spans.length > 0, 'the new model paints the file');
    } finally {
      await setting('maxFileSizeKB', undefined);
    }
  });

  test('broken bundles: one sentence naming the file and the fix each, and the editor keeps working', async () => {
    const editor = await openFixture('quotes_and_lists.py');
    try {
      for (const [name, edit, message] of BROKEN_BUNDLES) {
        const dir = copyOfShipped(edit);
        await setting('bundlePath', dir);
        const error = await waitFor(async () => {
          const e = (await state()).error;
          return e?.includes(dir) ? e : undefined;
        }, 60_000, `the ${name} error`);
        assert.match(error, message, name);
        assert.ok(!error.includes('\n'), `${name}: one line`);
        // the editor and the commands still work, without a model
        assert.ok(await editor.edit((b) => b.insert(new vscode.Position(0, 0), '# still editable\n')), `${name}: editable`);
        await vscode.commands.executeCommand('undo');
        const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', editor.document.uri, new vscode.Position(2, 12));
        assert.ok(Array.isArray(hovers), `${name}: hover answers`);
        assert.equal(await vscode.commands.executeCommand('circuitInspector.showCircuitAtCursor'), undefined, `${name}: the command says there is no model`);
      }
    } finally {
      await setting('bundlePath', undefined);
      await waitFor(async () => (await state()).model, 60_000, 'model reload');
    }
  });

  test('200 analyses and 200 ablations in a row keep the extension host\'s memory flat', async () => {
    await setting('debounceMs', 0);
    const editor = await untitled(FIXTURE);
    const doc = editor.document;
    await analysed(doc);
    const line = doc.getText().split('\n').findIndex((l) => l.startsWith('print("value")'));
    await vscode.commands.executeCommand('circuitInspector.showCircuitAtCursor', { uri: doc.uri.toString(), offset: doc.offsetAt(new vscode.Position(line, 10)), task: QUOTE });
    const nodes = (await waitFor(async () => (await state()).panel, 30_000, 'panel')).circuit.nodes.map((n) => n.id);
    const analyses = async (n: number) => {
      for (let i = 0; i < n; i++) {
        // add a character, then take it away: every analysis sees a new version of a same-size file
        const at = new vscode.Position(0, 0);
        await editor.edit((b) => (i % 2 ? b.delete(new vscode.Range(at, at.translate(0, 1))) : b.insert(at, '#')));
        await analysed(doc);
      }
    };
    const ablations = async (n: number) => {
      for (let i = 0; i < n; i++) await vscode.commands.executeCommand('circuitInspector._testSetAblation', [nodes[i % nodes.length], nodes[(7 * i) % nodes.length]], i % 2 ? 'mean' : 'zero');
      await vscode.commands.executeCommand('circuitInspector.resetAblations');
      await analysed(doc);
    };
    await analyses(20); // warm-up: caches and code paths reach their working size
    await ablations(20);
    const before = memory();
    await analyses(200);
    const afterAnalyses = memory();
    await ablations(200);
    const after = memory();
    const f = (m: { heapMB: number; rssMB: number }) => `heap ${m.heapMB.toFixed(1)} MB, RSS ${m.rssMB.toFixed(1)} MB`;
    console.log(`[robustness] memory before: ${f(before)}; after 200 analyses: ${f(afterAnalyses)}; after 200 ablations: ${f(after)}`);
    assert.ok(after.heapMB - before.heapMB < 40, `heap grew ${(after.heapMB - before.heapMB).toFixed(1)} MB`);
    assert.ok(after.rssMB - before.rssMB < 150, `RSS grew ${(after.rssMB - before.rssMB).toFixed(1)} MB`);
    await setting('debounceMs', undefined);
  });
});
