// One webview showing the circuit panel (the side-bar view or an editor-area panel): sets its
// options and HTML, waits for the `ready` handshake, validates every incoming message, and pairs
// the host's requests with their answers by id (../../schemas/request).

import * as vscode from 'vscode';
import { exportRequest, type ExportFormat, type HostMessage, parseWebviewMessage, PROTOCOL_VERSION, type WebviewMessage } from '../../schemas/messages';
import { Requests } from '../../schemas/request';
import { Disposable } from './disposable';
import { makeNonce, renderPanelHtml } from './html';

export type ConnectionMessage = Exclude<WebviewMessage, { kind: 'ready' }>;

/** The side-bar view or the editor-area panel. */
export type WebviewKind = 'view' | 'panel';

export interface ConnectionHooks {
  /** The webview (re)loaded and is ready for an `update`. */
  onReady(connection: WebviewConnection): void;
  /** A valid message other than `ready` (and other than answers to this connection's own requests). */
  onMessage(connection: WebviewConnection, message: ConnectionMessage): void;
  log(message: string): void;
}

/** Options every circuit webview gets: scripts on, resources only from dist/ and media/. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    enableCommandUris: false,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

export class WebviewConnection extends Disposable {
  private ready = false;
  private readonly requests = new Requests<HostMessage>((m) => this.post(m));

  constructor(
    readonly webview: vscode.Webview,
    extensionUri: vscode.Uri,
    private readonly hooks: ConnectionHooks,
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
    this.requests.rejectAll('the circuit panel was hidden');
  }

  /** Posts a message if the webview is ready; returns whether it was sent. */
  post(message: HostMessage): boolean {
    if (!this.isReady) return false;
    void this.webview.postMessage(message).then(undefined, (e: unknown) => this.hooks.log(`postMessage failed: ${String(e)}`));
    return true;
  }

  /** Asks the webview for the exported graph; resolves with the data string the webview sent. */
  async requestExport(format: ExportFormat, timeoutMs = 15_000): Promise<string> {
    if (!this.isReady) throw new Error('the circuit panel is not ready');
    return (await this.requests.request(exportRequest, { format }, timeoutMs)).data;
  }

  override dispose(): void {
    this.requests.rejectAll('the circuit panel was closed');
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
      if (!this.requests.settle({ ...message, requestId: message.requestId })) this.hooks.log('circuit panel: ignored an export answer nobody asked for');
      return;
    }
    this.hooks.onMessage(this, message);
  }
}
