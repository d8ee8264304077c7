// Which bundle the settings name (modelChoice.bundleDirOf) and how the loader changes models
// (modelLoader): a settings change that still names the loaded bundle loads nothing, "Reload"
// always loads, and switchTo keeps the model in use when the new bundle is broken. Real bundles
// (the shipped one, the mask-rows fixture with no circuits, a broken copy) against a fake `vscode`.
import './fake-vscode'; // must come first: installs the fake `vscode` module
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type * as vscode from 'vscode';
import { NO_ABLATION } from '../../src/core/analysis';
import { bundleDirOf } from '../../src/extension/modelChoice';
import { ModelLoader } from '../../src/extension/modelLoader';
import { readSettings, type Settings } from '../../src/extension/settings';
import { StatusBar } from '../../src/extension/statusBar';
import { fake } from './fake-vscode';
import { repoRoot } from './fixtures';
import { editedCopy, tempDir } from './tempDirs';

const ROWS = path.join(repoRoot, 'test/fixtures/rows-bundle');
const log = { info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as vscode.LogOutputChannel;
const context = (storage: string) => ({ extensionPath: repoRoot, globalStorageUri: { fsPath: storage } }) as unknown as vscode.ExtensionContext;

/** The settings with these circuitInspector.* values (the rest at their defaults). */
function settingsWith(values: Record<string, unknown>): Settings {
  fake.settings.global = Object.fromEntries(Object.entries(values).map(([k, v]) => [`circuitInspector.${k}`, v]));
  return { ...readSettings(), provider: 'cpu' };
}

describe('bundleDirOf', () => {
  beforeEach(() => fake.reset());
  const dirOf = bundleDirOf(context(tempDir('storage-')));

  it('empty names the first shipped bundle, a name a bundle in a model folder, a path itself', () => {
    const shipped = fs.readdirSync(path.join(repoRoot, 'models')).sort()[0];
    assert.deepEqual(dirOf(settingsWith({})), { dir: path.join(repoRoot, 'models', shipped) });
    const folder = tempDir('user-models-');
    fs.cpSync(ROWS, path.join(folder, 'rows'), { recursive: true });
    assert.deepEqual(dirOf(settingsWith({ modelFolders: [folder], bundlePath: 'rows' })), { dir: path.join(folder, 'rows') });
    assert.deepEqual(dirOf(settingsWith({ bundlePath: ROWS })), { dir: ROWS });
  });

  it('a name no folder holds: one sentence naming every folder searched and the fix', () => {
    const to = dirOf(settingsWith({ modelFolders: ['/nowhere/models'], bundlePath: 'csp_yolo1' }));
    assert.ok('message' in to);
    assert.match(to.message, /^No model bundle named "csp_yolo1" in .*\/models, \/nowhere\/models, .*storage-.*\/models\. Set circuitInspector\.bundlePath to a bundle folder, or run "Choose model…"\.$/);
  });
});

describe('ModelLoader', () => {
  let loader: ModelLoader;
  beforeEach(() => {
    fake.reset();
    loader = new ModelLoader((s) => ({ dir: s.bundlePath }), new StatusBar(), log);
  });
  afterEach(() => loader.drop());

  it('a settings change that still names the loaded bundle loads nothing; Reload loads it again', async () => {
    const settings = settingsWith({ bundlePath: ROWS });
    await loader.load(settings);
    const first = loader.model;
    assert.equal(first?.modelName, 'rows-fixture');
    await loader.load({ ...settings, thresholdScale: 2 });
    assert.equal(loader.model, first, 'the same model');
    await loader.reload(settings);
    assert.ok(loader.model && loader.model !== first, 'a new one');
    // another window length changes every value shown: the model is loaded again with it
    const reloaded = loader.model;
    await loader.load({ ...settings, windowTokens: 128 });
    assert.ok(loader.model && loader.model !== reloaded, 'loaded again for the window length');
  });

  it('a model without circuits says so when it loads', async () => {
    await loader.load(settingsWith({ bundlePath: ROWS }));
    assert.deepEqual(fake.messages, [{ kind: 'info', text: 'Circuit Inspector: model rows-fixture has no circuits, so nothing is highlighted; "Why this token?" (editor context menu or hover) still finds the circuit behind any next token.' }]);
  });

  it('switchTo: a broken bundle returns why and the model in use stays and still runs; a good one replaces it', async () => {
    const settings = settingsWith({ bundlePath: ROWS });
    await loader.load(settings);
    const inUse = loader.model!;
    const broken = editedCopy(ROWS, 'broken-', (d) => fs.writeFileSync(path.join(d, 'manifest.json'), '{'));
    const why = await loader.switchTo(broken, settings);
    assert.match(why ?? '', /manifest\.json is not valid JSON/);
    assert.ok(why!.includes(broken), 'the message names the bundle');
    assert.equal(loader.model, inUse);
    assert.equal(loader.loadError, undefined, 'nothing to report in the status bar: a model is loaded');
    const r = await inUse.analyze('k', 'x = "a"\n', NO_ABLATION);
    assert.equal(r.status, 'done', 'the model in use still analyses');
    const other = editedCopy(ROWS, 'other-', () => undefined);
    assert.equal(await loader.switchTo(other, settings), undefined);
    const switched = loader.model;
    assert.ok(switched && switched !== inUse);
    await loader.load({ ...settings, bundlePath: other });
    assert.equal(loader.model, switched, 'the setting naming the new bundle then loads nothing');
  });
});
