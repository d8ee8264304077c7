// Keeps one model loaded: the bundle the settings name (at activation, when a setting changes, on
// "Reload model bundle"), or the one "Choose model…" switches to. Loads run one at a time, and the
// status bar always says which model is loaded, or why none is.
import * as vscode from 'vscode';
import { type LoadedModel, type LoadResult, loadModel } from './loadedModel';
import { SECTION, type Settings } from './settings';
import type { StatusBar } from './statusBar';

/** Which bundle folder a setting names (modelChoice.ts), or why it names none. */
export type BundleDirOf = (settings: Settings) => { readonly dir: string } | { readonly message: string };

export class ModelLoader {
  model: LoadedModel | undefined;
  /** Why no model is loaded, when none is. */
  loadError: string | undefined;
  /** Called after every load, with the new model or undefined when it failed. */
  onDidLoad: (model: LoadedModel | undefined) => void = () => undefined;
  /**
   * Called when the model in use is about to stop, before its workers end: what still uses it lets go
   * first (a document analysis running then would otherwise fail with "the model session was closed").
   */
  onWillDrop: () => void = () => undefined;
  private lastMs: number | undefined;
  /** The folder and settings the loaded model came from: a settings change that keeps them needs no load. */
  private loadedFrom: { readonly dir: string; readonly provider: Settings['provider']; readonly windowTokens: number } | undefined;
  // Overlapping loads (settings changed twice quickly) would each set `model`, and the one
  // overwritten would never be disposed.
  private loading = Promise.resolve();

  constructor(
    private readonly bundleDir: BundleDirOf,
    private readonly status: StatusBar,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** The bundle the settings name, unless it is the one loaded already (with the same provider and window length). */
  load(settings: Settings): Promise<void> {
    return this.queue(() => {
      const to = this.bundleDir(settings);
      const from = this.loadedFrom;
      if (this.model && 'dir' in to && from?.dir === to.dir && from.provider === settings.provider && from.windowTokens === settings.windowTokens) return Promise.resolve();
      return this.replace(settings, to);
    });
  }

  /** The bundle the settings name, loaded again even when it is the one loaded. */
  reload(settings: Settings): Promise<void> {
    return this.queue(() => this.replace(settings, this.bundleDir(settings)));
  }

  /**
   * Load `dir` while the model in use keeps working; only once it has loaded does it replace that
   * one. Returns why it could not load, and then the model in use stays.
   */
  switchTo(dir: string, settings: Settings): Promise<string | undefined> {
    let failure: string | undefined;
    return this.queue(async () => {
      const result = await loadModel(dir, settings.provider, this.log, settings.windowTokens);
      if (result.kind !== 'ok') {
        this.log.error(result.message);
        failure = result.message;
        return;
      }
      await this.drop();
      this.loaded(result.model, dir, settings);
    }).then(() => failure);
  }

  /** The folder of the model in use. */
  get dir(): string | undefined {
    return this.model && this.loadedFrom?.dir;
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
    this.loadedFrom = undefined;
    if (old) this.onWillDrop();
    await old?.dispose();
  }

  private queue(load: () => Promise<void>): Promise<void> {
    return (this.loading = this.loading.then(load));
  }

  private async replace(settings: Settings, to: ReturnType<BundleDirOf>): Promise<void> {
    await this.drop(); // its worker threads end before the new model's start
    this.loadError = undefined;
    this.status.show({ kind: 'loading' });
    if ('message' in to) return this.failed({ kind: 'missing', message: to.message });
    const result = await loadModel(to.dir, settings.provider, this.log, settings.windowTokens);
    if (result.kind === 'ok') this.loaded(result.model, to.dir, settings);
    else this.failed(result);
  }

  private failed(result: Exclude<LoadResult, { kind: 'ok' }>): void {
    this.log.error(result.message);
    this.loadError = result.message;
    this.status.show({ kind: result.kind, message: result.message });
    void vscode.window.showWarningMessage(`Circuit Inspector: ${result.message}`, 'Open settings').then((choice) => {
      if (choice) void vscode.commands.executeCommand('workbench.action.openSettings', `${SECTION}.bundlePath`);
    });
    this.onDidLoad(undefined);
  }

  private loaded(model: LoadedModel, dir: string, settings: Settings): void {
    this.model = model;
    this.loadedFrom = { dir, provider: settings.provider, windowTokens: settings.windowTokens };
    this.loadError = undefined;
    this.lastMs = undefined;
    this.log.info(`model ${model.modelName} loaded from ${dir} on ${model.provider}`);
    if (model.providerNotice) {
      this.log.warn(model.providerNotice);
      void vscode.window.showInformationMessage(`Circuit Inspector: ${model.providerNotice}`);
    }
    if (model.circuits.length === 0) void vscode.window.showInformationMessage(`Circuit Inspector: ${noCircuits(model.modelName)}`);
    this.showReady();
    this.onDidLoad(model);
  }

  private showReady(): void {
    const m = this.model;
    if (m) this.status.show({ kind: 'ready', model: m.modelName, provider: m.provider, lastMs: this.lastMs, note: m.providerNotice });
  }
}

/** What the user is told about a model that has no circuits of its own (an imported one, say). */
export function noCircuits(modelName: string): string {
  return `model ${modelName} has no circuits, so nothing is highlighted; "Why this token?" (editor context menu or hover) still finds the circuit behind any next token.`;
}

/** The loaded model, or undefined after telling the user that none is (a command's first step). */
export function modelOrWarn(model: LoadedModel | undefined): LoadedModel | undefined {
  if (!model) void vscode.window.showWarningMessage('Circuit Inspector: no model is loaded — see the status bar for why.');
  return model;
}
