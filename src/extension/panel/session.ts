// One webview showing the circuit panel (the side-bar view or an editor-area panel): sets its
// options and HTML, waits for the `ready` handshake, validates every incoming message, and pairs
// host requests with their answers by id.

import * as vscode from 'vscode';
import {
  type ExportFormat,
  type HostMessage,
  parseWebviewMessage,
  PROTOCOL_VERSION,
  type WebviewMessage,
} from '../../protocol/messages';
import { Disposable } from './disposable';
import { makeNonce, renderPanelHtml } from './html';

export type SessionMessage = Exclude<WebviewMessage, { kind: 'ready' }>;

/** The side-bar view or the editor-area panel. */
export type WebviewKind = 'view' | 'panel';

export interface SessionHooks {
  /** The webview (re)loaded and is ready for an `update`. */
  onReady(session: PanelSession): void;
  /** A valid message other than `ready` (and other than answers to this session's own requests). */
  onMessage(session: PanelSession, message: SessionMessage): void;
  log(message: string): void;
}

interface PendingExport {
  readonly resolve: (data: string) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
  readonly format: ExportFormat;
}

/** Options every circuit webview gets: scripts on, resources only from dist/ and media/. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    enableCommandUris: false,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

export class PanelSession extends Disposable {
  private ready = false;
  private nextRequestId = 1;
  private readonly pending = new Map<number, PendingExport>();

  constructor(
    readonly webview: vscode.Webview,
    extensionUri: vscode.Uri,
    private readonly hooks: SessionHooks,
    readonly kind: WebviewKind,
  ) {
    super();
    webview.options = webviewOptions(extensionUri);
    webview.html = renderPanelHtml({
      cspSource: webview.cspSource,
      nonce: makeNonce(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'panel.css')).toString(),
      title: 'Circuit',
    });
    this.register(webview.onDidReceiveMessage((raw: unknown) => this.receive(raw)));
  }

  get isReady(): boolean {
    return this.ready && !this.isDisposed;
  }

  /** The webview's content was unloaded (hidden without retainContextWhenHidden); wait for a new `ready`. */
  markUnloaded(): void {
    this.ready = false;
    this.rejectAll('the circuit panel was hidden');
  }

  /** Posts a message if the webview is ready; returns whether it was sent. */
  post(message: HostMessage): boolean {
    if (!this.isReady) return false;
    void this.webview.postMessage(message).then(undefined, (e: unknown) => this.hooks.log(`postMessage failed: ${String(e)}`));
    return true;
  }

  /** Asks the webview for the exported graph; resolves with the data string the webview sent. */
  requestExport(format: ExportFormat, timeoutMs = 15_000): Promise<string> {
    if (!this.isReady) return Promise.reject(new Error('the circuit panel is not ready'));
    const requestId = this.nextRequestId++;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new Error(`the circuit panel did not answer the ${format} export request`));
      }, timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer, format });
      this.post({ kind: 'exportRequest', requestId, format });
    });
  }

  override dispose(): void {
    this.rejectAll('the circuit panel was closed');
    super.dispose();
  }

  private receive(raw: unknown): void {
    if (this.isDisposed) return;
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.hooks.log(`circuit panel: ignored a message from the webview (${parsed.error})`);
      return;
    }
    const message = parsed.message;
    if (message.kind === 'ready') {
      if (message.protocol !== PROTOCOL_VERSION) {
        this.hooks.log(`circuit panel: webview speaks protocol ${message.protocol}, host ${PROTOCOL_VERSION}`);
        return;
      }
      this.ready = true;
      this.hooks.onReady(this);
      return;
    }
    if (!this.ready) {
      this.hooks.log(`circuit panel: ignored "${message.kind}" before the ready handshake`);
      return;
    }
    if (message.kind === 'exportData' && message.requestId !== null) {
      const p = this.pending.get(message.requestId);
      if (!p || p.format !== message.format) {
        this.hooks.log('circuit panel: ignored an export answer nobody asked for');
        return;
      }
      this.pending.delete(message.requestId);
      clearTimeout(p.timer);
      p.resolve(message.data);
      return;
    }
    this.hooks.onMessage(this, message);
  }

  private rejectAll(reason: string): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(reason));
    }
    this.pending.clear();
  }
}
