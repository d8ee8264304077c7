// The editor benchmark (scripts/bench-editor.sh, docs/BENCHMARKS.md): in the real VS Code, how long after
// a file is opened at a line its first screen of highlights is drawn. The file is the 5,000-line bench
// file (bench/stdlib-5000.py), written anew for every place so that nothing of it is cached; the model is
// reloaded before each place (no window cached, no earlier file's analysis running). Timed inside the
// extension host: from just before `showTextDocument` to the first render of the document's highlights
// (the test hooks' firstDrawnAt), so the interval this test polls at does not count.
//
// Settings come from the environment (the script sets them): BENCH_EDITOR_BUNDLE (a bundle folder; else
// the model in use), BENCH_EDITOR_CIRCUITS (tasks whose highlights to turn on, comma-separated),
// BENCH_EDITOR_LINES (0-based lines to open the file at), BENCH_EDITOR_ROUNDS, BENCH_EDITOR_OUT (the JSON
// written at the end).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { freshModel, paintedState, repoDir, screenshot, testState, waitFor } from '../integration/helpers';

const env = process.env;
const LINES = (env.BENCH_EDITOR_LINES || '412,1502,2502,3002,4002,702,2202,432,1522').split(',').map(Number);
const ROUNDS = Number(env.BENCH_EDITOR_ROUNDS || 1);
const settings = () => vscode.workspace.getConfiguration('circuitInspector');
const setting = (key: string, value: unknown) => settings().update(key, value, vscode.ConfigurationTarget.Global);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Place {
  readonly line: number;
  readonly round: number;
  /** From `showTextDocument` to VS Code reporting the editor, and to the first highlights drawn (ms). */
  readonly editorMs: number;
  readonly firstPaintMs: number;
}

suite('Editor benchmark', () => {
  test('first paint of a 5,000-line file opened at each place', async function () {
    this.timeout(0); // as long as the places take: the script's driver has its own limit
    const bundle = env.BENCH_EDITOR_BUNDLE;
    await waitFor(async () => (await testState()).model, 120_000, 'the model');
    await setting('maxFileSizeKB', 2048); // the bench file is 190 KB: analysed whole, as under the default of 1 MB
    if (env.BENCH_EDITOR_CIRCUITS) await setting('highlights.circuits', Object.fromEntries(env.BENCH_EDITOR_CIRCUITS.split(',').map((t) => [t, true])));
    if (bundle) {
      await setting('bundlePath', bundle);
      const name = JSON.parse(fs.readFileSync(path.join(bundle, 'manifest.json'), 'utf8')).name;
      await waitFor(async () => (await testState()).model === name, 300_000, `the bundle ${name}`);
    }
    const model = (await testState()).model;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-editor-'));
    const text = fs.readFileSync(path.join(repoDir, 'bench', 'stdlib-5000.py'), 'utf8');
    const places: Place[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const line of LINES) {
        await freshModel();
        await sleep(1000); // the reload's own work settled
        const file = path.join(dir, `r${round}-line${line}.py`);
        fs.writeFileSync(file, text);
        const doc = await vscode.workspace.openTextDocument(file);
        const at = new vscode.Position(line, 0);
        const opened = Date.now();
        await vscode.window.showTextDocument(doc, { selection: new vscode.Range(at, at) });
        const editorMs = Date.now() - opened;
        const drawn = await waitFor(async () => (await paintedState(doc.uri)).firstDrawnAt, 120_000, `the first paint at line ${line}`);
        places.push({ line, round, editorMs, firstPaintMs: drawn - opened });
        console.log(`bench-editor: line ${line}, round ${round + 1}: editor ${editorMs} ms, first paint ${drawn - opened} ms`);
        if (round === 0) await screenshot(`bench-editor-line${line}`); // what was painted (after the timing)
        await waitFor(async () => (await testState()).inFlight === 0, 600_000, 'the whole file analysed'); // the next place starts idle
        await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
        fs.rmSync(file);
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    assert.ok(env.BENCH_EDITOR_OUT, 'BENCH_EDITOR_OUT names the file for the results');
    fs.writeFileSync(env.BENCH_EDITOR_OUT, JSON.stringify({ model, cpus: os.cpus().length, places }, null, 1));
  });
});
