// Broken bundles as the extension opens them (loadedModel → core/openModel and its load-time probe): files that are
// each well-formed but do not fit together, and an ONNX file cut short, each end in one sentence
// that names the bundle and the fix. Real bundle copies, real onnxruntime.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type * as vscode from 'vscode';
import { loadModel } from '../../src/extension/loadedModel';
import { repoRoot } from './fixtures';
import { editedCopy } from './tempDirs';

const modelsDir = path.join(repoRoot, 'models');
const shippedName = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).sort().find((d) => fs.existsSync(path.join(modelsDir, d, 'manifest.json'))) : undefined;
const noBundle = shippedName ? false : 'no model bundle under models/ (made by training/pipeline.sh)';
const log = { info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as vscode.LogOutputChannel;

const brokenCopy = (edit: (dir: string) => void): string => editedCopy(path.join(modelsDir, shippedName!), 'ci-probe-', edit);

/** What the extension reports for the bundle in `dir`: undefined when it loads and runs. */
async function loadError(dir: string): Promise<string | undefined> {
  const r = await loadModel(dir, 'cpu', log);
  if (r.kind !== 'ok') return r.message;
  await r.model.dispose();
  return undefined;
}

function assertSentence(message: string | undefined, dir: string, pattern: RegExp): void {
  assert.ok(message, 'the bundle is refused');
  assert.match(message, pattern);
  assert.ok(message.includes(dir), 'names the bundle');
  assert.ok(!message.includes('\n'), `one line: ${message}`);
  assert.match(message, /re-export the bundle with training\/export\.py\.$/, 'ends with the fix');
}

test('the shipped bundle loads and passes the probe', { skip: noBundle }, async () => {
  assert.equal(await loadError(path.join(modelsDir, shippedName!)), undefined);
});

test('an ONNX file cut in half is one sentence naming it', { skip: noBundle }, async () => {
  const dir = brokenCopy((d) => {
    const f = path.join(d, 'model.onnx');
    const bytes = fs.readFileSync(f);
    fs.writeFileSync(f, bytes.subarray(0, bytes.length >> 1));
  });
    assertSentence(await loadError(dir), dir, /model\.onnx could not be loaded by onnxruntime/);
});

test('a manifest whose node layout is not the graph\'s (consistent in itself) is refused at load, not at every analysis', { skip: noBundle }, async () => {
  const dir = brokenCopy((d) => {
    // one node fewer in the last location, node count and means file to match: only the graph disagrees
    const file = path.join(d, 'manifest.json');
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: { count: number; layout: { name: string; length: number }[]; means?: string }; circuits: string[] };
    const last = m.nodes.layout[m.nodes.layout.length - 1];
    last.length -= 1;
    m.nodes.count -= 1;
    // a circuit naming the dropped node would be refused first, by the circuit check
    m.circuits = m.circuits.filter((c) => !fs.readFileSync(path.join(d, c), 'utf8').includes(`"${last.name}.${last.length}"`));
    fs.writeFileSync(file, JSON.stringify(m));
    const means = path.join(d, m.nodes.means ?? 'node_means.bin');
    fs.writeFileSync(means, fs.readFileSync(means).subarray(0, 4 * m.nodes.count));
  });
    assertSentence(await loadError(dir), dir, /the ONNX graph does not run with the node layout and model in manifest\.json \(.*node_mask/);
});
