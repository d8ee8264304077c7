// Entry point: wires VS Code to the core. Everything that does not need `vscode` lives in src/core;
// each editor feature is its own module (documents, highlights, hover, status bar, circuit session).
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { CircuitSession, type ShowArgs } from './circuitSession';
import { type DocumentState, Documents } from './documents';
import type { Engine } from './engine';
import { openEngine } from './engineLoader';
import { Highlights } from './highlights';
import { CircuitHover } from './hover';
import { logChannel } from './log';
import { registerCircuitPanel } from './panel/circuitPanel';
import { readSettings, SECTION, type Settings } from './settings';
import { StatusBar } from './statusBar';

let engine: Engine | undefined;
/** Why no model is loaded, when none is. */
let loadError: string | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = logChannel();
  const status = new StatusBar();
  const highlights = new Highlights();
  let settings = readSettings();
  let lastMs: number | undefined;
  const showReady = () => engine && status.show({ kind: 'ready', model: engine.modelName, provider: engine.provider, lastMs, note: engine.providerNotice });
  const docs = new Documents(undefined, settings, highlights, log, (ms) => {
    lastMs = ms;
    showReady();
  });
  const panel = registerCircuitPanel(context, { topTokens: (id) => session.topTokens(id), log: (m) => log.info(m) });
  const session = new CircuitSession(panel, docs, () => engine, settings.ablationMode, log);
  context.subscriptions.push(log, status, highlights, docs, session, panel);

  // Loads run one after another: overlapping ones (settings changed twice quickly) would each
  // set `engine`, and the one overwritten would never be disposed.
  let loading = Promise.resolve();
  const load = (): Promise<void> => (loading = loading.then(loadNow));
  const loadNow = async (): Promise<void> => {
    await dropEngine(); // its worker threads end before the new model's start
    loadError = undefined;
    status.show({ kind: 'loading' });
    const dir = bundleDir(context, settings);
    const result = await openEngine(dir, settings.provider, log);
    if (result.kind === 'ok') {
      engine = result.engine;
      log.info(`model ${engine.modelName} loaded from ${dir} on ${engine.provider}`);
      if (engine.providerNotice) {
        log.warn(engine.providerNotice);
        void vscode.window.showInformationMessage(`Circuit Inspector: ${engine.providerNotice}`);
      }
      showReady();
    } else {
      log.error(result.message);
      loadError = result.message;
      status.show({ kind: result.kind, message: result.message });
      void vscode.window.showWarningMessage(`Circuit Inspector: ${result.message}`, 'Open settings').then((choice) => {
        if (choice) void vscode.commands.executeCommand('workbench.action.openSettings', `${SECTION}.bundlePath`);
      });
    }
    docs.setEngine(engine, settings);
  };

  context.subscriptions.push(
    vscode.languages.registerHoverProvider({ language: 'python' }, new CircuitHover(docs, () => engine)),
    vscode.commands.registerCommand('circuitInspector.showCircuitAtCursor', (args?: ShowArgs) => session.show(args)),
    vscode.commands.registerCommand('circuitInspector.toggleHighlights', () =>
      vscode.workspace.getConfiguration(SECTION).update('highlights.enabled', !settings.highlightsEnabled, vscode.ConfigurationTarget.Global),
    ),
    vscode.commands.registerCommand('circuitInspector.resetAblations', () => session.setAblation([], settings.ablationMode)),
    vscode.commands.registerCommand('circuitInspector.showOutput', () => log.show()),
    vscode.commands.registerCommand('circuitInspector.reloadModel', () => load()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration(SECTION)) return;
      const before = settings;
      settings = readSettings();
      if (before.provider !== settings.provider || before.bundlePath !== settings.bundlePath) void load();
      else docs.setEngine(engine, settings);
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      settings = readSettings();
      void load();
    }),
    { dispose: () => void engine?.dispose() },
  );

  if (context.extensionMode !== vscode.ExtensionMode.Production) {
    // Test-only: what the user would see, for the integration tests.
    context.subscriptions.push(
      vscode.commands.registerCommand('circuitInspector._testState', (uri?: string) => ({
        model: engine?.modelName,
        provider: engine?.provider,
        error: loadError,
        notice: engine?.providerNotice,
        analyzed: uri ? analyzedPart(docs.state(vscode.Uri.parse(uri))) : undefined,
        inFlight: docs.inFlight,
        decorations: uri ? highlights.snapshot(vscode.Uri.parse(uri)) : undefined,
        tokens: uri ? tokenReadouts(docs.state(vscode.Uri.parse(uri))) : undefined,
        panel: panel.model,
      })),
      vscode.commands.registerCommand('circuitInspector._testSetAblation', (nodes: string[], mode: 'mean' | 'zero', circuitOnly?: boolean) =>
        session.setAblation(nodes, mode, circuitOnly),
      ),
      vscode.commands.registerCommand('circuitInspector._testExport', (format: 'png' | 'svg' | 'json', target: string, from?: 'view' | 'panel') => panel.exportTo(format, vscode.Uri.file(target), from)),
    );
  }
  await load();
}

/** Test-only: per analysed token, each task's logit difference without and with the current ablation. */
function tokenReadouts(state: DocumentState | undefined) {
  return state?.base.tokens.map((t, i) => ({ start: t.start, end: t.end, circuits: t.circuits, logitDiff: t.logitDiff, ablatedLogitDiff: state.ablated?.tokens[i]?.logitDiff }));
}

/** Test-only: which version of a document the shown results are for, and the part analysed. */
function analyzedPart(state: DocumentState | undefined) {
  return state && { version: state.version, partial: state.base.partial ?? null };
}

/** The user's bundle if set (and allowed), else the first bundle shipped in models/. */
function bundleDir(context: vscode.ExtensionContext, settings: Settings): string {
  if (settings.bundlePath) return settings.bundlePath;
  const models = path.join(context.extensionPath, 'models');
  const found = fs.existsSync(models) ? fs.readdirSync(models).sort().find((d) => fs.existsSync(path.join(models, d, 'manifest.json'))) : undefined;
  return found ? path.join(models, found) : models;
}

/** Forget the engine at once (nothing new reaches it) and wait until its runs and workers have ended. */
async function dropEngine(): Promise<void> {
  const old = engine;
  engine = undefined;
  await old?.dispose();
}

// VS Code waits for this promise before the extension host exits: a worker thread stopped inside an
// onnxruntime run would abort the process instead of letting it exit.
export function deactivate(): Promise<void> {
  return dropEngine();
}
