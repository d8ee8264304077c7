// "Circuit Inspector: Choose model…": lists the bundles in the extension's models/, in the user's
// circuitInspector.modelFolders and in the extension's own storage (core/bundleList), each with its
// size and what it is; loads the chosen one under a progress notification while the model in use
// keeps working, keeps that model when the chosen one does not load, and remembers the choice in
// circuitInspector.bundlePath (a shipped bundle by name, so that it survives extension updates).
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { type BundleEntry, type BundleFolder, formatBytes, listBundles, resolveBundle } from '../core/bundleList';
import type { BundleDirOf, ModelLoader } from './modelLoader';
import { SECTION, type Settings } from './settings';

export const CHOOSE_COMMAND = 'circuitInspector.chooseModel';

/** What the command did: which model it loaded, or why the model in use stayed (undefined: nothing chosen). */
export type ChooseResult = { readonly loaded: string } | { readonly error: string } | undefined;

const SHIPPED = 'shipped';

/** Where bundles are looked for, in the order they are listed and looked up by name. */
export function bundleFolders(context: vscode.ExtensionContext, settings: Settings): BundleFolder[] {
  return [
    { dir: path.join(context.extensionPath, 'models'), origin: SHIPPED },
    ...settings.modelFolders.map((dir) => ({ dir: dir.startsWith('~/') ? path.join(os.homedir(), dir.slice(2)) : dir, origin: 'model folder' })),
    { dir: path.join(context.globalStorageUri.fsPath, 'models'), origin: 'extension storage' },
  ];
}

/** The bundle folder circuitInspector.bundlePath names: a path, a bundle's name, or '' for the first shipped one. */
export function bundleDirOf(context: vscode.ExtensionContext): BundleDirOf {
  return (settings) => {
    const folders = bundleFolders(context, settings);
    const dir = resolveBundle(settings.bundlePath, folders);
    // with nothing shipped, models/ itself is named, and the loader says that it holds no bundle
    if (dir !== undefined || settings.bundlePath === '') return { dir: dir ?? folders[0].dir };
    const searched = folders.map((f) => f.dir).join(', ');
    return { message: `No model bundle named "${settings.bundlePath}" in ${searched}. Set ${SECTION}.bundlePath to a bundle folder, or run "Choose model…".` };
  };
}

export class ModelChoice {
  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly loader: ModelLoader,
    private readonly settings: () => Settings,
  ) {}

  /** The command. `target` (a bundle's name or folder) skips the list. */
  async choose(target?: string): Promise<ChooseResult> {
    const settings = this.settings();
    const folders = bundleFolders(this.context, settings);
    const dir = target === undefined ? (await this.pick(folders))?.dir : resolveBundle(target, folders);
    if (target !== undefined && dir === undefined) return this.refuse(`no model bundle named "${target}" in ${folders.map((f) => f.dir).join(', ')}.`);
    if (dir === undefined) return undefined;
    const failure = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Circuit Inspector: loading the model in ${dir}…` },
      () => this.loader.switchTo(dir, settings),
    );
    if (failure !== undefined) return this.refuse(failure);
    const shipped = path.dirname(dir) === folders[0].dir;
    await this.remember(shipped ? path.basename(dir) : dir);
    return { loaded: this.loader.model?.modelName ?? '' };
  }

  private async pick(folders: readonly BundleFolder[]): Promise<BundleEntry | undefined> {
    const bundles = listBundles(folders);
    if (bundles.length === 0) {
      void vscode.window.showInformationMessage(`Circuit Inspector: no model bundles in ${folders.map((f) => f.dir).join(', ')}.`);
      return undefined;
    }
    const items = bundles.map((b) => ({
      label: `${b.dir === this.loader.dir ? '$(check) ' : ''}${b.name}`,
      description: `${formatBytes(b.bytes)} · ${b.shape} · ${b.origin}`,
      detail: b.problem ?? b.about,
      bundle: b,
    }));
    const chosen = await vscode.window.showQuickPick(items, { title: 'Circuit Inspector: choose a model', placeHolder: 'Bundles in models/ and in circuitInspector.modelFolders', matchOnDescription: true, matchOnDetail: true });
    return chosen?.bundle;
  }

  private refuse(why: string): ChooseResult {
    const still = this.loader.model ? ` The model in use, ${this.loader.model.modelName}, stays loaded.` : '';
    void vscode.window.showWarningMessage(`Circuit Inspector: ${why}${still}`);
    return { error: why };
  }

  /** The choice goes where the setting in force lives (a workspace's own value would hide a user-level one). */
  private async remember(value: string): Promise<void> {
    const config = vscode.workspace.getConfiguration(SECTION);
    const inWorkspace = vscode.workspace.isTrusted && config.inspect<string>('bundlePath')?.workspaceValue !== undefined;
    await config.update('bundlePath', value, inWorkspace ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global);
  }
}
