// Entry point: wires VS Code to the core. Everything that does not need `vscode` lives in src/core;
// each editor feature is its own module (documents, highlights, hover, status bar, circuit
// controller, panel host); this file only creates them and connects their events.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { CircuitController, type ShowArgs } from './circuitController';
import { CircuitSources, Warnings } from './circuitSources';
import { Documents } from './documents';
import { Highlights } from './highlights';
import { CircuitHover } from './hover';
import { type LoadedModel, loadModel } from './loadedModel';
import { logChannel } from './log';
import { registerCircuitPanel } from './panel/circuitPanel';
import { SAVE_COMMAND, saveFoundCircuit } from './saveCircuit';
import { SavedCircuits } from './savedCircuits';
import { readSettings, SECTION, type Settings } from './settings';
import { StatusBar } from './statusBar';
import { registerTestHooks } from './testHooks';
import { WHY_COMMAND, type WhyArgs, WhyThisToken } from './whyThisToken';

/** Defined by esbuild: true only in the integration tests' bundle (esbuild.config.mjs --test-hooks). */
declare const TEST_HOOKS: boolean;

let models: ModelLoader | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = logChannel();
  const status = new StatusBar();
  const highlights = new Highlights();
  let settings = readSettings();
  const loader = (models = new ModelLoader(context, status, log));
  const docs = new Documents(undefined, settings, highlights, log, (ms) => loader.showTiming(ms));
  const warnings = new Warnings(log);
  const saved = new SavedCircuits(warnings.warn);
  const sources = new CircuitSources(saved, warnings.warn);
  // saved and found circuits join the model's own before the documents are analysed with it
  const circuitsChanged = () => {
    sources.applyTo(loader.model);
    docs.setModel(loader.model, settings);
  };
  loader.onDidLoad = circuitsChanged;
  const panel = registerCircuitPanel(context, { topTokens: (id) => controller.topTokens(id), log: (m) => log.info(m) });
  const controller = new CircuitController(panel, docs, () => loader.model, settings.ablationMode, log);
  const why = new WhyThisToken(docs, () => loader.model, sources, circuitsChanged, controller);
  context.subscriptions.push(
    log,
    status,
    highlights,
    docs,
    controller,
    panel,
    saved,
    saved.onDidChange(circuitsChanged),
    controller.onDidChangeAblation((c) => docs.setAblation(c)),
    docs.onDidChangeRunning((n) => status.setRunning(n)),
  );

  context.subscriptions.push(
    vscode.languages.registerHoverProvider({ language: 'python' }, new CircuitHover(docs, () => loader.model, () => settings.thresholdScale)),
    vscode.commands.registerCommand('circuitInspector.showCircuitAtCursor', (args?: ShowArgs) => controller.show(args)),
    vscode.commands.registerCommand(WHY_COMMAND, (args?: WhyArgs) => why.run(args)),
    vscode.commands.registerCommand(SAVE_COMMAND, () => saveFoundCircuit(why, loader.model, saved)),
    vscode.commands.registerCommand('circuitInspector.toggleHighlights', () =>
      vscode.workspace.getConfiguration(SECTION).update('highlights.enabled', !settings.highlightsEnabled, vscode.ConfigurationTarget.Global),
    ),
    vscode.commands.registerCommand('circuitInspector.resetAblations', () => controller.setAblation([], settings.ablationMode)),
    vscode.commands.registerCommand('circuitInspector.showOutput', () => log.show()),
    vscode.commands.registerCommand('circuitInspector.reloadModel', () => loader.load(settings)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration(SECTION)) return;
      const before = settings;
      settings = readSettings();
      // every setting applies without a reload: the model's to the loader, the ablation mode to its owner (the controller), the rest to the documents
      if (before.ablationMode !== settings.ablationMode) void controller.setAblationMode(settings.ablationMode).catch((err: unknown) => log.error(`ablation mode: ${String(err)}`));
      if (before.provider !== settings.provider || before.bundlePath !== settings.bundlePath) void loader.load(settings);
      else docs.setModel(loader.model, settings);
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      settings = readSettings();
      void loader.load(settings);
    }),
    { dispose: () => void loader.drop() },
  );
  if (TEST_HOOKS) registerTestHooks(context, { loader, docs, highlights, panel, controller, warnings });
  await saved.reload();
  await loader.load(settings);
}

// VS Code waits for this promise before the extension host exits: a worker thread stopped inside an
// onnxruntime run would abort the process instead of letting it exit.
export function deactivate(): Promise<void> {
  return models?.drop() ?? Promise.resolve();
}

/** Loads the bundle the settings name, one load at a time, and keeps the status bar up to date. */
export class ModelLoader {
  model: LoadedModel | undefined;
  /** Why no model is loaded, when none is. */
  loadError: string | undefined;
  /** Called after every load, with the new model or undefined when it failed. */
  onDidLoad: (model: LoadedModel | undefined) => void = () => undefined;
  private lastMs: number | undefined;
  // Overlapping loads (settings changed twice quickly) would each set `model`, and the one
  // overwritten would never be disposed.
  private loading = Promise.resolve();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly status: StatusBar,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  load(settings: Settings): Promise<void> {
    return (this.loading = this.loading.then(() => this.loadNow(settings)));
  }

  /** The last analysis took `ms`: shown in the status bar. */
  showTiming(ms: number): void {
    this.lastMs = ms;
    this.showReady();
  }

  /** Forget the model at once (nothing new reaches it) and wait until its runs and workers have ended. */
  async drop(): Promise<void> {
    const old = this.model;
    this.model = undefined;
    await old?.dispose();
  }

  private async loadNow(settings: Settings): Promise<void> {
    await this.drop(); // its worker threads end before the new model's start
    this.loadError = undefined;
    this.status.show({ kind: 'loading' });
    const dir = bundleDir(this.context, settings);
    const result = await loadModel(dir, settings.provider, this.log);
    if (result.kind === 'ok') {
      this.model = result.model;
      this.log.info(`model ${result.model.modelName} loaded from ${dir} on ${result.model.provider}`);
      if (result.model.providerNotice) {
        this.log.warn(result.model.providerNotice);
        void vscode.window.showInformationMessage(`Circuit Inspector: ${result.model.providerNotice}`);
      }
      this.showReady();
    } else {
      this.log.error(result.message);
      this.loadError = result.message;
      this.status.show({ kind: result.kind, message: result.message });
      void vscode.window.showWarningMessage(`Circuit Inspector: ${result.message}`, 'Open settings').then((choice) => {
        if (choice) void vscode.commands.executeCommand('workbench.action.openSettings', `${SECTION}.bundlePath`);
      });
    }
    this.onDidLoad(this.model);
  }

  private showReady(): void {
    const m = this.model;
    if (m) this.status.show({ kind: 'ready', model: m.modelName, provider: m.provider, lastMs: this.lastMs, note: m.providerNotice });
  }
}

/** The user's bundle if set (and allowed), else the first bundle shipped in models/. */
function bundleDir(context: vscode.ExtensionContext, settings: Settings): string {
  if (settings.bundlePath) return settings.bundlePath;
  const models = path.join(context.extensionPath, 'models');
  const found = fs.existsSync(models) ? fs.readdirSync(models).sort().find((d) => fs.existsSync(path.join(models, d, 'manifest.json'))) : undefined;
  return found ? path.join(models, found) : models;
}
