// A minimal stand-in for the `vscode` module, enough to unit-test the circuit panel host
// (src/extension/panel) under plain node. Importing this file installs it: later `require('vscode')`
// calls get this object. Only what the panel host and the settings reader touch is implemented.

import * as fs from 'fs';
import Module from 'module';
import * as path from 'path';

type Listener<T> = (e: T) => unknown;

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  readonly event = (listener: Listener<T>): { dispose(): void } => {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class FakeUri {
  constructor(readonly fsPath: string) {}
  toString(): string {
    return `file://${this.fsPath}`;
  }
  static file(p: string): FakeUri {
    return new FakeUri(p);
  }
  static joinPath(base: FakeUri, ...parts: string[]): FakeUri {
    return new FakeUri(path.join(base.fsPath, ...parts));
  }
}

export class FakeWebview {
  options: unknown = {};
  html = '';
  readonly cspSource = 'https://file+.vscode-resource.vscode-cdn.net';
  readonly posted: unknown[] = [];
  private readonly received = new EventEmitter<unknown>();
  readonly onDidReceiveMessage = this.received.event;
  asWebviewUri(uri: FakeUri): { toString(): string } {
    return { toString: () => `https://file+.vscode-resource.vscode-cdn.net${uri.fsPath}` };
  }
  postMessage(message: unknown): Promise<boolean> {
    // Webviews receive a structured clone.
    this.posted.push(structuredClone(message));
    return Promise.resolve(true);
  }
  /** Simulates the webview script posting to the host. */
  send(message: unknown): void {
    this.received.fire(message);
  }
}

export class FakeWebviewView {
  readonly webview = new FakeWebview();
  visible = true;
  readonly visibility = new EventEmitter<void>();
  readonly disposed = new EventEmitter<void>();
  readonly onDidChangeVisibility = this.visibility.event;
  readonly onDidDispose = this.disposed.event;
  show(): void {
    this.visible = true;
  }
}

export class FakeWebviewPanel {
  readonly webview = new FakeWebview();
  visible = true;
  title: string;
  iconPath: unknown;
  private readonly viewState = new EventEmitter<void>();
  private readonly disposedEmitter = new EventEmitter<void>();
  readonly onDidChangeViewState = this.viewState.event;
  readonly onDidDispose = this.disposedEmitter.event;
  constructor(
    readonly viewType: string,
    title: string,
  ) {
    this.title = title;
  }
  reveal(): void {
    this.visible = true;
  }
  dispose(): void {
    this.disposedEmitter.fire();
  }
}

export class CancellationTokenSource {
  readonly token = { isCancellationRequested: false };
  cancel(): void {
    this.token.isCancellationRequested = true;
  }
  dispose(): void {}
}

export class Range {
  constructor(
    readonly startLine: number,
    readonly startCharacter: number,
    readonly endLine: number,
    readonly endCharacter: number,
  ) {}
}

/** Records and scripts what the fake window/workspace do. */
export const fake = {
  panels: [] as FakeWebviewPanel[],
  saveDialogAnswer: undefined as FakeUri | undefined,
  shown: [] as { uri: string; selection: Range }[],
  commands: new Map<string, (...args: unknown[]) => unknown>(),
  /** Settings by scope, as `getConfiguration(section).inspect(key)` reports them; full keys ("section.key"). */
  settings: { global: {} as Record<string, unknown>, workspace: {} as Record<string, unknown> },
  /** Messages shown with window.showInformationMessage / showWarningMessage, in order. */
  messages: [] as { kind: 'info' | 'warning'; text: string }[],
  reset(): void {
    this.messages = [];
    this.panels = [];
    this.saveDialogAnswer = undefined;
    this.shown = [];
    this.settings = { global: {}, workspace: {} };
    vscodeStub.workspace.isTrusted = true;
  },
};

/** `get` resolves like VS Code: workspace over global over the default. */
function getConfiguration(section: string) {
  const full = (key: string) => `${section}.${key}`;
  return {
    get: <T>(key: string, fallback: T): T => (fake.settings.workspace[full(key)] ?? fake.settings.global[full(key)] ?? fallback) as T,
    inspect: (key: string) => ({ key: full(key), globalValue: fake.settings.global[full(key)], workspaceValue: fake.settings.workspace[full(key)] }),
  };
}

/** A status bar item: what the user would see in it. */
export class FakeStatusBarItem {
  text = '';
  tooltip: unknown;
  name = '';
  command: string | undefined;
  backgroundColor: unknown;
  show(): void {}
  dispose(): void {}
}

export const vscodeStub = {
  EventEmitter,
  StatusBarAlignment: { Left: 1, Right: 2 },
  ThemeColor: class {
    constructor(readonly id: string) {}
  },
  MarkdownString: class {
    constructor(readonly value = '') {}
  },
  Uri: FakeUri,
  Range,
  CancellationTokenSource,
  ViewColumn: { Active: -1, Beside: -2, One: 1 },
  TextEditorRevealType: { InCenterIfOutsideViewport: 2 },
  window: {
    visibleTextEditors: [] as unknown[],
    createWebviewPanel(viewType: string, title: string): FakeWebviewPanel {
      const p = new FakeWebviewPanel(viewType, title);
      fake.panels.push(p);
      return p;
    },
    showSaveDialog: (): Promise<FakeUri | undefined> => Promise.resolve(fake.saveDialogAnswer),
    showTextDocument(document: { uri: FakeUri }, options: { selection: Range }): Promise<{ revealRange(): void }> {
      fake.shown.push({ uri: document.uri.toString(), selection: options.selection });
      return Promise.resolve({ revealRange: () => undefined });
    },
    createStatusBarItem: (): FakeStatusBarItem => new FakeStatusBarItem(),
    // nobody clicks: a message's buttons answer undefined
    showInformationMessage: (text: string): Promise<undefined> => (fake.messages.push({ kind: 'info', text }), Promise.resolve(undefined)),
    showWarningMessage: (text: string): Promise<undefined> => (fake.messages.push({ kind: 'warning', text }), Promise.resolve(undefined)),
    registerWebviewViewProvider: () => ({ dispose: () => undefined }),
    registerWebviewPanelSerializer: () => ({ dispose: () => undefined }),
  },
  workspace: {
    isTrusted: true,
    getConfiguration,
    workspaceFolders: undefined,
    getWorkspaceFolder: () => undefined,
    openTextDocument: (uri: FakeUri) =>
      Promise.resolve({
        uri,
        validateRange: (r: Range) => r,
      }),
    fs: {
      writeFile: (uri: FakeUri, bytes: Uint8Array): Promise<void> => {
        fs.writeFileSync(uri.fsPath, bytes);
        return Promise.resolve();
      },
    },
  },
  commands: {
    registerCommand(id: string, fn: (...args: unknown[]) => unknown): { dispose(): void } {
      fake.commands.set(id, fn);
      return { dispose: () => fake.commands.delete(id) };
    },
    executeCommand: (): Promise<undefined> => Promise.resolve(undefined),
  },
};

const loader = Module as unknown as { _load(request: string, parent: unknown, isMain: boolean): unknown };
const originalLoad = loader._load;
loader._load = function (request: string, parent: unknown, isMain: boolean): unknown {
  if (request === 'vscode') return vscodeStub;
  return originalLoad.call(this, request, parent, isMain);
};
