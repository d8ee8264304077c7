// "Show circuit at cursor" and everything the circuit panel does afterwards: pick the circuit for
// the cursor's context, describe the token where the prediction is made, follow the cursor unless
// pinned, and turn the panel's ablation toggles into re-runs of the model (readout in the panel,
// flipped predictions in the editor).
import * as path from 'path';
import * as vscode from 'vscode';
import type { CircuitFile } from '../protocol/circuit';
import type { PanelAction, PanelModel, TokenRange, TopToken } from '../protocol/messages';
import { listAt, stringAt } from './codeContext';
import type { Documents } from './documents';
import { type Ablation, type Engine, isAblating, NO_ABLATION, type Readout } from './engine';
import { BRACKET_TASK, closingPoint, QUOTE_TASK } from './hover';
import type { CircuitPanelController } from './panel/circuitPanel';

export interface ShowArgs {
  readonly uri?: string;
  readonly offset?: number;
  readonly task?: string;
}

export class CircuitSession implements vscode.Disposable {
  private task: string | undefined;
  private uri: vscode.Uri | undefined;
  private offset = 0;
  private ablated = new Set<string>();
  private circuitOnly = false;
  private followTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly panel: CircuitPanelController,
    private readonly docs: Documents,
    private readonly engine: () => Engine | undefined,
    private mode: 'mean' | 'zero',
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      panel.onDidAction((a) => void this.onAction(a).catch((e) => this.fail(e))),
      vscode.window.onDidChangeTextEditorSelection((e) => this.follow(e)),
    );
  }

  get ablation(): Ablation {
    return { nodes: this.ablated, mode: this.mode, circuitOnly: this.circuitOnly ? this.task : undefined };
  }

  /** The command. With no arguments it works on the active editor's cursor. */
  async show(args?: ShowArgs): Promise<PanelModel | undefined> {
    const engine = this.engine();
    if (!engine) {
      void vscode.window.showWarningMessage('Circuit Inspector: no model is loaded — see the status bar for why.');
      return undefined;
    }
    const target = await this.resolveTarget(args);
    if (!target) return undefined;
    const { doc, offset } = target;
    const task = args?.task ?? (await this.pickTask(engine, doc.getText(), offset));
    if (!task) return undefined;
    if (task !== this.task) this.resetAblation();
    this.task = task;
    this.uri = doc.uri;
    this.offset = offset;
    const model = await this.build(doc, 'action');
    await this.panel.show(true);
    return model;
  }

  private async resolveTarget(args?: ShowArgs): Promise<{ doc: vscode.TextDocument; offset: number } | undefined> {
    if (args?.uri) {
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(args.uri));
      return { doc, offset: args.offset ?? 0 };
    }
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document.languageId !== 'python') {
      void vscode.window.showInformationMessage('Circuit Inspector: open a Python file and place the cursor in a string or a list.');
      return undefined;
    }
    return { doc: editor.document, offset: editor.document.offsetAt(editor.selection.active) };
  }

  /** Inside a string → the quote circuit; inside a list → brackets; otherwise ask. */
  private async pickTask(engine: Engine, text: string, offset: number): Promise<string | undefined> {
    const has = (t: string) => engine.circuits.some((c) => c.task === t);
    if (stringAt(text, offset) && has(QUOTE_TASK)) return QUOTE_TASK;
    if (listAt(text, offset) && has(BRACKET_TASK)) return BRACKET_TASK;
    const pick = await vscode.window.showQuickPick(
      engine.circuits.map((c) => ({ label: c.title, description: c.task, detail: c.description, task: c.task })),
      { title: 'Circuit Inspector: which circuit?', placeHolder: 'The cursor is not in a string or a list' },
    );
    return pick?.task;
  }

  private follow(e: vscode.TextEditorSelectionChangeEvent): void {
    if (!this.task || this.panel.pinned || !this.panel.visible) return;
    if (e.textEditor.document.languageId !== 'python') return;
    clearTimeout(this.followTimer);
    this.followTimer = setTimeout(() => {
      this.uri = e.textEditor.document.uri;
      this.offset = e.textEditor.document.offsetAt(e.selections[0].active);
      void this.build(e.textEditor.document, 'cursor').catch((err) => this.fail(err));
    }, 150);
  }

  private async onAction(a: PanelAction): Promise<void> {
    switch (a.kind) {
      case 'toggleNode':
        if (a.ablated) this.ablated.add(a.nodeId);
        else this.ablated.delete(a.nodeId);
        break;
      case 'setMode':
        this.mode = a.mode;
        break;
      case 'circuitOnly':
        this.circuitOnly = !this.circuitOnly;
        break;
      case 'reset':
        this.resetAblation();
        break;
      default:
        return; // reveal, export and pin are handled by the panel host
    }
    await this.applyAblation();
  }

  /** Re-run with the current ablation: editor marks first (debounced analysis), then the panel. */
  async applyAblation(): Promise<PanelModel | undefined> {
    this.docs.setAblation(this.ablation, this.task);
    if (!this.uri) return undefined;
    const doc = await vscode.workspace.openTextDocument(this.uri);
    if (this.panel.model) this.panel.update({ ...this.panel.model, ablated: [...this.ablated], circuitOnly: this.circuitOnly, mode: this.mode, busy: true }, { origin: 'action' });
    return this.build(doc, 'action');
  }

  /** Set ablations programmatically (tests, commands) and re-run. */
  async setAblation(nodes: string[], mode: 'mean' | 'zero', circuitOnly = false): Promise<PanelModel | undefined> {
    this.ablated = new Set(nodes);
    this.mode = mode;
    this.circuitOnly = circuitOnly;
    return this.applyAblation();
  }

  resetAblation(): void {
    this.ablated = new Set();
    this.circuitOnly = false;
    this.docs.setAblation(NO_ABLATION, undefined);
  }

  private async build(doc: vscode.TextDocument, origin: 'cursor' | 'action'): Promise<PanelModel | undefined> {
    const engine = this.engine();
    const task = this.task;
    if (!engine || !task) return undefined;
    const circuit = engine.circuits.find((c) => c.task === task) as CircuitFile;
    const text = doc.getText();
    const state = await this.docs.analyzeNow(doc);
    const at = closingPoint(text, this.offset, task) ?? this.offset;
    const token = state?.base.tokens.find((t) => t.start <= at && at < t.end) ?? [...(state?.base.tokens ?? [])].reverse().find((t) => t.start <= at);
    const ablation = this.ablation;
    const before = await engine.readout(text, at, task, NO_ABLATION);
    const after: Readout | null = isAblating(ablation) ? await engine.readout(text, at, task, ablation) : null;
    const only = await engine.readout(text, at, task, { nodes: new Set(), mode: this.mode, circuitOnly: task });
    const activations = await engine.activations(text, at, task, ablation);
    const model: PanelModel = {
      circuit,
      documentName: path.basename(doc.uri.path),
      documentVersion: doc.version,
      cursor: token ? { text: token.text, range: toRange(doc, token.start, token.end) } : null,
      activations,
      readout: {
        target: groundTruth(text, this.offset, task) ?? (before.logitDiff >= 0 ? 0 : 1),
        before,
        after,
        faithfulness: Math.abs(before.logitDiff) > 1e-6 ? only.logitDiff / before.logitDiff : null,
      },
      ablated: [...this.ablated].filter((id) => circuit.nodes.some((n) => n.id === id)),
      circuitOnly: this.circuitOnly,
      mode: this.mode,
      busy: false,
    };
    this.panel.update(model, { document: doc.uri, origin });
    return model;
  }

  /** For the panel's "top tokens in this file" list: over the part the highlights cover (all of it unless the file is over the size limit). */
  async topTokens(nodeId: string): Promise<TopToken[]> {
    const engine = this.engine();
    if (!engine || !this.uri) return [];
    const doc = await vscode.workspace.openTextDocument(this.uri);
    const part = (await this.docs.analyzeNow(doc))?.base.partial;
    const shift = part?.start ?? 0;
    const top = await engine.topTokens(part ? doc.getText().slice(part.start, part.end) : doc.getText(), nodeId, 20);
    return top.map((t) => ({ text: t.text, value: t.value, range: toRange(doc, shift + t.start, shift + t.end) }));
  }

  private fail(err: unknown): void {
    this.log.error(`circuit panel: ${err instanceof Error ? err.message : String(err)}`);
  }

  dispose(): void {
    clearTimeout(this.followTimer);
    this.disposables.forEach((d) => d.dispose());
  }
}

/** The class the code itself says is right: the string's quote, or whether the list is nested. */
function groundTruth(text: string, offset: number, task: string): 0 | 1 | undefined {
  if (task === QUOTE_TASK) {
    const s = stringAt(text, offset);
    return s ? (s.quote === '"' ? 0 : 1) : undefined;
  }
  if (task === BRACKET_TASK) {
    const l = listAt(text, offset);
    return l ? (l.depth >= 2 ? 0 : 1) : undefined;
  }
  return undefined;
}

function toRange(doc: vscode.TextDocument, start: number, end: number): TokenRange {
  const a = doc.positionAt(start);
  const b = doc.positionAt(end);
  return { line: a.line, character: a.character, endLine: b.line, endCharacter: b.character };
}
