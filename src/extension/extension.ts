// Entry point: wires VS Code to the core. Everything that does not need `vscode` lives in src/core;
// each editor feature is its own module (documents, highlights, hover, status bar, circuit
// controller, panel host, model loader and choice); this file only creates them and connects their
// events: `activate` makes the parts, then registers the commands and the settings watcher.
import * as vscode from 'vscode';
import { ATTENTION_COMMAND, type AttentionArgs, WhereAttentionLooks } from './attentionCommand';
import { AttentionOverlay } from './attentionOverlay';
import { CircuitController, type ShowArgs } from './circuitController';
import { CircuitSources, Warnings } from './circuitSources';
import { Documents } from './documents';
import { Highlights } from './highlights';
import { CircuitHover } from './hover';
import { errorMessage } from '../core/errors';
import { logChannel } from './log';
import { CHOOSE_COMMAND, bundleDirOf, ModelChoice } from './modelChoice';
import { ModelLoader } from './modelLoader';
import { type CircuitPanelController, registerCircuitPanel } from './panel/circuitPanel';
import { SAVE_COMMAND, saveFoundCircuit } from './saveCircuit';
import { keepNodeLabels } from './nodeLabels';
import { SavedCircuits } from './savedCircuits';
import { readSettings, SECTION, type Settings } from './settings';
import { StatusBar } from './statusBar';
import { registerTestHooks } from './testHooks';
import { WHY_COMMAND, type WhyArgs, WhyThisToken } from './whyThisToken';

/** Defined by esbuild: true only in the integration tests' bundle (esbuild.config.mjs --test-hooks). */
declare const TEST_HOOKS: boolean;

let models: ModelLoader | undefined;

/** The editor's parts, made once per activation; `settings` is replaced whenever a setting changes. */
interface Parts {
  settings: Settings;
  readonly log: vscode.LogOutputChannel;
  readonly loader: ModelLoader;
  readonly docs: Documents;
  readonly highlights: Highlights;
  readonly warnings: Warnings;
  readonly saved: SavedCircuits;
  readonly panel: CircuitPanelController;
  readonly controller: CircuitController;
  readonly why: WhyThisToken;
  readonly overlay: AttentionOverlay;
  readonly attention: WhereAttentionLooks;
  readonly choice: ModelChoice;
  /** Saved and found circuits join the model's own, and the documents are analysed again with them. */
  readonly circuitsChanged: () => void;
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const parts = createParts(context);
  registerCommands(context, parts);
  watchSettings(context, parts);
  if (TEST_HOOKS) registerTestHooks(context, parts);
  await parts.saved.reload();
  await parts.loader.load(parts.settings);
}

// VS Code waits for this promise before the extension host exits: a worker thread stopped inside an
// onnxruntime run would abort the process instead of letting it exit.
export function deactivate(): Promise<void> {
  return models?.drop() ?? Promise.resolve();
}

/** Every part, connected to the others' events, and disposed with the extension. */
function createParts(context: vscode.ExtensionContext): Parts {
  const log = logChannel();
  const status = new StatusBar();
  const highlights = new Highlights();
  const settings = readSettings();
  const loader = (models = new ModelLoader(bundleDirOf(context), status, log));
  const docs = new Documents(undefined, settings, highlights, log, (ms) => loader.showTiming(ms));
  const warnings = new Warnings(log);
  const saved = new SavedCircuits(warnings.warn);
  const sources = new CircuitSources(saved, warnings.warn);
  const circuitsChanged = () => {
    sources.applyTo(loader.model);
    docs.setModel(loader.model, parts.settings);
  };
  // the documents' runs on the old model are stale before its workers stop: they end without an error
  loader.onWillDrop = () => docs.setModel(undefined, parts.settings);
  loader.onDidLoad = () => {
    sources.forgetFound();
    circuitsChanged();
    void controller.modelChanged().catch((e: unknown) => log.error(`circuit panel after a model change: ${errorMessage(e)}`));
  };
  const panel = registerCircuitPanel(context, { topTokens: (id) => controller.topTokens(id), log: (m) => log.info(m) });
  const controller = new CircuitController(panel, docs, () => loader.model, settings.ablationMode, log);
  const why = new WhyThisToken(docs, () => loader.model, sources, circuitsChanged, controller);
  const choice = new ModelChoice(context, loader, () => parts.settings);
  const overlay = new AttentionOverlay();
  const attention = new WhereAttentionLooks(() => loader.model, overlay);
  const parts: Parts = { settings, log, loader, docs, highlights, warnings, saved, panel, controller, why, overlay, attention, choice, circuitsChanged };
  context.subscriptions.push(
    log,
    status,
    highlights,
    docs,
    controller,
    panel,
    saved,
    saved.onDidChange(circuitsChanged),
    overlay,
    panel.onDidSelectNode((s) => void attention.showForNode(s)),
    keepNodeLabels(panel, controller, sources, saved, circuitsChanged),
    controller.onDidChangeAblation((c) => docs.setAblation(c)),
    docs.onDidChangeRunning((n) => status.setRunning(n)),
    { dispose: () => void loader.drop() },
  );
  return parts;
}

function registerCommands(context: vscode.ExtensionContext, p: Parts): void {
  const command = vscode.commands.registerCommand;
  context.subscriptions.push(
    vscode.languages.registerHoverProvider({ language: 'python' }, new CircuitHover(p.docs, () => p.loader.model, () => p.settings)),
    command('circuitInspector.showCircuitAtCursor', (args?: ShowArgs) => p.controller.show(args)),
    command(WHY_COMMAND, (args?: WhyArgs) => p.why.run(args)),
    command(ATTENTION_COMMAND, (args?: AttentionArgs) => p.attention.run(args)),
    command(SAVE_COMMAND, () => saveFoundCircuit(p.why, p.loader.model, p.saved)),
    command('circuitInspector.toggleHighlights', () =>
      vscode.workspace.getConfiguration(SECTION).update('highlights.enabled', !p.settings.highlightsEnabled, vscode.ConfigurationTarget.Global),
    ),
    command('circuitInspector.resetAblations', () => p.controller.setAblation([], p.settings.ablationMode)),
    command('circuitInspector.showOutput', () => p.log.show()),
    command('circuitInspector.reloadModel', () => p.loader.reload(p.settings)),
    command(CHOOSE_COMMAND, (target?: string) => p.choice.choose(target)),
  );
}

/** Every setting applies without a reload: the model's to the loader, the ablation mode to its owner (the controller), the rest to the documents. */
function watchSettings(context: vscode.ExtensionContext, p: Parts): void {
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration(SECTION)) return;
      const before = p.settings;
      p.settings = readSettings();
      if (before.ablationMode !== p.settings.ablationMode) {
        void p.controller.setAblationMode(p.settings.ablationMode).catch((err: unknown) => p.log.error(`ablation mode: ${String(err)}`));
      }
      // a window length changes every value shown, as a model would: the model is loaded again with it
      const model = ['provider', 'bundlePath', 'modelFolders', 'windowTokens'] as const;
      if (model.some((k) => JSON.stringify(before[k]) !== JSON.stringify(p.settings[k]))) void p.loader.load(p.settings);
      else p.docs.setModel(p.loader.model, p.settings);
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      p.settings = readSettings();
      void p.loader.load(p.settings);
    }),
  );
}
