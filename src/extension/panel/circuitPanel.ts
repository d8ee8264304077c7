// Host side of the circuit panel: a WebviewViewProvider for the view in the extension's own
// activity-bar container (users can drag it to the secondary side bar) and, on demand, the same UI
// as a WebviewPanel beside the editor. It shows whatever `PanelModel` the circuit controller gives
// it and passes the webview's ablation, label and circuit-choice messages on as they arrived (`onDidRequestAblation`,
// `onDidRequestLabel`, `onDidChooseCircuit`); it never runs the model and keeps no ablation state of its own. Pinning, revealing a token and
// exports are its own business.
//
// Wiring (src/extension/extension.ts):
//   const panel = registerCircuitPanel(context, { topTokens: (id, token) => … });
//   panel.onDidRequestAblation((m) => controller …);   // the controller re-renders with panel.update
//   // on cursor moves:     panel.update(model, { document: uri, origin: 'cursor' }) — ignored while pinned
//   // "Show circuit at cursor": panel.update(model, { document: uri }); await panel.show();

import * as path from 'path';
import * as vscode from 'vscode';
import { errorMessage } from '../../core/errors';
import { check } from '../../schemas/validate';
import { checkExportData } from '../../schemas/exportData';
import { type AblationMessage, type ExportFormat, LIMITS, panelModel, type PanelModel, type TokenRange, topToken, type TopToken } from '../../schemas/messages';
import { Disposable } from './disposable';
import { NodeExamplesStore } from './nodeExamples';
import { type ConnectionMessage, WebviewConnection, webviewOptions, type WebviewKind } from './webviewConnection';

export const VIEW_ID = 'circuitInspector.circuitView';
export const PANEL_VIEW_TYPE = 'circuitInspector.circuitPanel';
export const OPEN_BESIDE_COMMAND = 'circuitInspector.openCircuitBeside';
export const EXPORT_COMMAND = 'circuitInspector.exportCircuit';

const EXPORT_FILTERS: Record<ExportFormat, Record<string, string[]>> = {
  png: { 'PNG image': ['png'] },
  svg: { 'SVG image': ['svg'] },
  json: { JSON: ['json'] },
};

export interface CircuitPanelOptions {
  /**
   * Where `nodeId` fires most in the analysed file, strongest first (at most 100 are shown).
   * Called lazily when the user opens a node's details; results are cached by the webview per
   * (documentName, documentVersion, task), so implementations may compute on demand.
   */
  readonly topTokens?: (nodeId: string, token: vscode.CancellationToken) => Promise<readonly TopToken[]> | readonly TopToken[];
  /** Diagnostics (ignored messages, failures); e.g. an OutputChannel's appendLine. */
  readonly log?: (message: string) => void;
  /** How long an export waits for a side-bar view that is still loading before it opens the panel beside the editor (default 5 s). */
  readonly viewGraceMs?: number;
  /**
   * Where the user last chose to see the circuit (`show` opens it there) and the side-bar view's
   * last measured width; e.g. the extension's globalState.
   */
  readonly placement?: Pick<vscode.Memento, 'get' | 'update'>;
}

/** A label the user typed for `nodeId` of the circuit of `task` (empty: back to the node's id). */
export interface NodeLabelRequest {
  readonly task: string;
  readonly nodeId: string;
  readonly label: string;
}

/** A node the user selected in the panel, with the document and token the panel describes. */
export interface NodeSelection {
  readonly nodeId: string;
  readonly document: vscode.Uri | undefined;
  readonly cursor: PanelModel['cursor'];
}

/** Where `show` opens the circuit: beside the editor, or the side-bar view. */
export type Placement = 'beside' | 'view';
export const PLACEMENT_KEY = 'circuitInspector.placement';
export const VIEW_WIDTH_KEY = 'circuitInspector.viewWidth';

/**
 * The page width the circuit graph needs to be read: the panel lays the shipped quote circuit out
 * with readable labels at 520 px (test/webview-harness checks it there). The side bar is ~300 px
 * unless the user widened it.
 */
export const GRAPH_NEEDS_PX = 520;

export interface UpdateOptions {
  /** The analysed document; needed to reveal top tokens in the editor. Kept from the last update if omitted. */
  readonly document?: vscode.Uri;
  /**
   * 'cursor': a cursor-driven refresh, dropped while the panel is pinned.
   * 'action' (default): the result of a user action (ablation, mode, "Show circuit at cursor"), always shown.
   */
  readonly origin?: 'cursor' | 'action';
}

export class CircuitPanelController extends Disposable implements vscode.WebviewViewProvider {
  private readonly ablationRequested = this.register(new vscode.EventEmitter<AblationMessage>());
  /** The user toggled a node, picked the mode, asked for circuit only or reset: the webview's message itself. */
  readonly onDidRequestAblation: vscode.Event<AblationMessage> = this.ablationRequested.event;
  private readonly labelRequested = this.register(new vscode.EventEmitter<NodeLabelRequest>());
  /** The user typed a label for a node of the circuit shown (src/extension/nodeLabels keeps it). */
  readonly onDidRequestLabel: vscode.Event<NodeLabelRequest> = this.labelRequested.event;
  private readonly nodeSelected = this.register(new vscode.EventEmitter<NodeSelection>());
  /** The user selected a node of the circuit shown. */
  readonly onDidSelectNode: vscode.Event<NodeSelection> = this.nodeSelected.event;
  private readonly circuitChosen = this.register(new vscode.EventEmitter<string>());
  /** The user picked another circuit of the cursor's token (one of the model's `choices`): its task. */
  readonly onDidChooseCircuit: vscode.Event<string> = this.circuitChosen.event;

  /** The current model, its circuit without the nodes' examples (`nodeExamples` holds them). */
  private current: PanelModel | undefined;
  /** Why the panel shows no circuit, once `clear` has taken the last one away. */
  private clearedBecause: string | undefined;
  private readonly nodeExamples = new NodeExamplesStore();
  private documentUri: vscode.Uri | undefined;
  private isPinned = false;
  private view: { readonly view: vscode.WebviewView; readonly connection: WebviewConnection } | undefined;
  private panel: { readonly panel: vscode.WebviewPanel; readonly connection: WebviewConnection } | undefined;
  /** Called on every `ready` handshake; a waiter that returns true is done and removed. */
  private readonly readyWaiters = new Set<() => boolean>();
  private readonly requests = new Set<vscode.CancellationTokenSource>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly options: CircuitPanelOptions = {},
  ) {
    super();
  }

  /** The model last shown (undefined before the first update). */
  get model(): PanelModel | undefined {
    return this.current;
  }

  /** Pinned: the user wants the panel to stay on its token; cursor-driven updates are dropped. */
  get pinned(): boolean {
    return this.isPinned;
  }

  set pinned(value: boolean) {
    if (value === this.isPinned) return;
    this.isPinned = value;
    this.broadcast();
  }

  /** True when the view or the panel is on screen. */
  get visible(): boolean {
    return Boolean(this.view?.view.visible || this.panel?.panel.visible);
  }

  /**
   * Shows `model` in every open circuit webview. Returns false (and changes nothing) when the
   * update is cursor-driven and the panel is pinned, or when the model is malformed (e.g. a NaN
   * activation or an ablated id outside the circuit: logged with the offending field, like every
   * other failure in the extension).
   */
  update(model: PanelModel, options: UpdateOptions = {}): boolean {
    if (this.isDisposed) return false;
    if (options.origin === 'cursor' && this.isPinned) return false;
    const checked = check(panelModel, this.nodeExamples.strip(model));
    if (!checked.ok) {
      this.log(`circuit panel: invalid PanelModel: ${checked.error.message}`);
      return false;
    }
    this.current = checked.value;
    this.clearedBecause = undefined;
    if (options.document) this.documentUri = options.document;
    if (this.panel) this.panel.panel.title = panelTitle(this.current);
    this.broadcast();
    return true;
  }

  /** The user labelled node `nodeId` of the circuit shown (the webview's `setLabel`): passed on as `onDidRequestLabel`. */
  requestLabel(nodeId: string, label: string): void {
    if (!this.current || !this.hasNode(nodeId)) return this.log(`circuit panel: label for unknown node ${nodeId}`);
    this.labelRequested.fire({ task: this.current.circuit.task, nodeId, label });
  }

  /** The user selected node `nodeId` of the circuit shown (the webview's `selectNode`): passed on as `onDidSelectNode`. */
  requestSelect(nodeId: string): void {
    if (this.hasNode(nodeId)) this.nodeSelected.fire({ nodeId, document: this.documentUri, cursor: this.current?.cursor ?? null });
  }

  /** The user picked another circuit of the token shown (the webview's `chooseCircuit`): passed on as `onDidChooseCircuit` when the shown model offers it. */
  requestCircuit(task: string): void {
    if (!this.current?.choices?.some((c) => c.task === task)) return this.log(`circuit panel: ${task} is not a circuit of this token`);
    this.circuitChosen.fire(task);
  }

  /** The circuit shown is no longer valid (the model changed): every webview shows `reason` instead, pinned or not. */
  clear(reason: string): void {
    if (this.isDisposed) return;
    this.current = undefined;
    this.clearedBecause = reason;
    if (this.panel) this.panel.panel.title = 'Circuit';
    this.broadcast();
  }

  /** Why the panel shows no circuit, when `clear` took it away. */
  get cleared(): string | undefined {
    return this.clearedBecause;
  }

  /**
   * Reveals the panel beside the editor if it is open; otherwise opens the circuit where the user
   * last chose to see it or, before any choice, where there is room: the side-bar view when its
   * measured width (the webview reports it) is at least GRAPH_NEEDS_PX, else beside the editor.
   * Closing the beside panel while the side-bar view is on screen chooses the view; "Open beside"
   * chooses beside again.
   */
  async show(preserveFocus = true): Promise<void> {
    if (this.panel) {
      this.panel.panel.reveal(undefined, preserveFocus);
      return;
    }
    if (this.placement !== 'view') {
      this.openBeside();
      return;
    }
    if (this.view) {
      this.view.view.show(preserveFocus);
      return;
    }
    await vscode.commands.executeCommand(`${VIEW_ID}.focus`);
  }

  /** Where `show` opens the circuit when the beside panel is not open. */
  get placement(): Placement {
    const chosen = this.options.placement?.get<Placement>(PLACEMENT_KEY);
    if (chosen === 'view' || chosen === 'beside') return chosen;
    return (this.viewWidth ?? 0) >= GRAPH_NEEDS_PX ? 'view' : 'beside';
  }

  /** The side-bar view's width in CSS pixels as its webview last reported it (undefined: never shown). */
  get viewWidth(): number | undefined {
    return this.options.placement?.get<number>(VIEW_WIDTH_KEY);
  }

  /** The user asked for the panel beside the editor ("Open beside"): `show` opens it there from now on. */
  chooseBeside(): void {
    this.choose('beside');
  }

  private choose(placement: Placement): void {
    if (placement !== this.placement) void this.options.placement?.update(PLACEMENT_KEY, placement);
  }

  /** Opens (or reveals) the circuit UI as an editor panel beside the active editor. */
  openBeside(): void {
    if (this.panel) {
      this.panel.panel.reveal(vscode.ViewColumn.Beside, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      PANEL_VIEW_TYPE,
      this.current ? panelTitle(this.current) : 'Circuit',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { ...webviewOptions(this.extensionUri), retainContextWhenHidden: false },
    );
    this.adoptPanel(panel);
  }

  /** The "Export circuit graph" command: asks for a format and a file, then exports the circuit last shown. */
  async exportWithDialog(): Promise<void> {
    if (!this.current) {
      void vscode.window.showInformationMessage('Circuit Inspector: no circuit to export yet; use "Show circuit at cursor" first.');
      return;
    }
    const formats = Object.keys(EXPORT_FILTERS) as ExportFormat[];
    const pick = await vscode.window.showQuickPick(
      formats.map((format) => ({ label: format.toUpperCase(), format })),
      { title: 'Export the circuit graph as' },
    );
    const target = pick && (await this.askTarget(pick.format));
    if (!pick || !target) return;
    try {
      await this.exportTo(pick.format, target);
    } catch (e) {
      void vscode.window.showErrorMessage(`Circuit Inspector: could not export the circuit: ${errorMessage(e)}`);
    }
  }

  /**
   * Exports the graph to `target` without a dialog, from the webview `from` names or else from
   * whichever is ready first. Opens the panel beside the editor when the export needs it or no
   * circuit webview is on screen.
   */
  async exportTo(format: ExportFormat, target: vscode.Uri, from?: WebviewKind): Promise<void> {
    const connection = await this.readyConnection(from);
    const data = await connection.requestExport(format);
    await this.writeExport(format, data, target);
  }

  // WebviewViewProvider ---------------------------------------------------------------------

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view?.connection.dispose();
    const connection = this.connect(view, 'view', view.onDidChangeVisibility, () => {
      if (this.view === entry) this.view = undefined;
    });
    const entry = { view, connection };
    this.view = entry;
  }

  /** Takes over a panel created by `openBeside` or restored by VS Code after a reload. */
  adoptPanel(panel: vscode.WebviewPanel): void {
    const previous = this.panel;
    this.panel = undefined;
    previous?.panel.dispose();
    panel.iconPath = {
      light: vscode.Uri.joinPath(this.extensionUri, 'media', 'circuit-light.svg'),
      dark: vscode.Uri.joinPath(this.extensionUri, 'media', 'circuit-dark.svg'),
    };
    const connection = this.connect(panel, 'panel', panel.onDidChangeViewState, () => {
      if (this.panel !== entry) return; // replaced or disposed by us, not closed by the user
      this.panel = undefined;
      // the user closed it while the side-bar view is on screen: they want the circuit there
      if (this.view?.view.visible) this.choose('view');
    });
    const entry = { panel, connection };
    this.panel = entry;
  }

  /**
   * A connection to `host`'s webview that counts as unloaded while the host is hidden (`shown` fires
   * when that changes) and is disposed with the host, `closed` running after.
   */
  private connect(host: vscode.WebviewView | vscode.WebviewPanel, kind: WebviewKind, shown: vscode.Event<unknown>, closed: () => void): WebviewConnection {
    const connection = new WebviewConnection(host.webview, this.extensionUri, this.hooks, kind);
    connection.register(
      shown(() => {
        if (!host.visible) connection.markUnloaded();
      }),
    );
    connection.register(
      host.onDidDispose(() => {
        connection.dispose();
        closed();
      }),
    );
    return connection;
  }

  override dispose(): void {
    for (const r of this.requests) r.cancel();
    this.requests.clear();
    this.view?.connection.dispose();
    const panel = this.panel;
    this.panel = undefined;
    panel?.panel.dispose();
    super.dispose();
  }

  // Internals -------------------------------------------------------------------------------

  private readonly hooks = {
    onReady: (connection: WebviewConnection): void => {
      this.postUpdate(connection);
      for (const w of [...this.readyWaiters]) if (w()) this.readyWaiters.delete(w);
    },
    onMessage: (connection: WebviewConnection, message: ConnectionMessage): void => {
      void this.handle(connection, message).catch((e: unknown) => this.log(`circuit panel: ${message.kind} failed: ${errorMessage(e)}`));
    },
    log: (message: string): void => this.log(message),
  };

  private async handle(connection: WebviewConnection, m: ConnectionMessage): Promise<void> {
    switch (m.kind) {
      case 'toggleNode':
        if (!this.hasNode(m.nodeId)) return this.log(`circuit panel: toggle for unknown node ${m.nodeId}`);
        this.ablationRequested.fire(m);
        return;
      case 'setMode':
      case 'circuitOnly':
      case 'reset':
        this.ablationRequested.fire(m);
        return;
      case 'setLabel':
        this.requestLabel(m.nodeId, m.label);
        return;
      case 'chooseCircuit':
        this.requestCircuit(m.task);
        return;
      case 'setPinned':
        this.isPinned = m.pinned;
        for (const c of this.connections()) if (c !== connection) this.postUpdate(c);
        return;
      case 'revealToken':
        if (this.hasNode(m.nodeId)) await this.reveal(m.range);
        return;
      case 'selectNode':
        if (m.nodeId !== null) this.requestSelect(m.nodeId);
        return;
      case 'topTokensRequest':
        await this.answerTopTokens(connection, m.requestId, m.nodeId);
        return;
      case 'nodeExamplesRequest':
        connection.post({ kind: 'nodeExamples', requestId: m.requestId, nodeId: m.nodeId, examples: this.hasNode(m.nodeId) ? this.nodeExamples.examples(m.nodeId) : null });
        return;
      case 'exportData':
        await this.saveWithDialog(connection, m.format, m.data);
        return;
      case 'log':
        this.log(`circuit webview [${m.level}]: ${m.message}`);
        return;
      case 'viewport':
        // only the side bar's width decides anything; kept across sessions (VS Code keeps the side bar's width too)
        if (connection.kind === 'view' && m.width > 0 && m.width !== this.viewWidth) await this.options.placement?.update(VIEW_WIDTH_KEY, m.width);
        return;
    }
  }

  private async answerTopTokens(connection: WebviewConnection, requestId: number, nodeId: string): Promise<void> {
    let tokens: readonly TopToken[] = [];
    if (this.options.topTokens && this.hasNode(nodeId)) {
      const source = new vscode.CancellationTokenSource();
      this.requests.add(source);
      try {
        const raw = await this.options.topTokens(nodeId, source.token);
        tokens = raw.slice(0, LIMITS.topTokens).filter((t) => check(topToken, t).ok);
      } finally {
        this.requests.delete(source);
        source.dispose();
      }
    }
    connection.post({ kind: 'topTokens', requestId, nodeId, tokens });
  }

  private async reveal(r: TokenRange): Promise<void> {
    const uri = this.documentUri;
    if (!uri) return;
    const document = await vscode.workspace.openTextDocument(uri);
    const range = document.validateRange(new vscode.Range(r.line, r.character, r.endLine, r.endCharacter));
    const existing = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri.toString());
    const editor = await vscode.window.showTextDocument(document, {
      viewColumn: existing?.viewColumn ?? vscode.ViewColumn.One,
      selection: range,
      preserveFocus: false,
    });
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  /** The file to export to, from a save dialog in the analysed document's workspace folder. */
  private askTarget(format: ExportFormat): Thenable<vscode.Uri | undefined> {
    const name = `${this.current?.circuit.task ?? 'circuit'}-circuit.${format}`;
    const folder = this.documentUri ? vscode.workspace.getWorkspaceFolder(this.documentUri)?.uri : vscode.workspace.workspaceFolders?.[0]?.uri;
    return vscode.window.showSaveDialog({
      title: `Export circuit graph as ${format.toUpperCase()}`,
      saveLabel: 'Export',
      defaultUri: folder ? vscode.Uri.joinPath(folder, name) : undefined,
      filters: EXPORT_FILTERS[format],
    });
  }

  private async saveWithDialog(connection: WebviewConnection, format: ExportFormat, data: string): Promise<void> {
    const target = await this.askTarget(format);
    if (!target) return;
    try {
      await this.writeExport(format, data, target);
      connection.post({ kind: 'notice', level: 'info', message: `Saved ${path.basename(target.fsPath)}` });
    } catch (e) {
      connection.post({ kind: 'notice', level: 'error', message: `Could not save: ${errorMessage(e)}`.slice(0, LIMITS.notice) });
      throw e;
    }
  }

  private async writeExport(format: ExportFormat, data: string, target: vscode.Uri): Promise<void> {
    checkExportData(format, data); // already checked on receipt; cheap insurance before touching disk
    const bytes = format === 'png' ? Buffer.from(data.slice(data.indexOf(',') + 1), 'base64') : Buffer.from(data, 'utf8');
    await vscode.workspace.fs.writeFile(target, bytes);
  }

  /**
   * A webview of `kind` (either, if undefined) that has done its `ready` handshake. A side-bar view
   * that is on screen but still loading gets `viewGraceMs` before the panel beside the editor is
   * opened: two webviews loading the same bundle at once slow each other down, but a view that is
   * marked visible is not guaranteed ever to load, so the wait is bounded.
   */
  private async readyConnection(kind?: WebviewKind, timeoutMs = 20_000): Promise<WebviewConnection> {
    const ready = (): WebviewConnection | undefined => this.connections().find((s) => s.isReady && (kind === undefined || s.kind === kind));
    const now = ready();
    if (now) return now;
    const openPanel = (): void => {
      if (!this.panel) this.openBeside();
      else this.panel.panel.reveal(undefined, true);
    };
    const viewLoading = kind !== 'panel' && this.view?.view.visible === true;
    let grace: ReturnType<typeof setTimeout> | undefined;
    if (!viewLoading) openPanel();
    else if (kind === undefined) grace = setTimeout(openPanel, this.options.viewGraceMs ?? 5_000);
    return new Promise<WebviewConnection>((resolve, reject) => {
      const waiter = (): boolean => {
        const s = ready();
        if (!s) return false;
        clearTimeout(timer);
        clearTimeout(grace);
        resolve(s);
        return true;
      };
      const timer = setTimeout(() => {
        clearTimeout(grace);
        this.readyWaiters.delete(waiter);
        reject(new Error('the circuit panel did not load'));
      }, timeoutMs);
      this.readyWaiters.add(waiter);
    });
  }

  private connections(): WebviewConnection[] {
    return [this.view?.connection, this.panel?.connection].filter((s): s is WebviewConnection => s !== undefined);
  }

  private broadcast(): void {
    for (const s of this.connections()) this.postUpdate(s);
  }

  private postUpdate(connection: WebviewConnection): void {
    if (this.current) connection.post({ kind: 'update', model: this.current, pinned: this.isPinned });
    else if (this.clearedBecause) connection.post({ kind: 'cleared', message: this.clearedBecause });
  }

  private hasNode(id: string): boolean {
    return Boolean(this.current?.circuit.nodes.some((n) => n.id === id));
  }

  private log(message: string): void {
    this.options.log?.(message);
  }
}

/**
 * Registers the circuit view provider, the "open beside" command and the panel serializer, and
 * returns the controller the rest of the extension feeds with `update()` and listens to with
 * `onDidAction`. Everything is disposed with the extension context.
 */
export function registerCircuitPanel(context: vscode.ExtensionContext, options: CircuitPanelOptions = {}): CircuitPanelController {
  const controller = new CircuitPanelController(context.extensionUri, { placement: context.globalState, ...options });
  context.subscriptions.push(
    controller,
    vscode.window.registerWebviewViewProvider(VIEW_ID, controller),
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel): Promise<void> => {
        panel.webview.options = webviewOptions(context.extensionUri);
        controller.adoptPanel(panel);
      },
    }),
    vscode.commands.registerCommand(OPEN_BESIDE_COMMAND, () => {
      controller.chooseBeside();
      controller.openBeside();
    }),
    vscode.commands.registerCommand(EXPORT_COMMAND, () => controller.exportWithDialog()),
  );
  return controller;
}

function panelTitle(model: PanelModel): string {
  return `Circuit: ${model.circuit.title}`;
}
