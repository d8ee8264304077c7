// Workspace trust: a bundle path from the workspace's own settings makes the extension load and run
// a model file chosen by the repository, so in an untrusted workspace only the user's own setting
// (or the shipped bundle) counts. readSettings() against a fake `vscode` with scripted settings.

import './fake-vscode'; // must come first: installs the fake `vscode` module
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeEach, describe, it } from 'node:test';
import { DEFAULT_WINDOW_TOKENS, MIN_WINDOW_TOKENS } from '../../src/core/analysis';
import { circuitEnabled, readSettings } from '../../src/extension/settings';
import { fake, vscodeStub } from './fake-vscode';
import { repoRoot } from './fixtures';

const KEY = 'circuitInspector.bundlePath';
const FOLDERS = 'circuitInspector.modelFolders';

describe('workspace trust and the bundle path', () => {
  beforeEach(() => fake.reset());

  it('a trusted workspace may set the bundle path', () => {
    fake.settings.global[KEY] = '/home/me/my-bundle';
    fake.settings.workspace[KEY] = '/repo/models/theirs';
    assert.equal(readSettings().bundlePath, '/repo/models/theirs');
  });

  it('an untrusted workspace cannot: its bundle path is ignored and the shipped bundle is used', () => {
    vscodeStub.workspace.isTrusted = false;
    fake.settings.workspace[KEY] = '/repo/models/theirs';
    assert.equal(readSettings().bundlePath, '', 'empty = the bundle shipped in models/');
  });

  it('an untrusted workspace keeps the user\'s own bundle path', () => {
    vscodeStub.workspace.isTrusted = false;
    fake.settings.global[KEY] = '/home/me/my-bundle';
    fake.settings.workspace[KEY] = '/repo/models/theirs';
    assert.equal(readSettings().bundlePath, '/home/me/my-bundle');
  });

  it('the same holds for the model folders that "Choose model…" lists', () => {
    fake.settings.global[FOLDERS] = ['/home/me/models'];
    fake.settings.workspace[FOLDERS] = ['/repo/models'];
    assert.deepEqual(readSettings().modelFolders, ['/repo/models']);
    vscodeStub.workspace.isTrusted = false;
    assert.deepEqual(readSettings().modelFolders, ['/home/me/models']);
  });

  it('restricted mode is declared to VS Code: limited support, bundlePath restricted, and said so', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      capabilities: { untrustedWorkspaces: { supported: string; description: string; restrictedConfigurations: string[] } };
      contributes: { configuration: { properties: Record<string, { description: string }> } };
    };
    const trust = pkg.capabilities.untrustedWorkspaces;
    assert.equal(trust.supported, 'limited');
    assert.deepEqual(trust.restrictedConfigurations, [KEY, FOLDERS]);
    assert.match(trust.description, /bundle path and model folders from workspace settings are ignored/);
    for (const key of [KEY, FOLDERS]) assert.match(pkg.contributes.configuration.properties[key].description, /untrusted workspace/);
  });
});

describe('windowTokens', () => {
  beforeEach(() => fake.reset());
  it('defaults to the analyzer\'s window and is kept between MIN_WINDOW_TOKENS and 65,536, as package.json declares', () => {
    assert.equal(readSettings().windowTokens, DEFAULT_WINDOW_TOKENS);
    fake.settings.global['circuitInspector.windowTokens'] = 1024;
    assert.equal(readSettings().windowTokens, 1024);
    fake.settings.global['circuitInspector.windowTokens'] = 10;
    assert.equal(readSettings().windowTokens, MIN_WINDOW_TOKENS);
    fake.settings.global['circuitInspector.windowTokens'] = 'lots';
    assert.equal(readSettings().windowTokens, MIN_WINDOW_TOKENS);
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { contributes: { configuration: { properties: Record<string, { default: number; minimum: number; maximum: number }> } } };
    const declared = pkg.contributes.configuration.properties['circuitInspector.windowTokens'];
    assert.deepEqual([declared.default, declared.minimum, declared.maximum], [DEFAULT_WINDOW_TOKENS, MIN_WINDOW_TOKENS, 65536]);
  });
});

describe('circuitEnabled', () => {
  const settings = (circuits: Record<string, boolean>, highlightsEnabled = true) => ({ ...readSettings(), circuits, highlightsEnabled });
  it('follows the user\'s choice for a task, else shows a circuit unless its evidence says it does not carry its task', () => {
    assert.equal(circuitEnabled(settings({ a: true }), 'a', false), true);
    assert.equal(circuitEnabled(settings({ a: false }), 'a', true), false);
    assert.equal(circuitEnabled(settings({}), 'a', false), false);
    assert.equal(circuitEnabled(settings({}), 'a', undefined), true);
    assert.equal(circuitEnabled(settings({}), 'a', true), true);
    assert.equal(circuitEnabled(settings({ a: true }, false), 'a', true), false);
  });
});
