// "Show circuit at cursor" and everything the circuit panel does afterwards. The controller owns
// the ablation state (which nodes, which mode, circuit only): the panel's toggles arrive here as
// the webview's own messages, the documents re-run on `onDidChangeAblation`, and the panel is
// re-rendered from this state, never read back. It also picks the circuit for the cursor's
// context, describes the token where the prediction is made, and follows the cursor unless pinned.
import * as path from 'path';
import * as vscode from 'vscode';
import { type Ablation, type AblationMode, isAblating, NO_ABLATION } from '../core/analysis';
import { taskEvidence } from '../core/circuitEvidence';
import { describeChange, describeCircuitPrediction } from '../core/readoutText';
import { errorMessage } from '../core/errors';
import { circuitAt, circuitsAt, documentScope, scopeOf } from '../core/tasks';
import type { CircuitFile } from '../schemas/circuit';
import type { AblationMessage, ClassReadout, PanelModel, PanelReadout, TokenRange, TopToken } from '../schemas/messages';
import type { Documents } from './documents';
import type { DocumentResult, FiringToken, LoadedModel } from './loadedModel';
import { modelOrWarn, noCircuits } from './modelLoader';
import { modelFor } from './notebookCells';
import type { CircuitPanelController } from './panel/circuitPanel';
import { WHY_COMMAND } from './whyThisToken';

export interface ShowArgs {
  readonly uri?: string;
  readonly offset?: number;
  readonly task?: string;
}

/** The ablation now in force and the task whose prediction flips the editor marks. */
export interface AblationChange {
  readonly ablation: Ablation;
  readonly task: string | undefined;
}

/** What the panel shows besides the ablation state: one measurement at one token. */
type Measurement = Omit<PanelModel, 'ablated' | 'circuitOnly' | 'mode' | 'busy'> & { readonly document: vscode.Uri };

export class CircuitController implements vscode.Disposable {
  private task: string | undefined;
  private uri: vscode.Uri | undefined;
  private offset = 0;
  private ablated = new Set<string>();
  private circuitOnly = false;
  private shown: Measurement | undefined;
  private followTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly ablationChanged = new vscode.EventEmitter<AblationChange>();
  /** The ablation changed (a toggle, the mode, circuit only, reset, another circuit). */
  readonly onDidChangeAblation: vscode.Event<AblationChange> = this.ablationChanged.event;
  private readonly disposables: vscode.Disposable[] = [this.ablationChanged];

  constructor(
    private readonly panel: CircuitPanelController,
    private readonly docs: Documents,
    private readonly model: () => LoadedModel | undefined,
    private mode: AblationMode,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      panel.onDidRequestAblation((m) => void this.onAblationMessage(m).catch((e) => this.fail(e))),
      panel.onDidChooseCircuit((task) => void this.choose(task).catch((e) => this.fail(e))),
      vscode.window.onDidChangeTextEditorSelection((e) => this.follow(e)),
    );
  }

  get ablation(): Ablation {
    const only = this.circuitOnly ? this.circuit() : undefined;
    return { nodes: this.ablated, mode: this.mode, circuitOnly: only };
  }

  /** The command. With no arguments it works on the active editor's cursor. */
  async show(args?: ShowArgs): Promise<PanelModel | undefined> {
    const model = modelOrWarn(this.model());
    if (!model) return undefined;
    if (model.circuits.length === 0 && !args?.task) {
      void vscode.window.showInformationMessage(`Circuit Inspector: ${noCircuits(model.modelName)}`, 'Why this token?').then((c) => c && vscode.commands.executeCommand(WHY_COMMAND));
      return undefined;
    }
    const target = await this.resolveTarget(args);
    if (!target) return undefined;
    const { doc, offset } = target;
    const task = args?.task ?? (await this.pickTask(model, doc, offset));
    if (!task) return undefined;
    const otherCircuit = task !== this.task;
    this.task = task;
    this.uri = doc.uri;
    this.offset = offset;
    if (otherCircuit) this.changeAblation(new Set(), this.mode, false);
    const shown = await this.measure(doc, 'action');
    await this.panel.show(true);
    return shown;
  }

  /**
   * A model was loaded (or failed to load): the panel must not go on showing the old model's
   * circuit. It shows the new model's circuit of the same task at the same place, else the one whose
   * task applies there, else says that the model changed and has no circuit here. The ablation named
   * the old model's nodes, so it is dropped.
   */
  async modelChanged(): Promise<PanelModel | undefined> {
    if (!this.task || !this.uri) return undefined; // nothing shown yet
    const model = this.model();
    this.changeAblation(new Set(), this.mode, false);
    this.shown = undefined;
    const doc = await vscode.workspace.openTextDocument(this.uri);
    const same = model?.circuits.some((c) => c.task === this.task);
    this.task = model && (same ? this.task : await this.taskAt(model, doc, this.offset));
    if (this.task) return this.measure(doc, 'action');
    const why = model ? `The model changed to ${model.modelName}, which has no circuit whose task applies here.` : 'The model changed, and no model is loaded now (the status bar says why).';
    this.panel.clear(`${why} Run “Show circuit at cursor” or “Why this token?” to see one.`);
    return undefined;
  }

  /**
   * The user picked another circuit of the same token in the panel (its `choices`): it is shown there
   * instead. The ablation named the other circuit's nodes, so it is dropped, as "Show circuit at cursor" does.
   */
  async choose(task: string): Promise<PanelModel | undefined> {
    if (!this.uri || task === this.task || !this.model()?.circuits.some((c) => c.task === task)) return undefined;
    this.task = task;
    this.changeAblation(new Set(), this.mode, false);
    return this.measure(await vscode.workspace.openTextDocument(this.uri), 'action');
  }

  /** Set ablations programmatically (commands, tests) and re-run; without a mode, the one in force. */
  setAblation(nodes: readonly string[], mode: AblationMode = this.mode, circuitOnly = false): Promise<PanelModel | undefined> {
    this.changeAblation(new Set(nodes), mode, circuitOnly);
    return this.remeasure();
  }

  /** The `circuitInspector.ablationMode` setting changed: the ablation in force (and every later one) uses the new mode. */
  async setAblationMode(mode: AblationMode): Promise<void> {
    if (mode === this.mode) return;
    this.changeAblation(this.ablated, mode, this.circuitOnly);
    await this.remeasure();
  }

  /** For the panel's "top tokens in this file" list: over the part the highlights cover (all of it unless the file is over the size limit). */
  async topTokens(nodeId: string): Promise<TopToken[]> {
    if (!this.uri) return [];
    const doc = await vscode.workspace.openTextDocument(this.uri);
    const model = modelFor(this.model(), doc);
    if (!model) return [];
    const part = (await this.docs.analyzeNow(doc))?.base.partial;
    const shift = part?.start ?? 0;
    const top = await model.topTokens(part ? doc.getText().slice(part.start, part.end) : doc.getText(), nodeId, 20);
    return top.map((t) => ({ text: t.text, value: t.value, range: toRange(doc, shift + t.start, shift + t.end) }));
  }

  dispose(): void {
    clearTimeout(this.followTimer);
    this.disposables.forEach((d) => d.dispose());
  }

  // Ablation state ------------------------------------------------------------------------------

  private async onAblationMessage(m: AblationMessage): Promise<void> {
    const nodes = new Set(this.ablated);
    switch (m.kind) {
      case 'toggleNode':
        if (m.ablated) nodes.add(m.nodeId);
        else nodes.delete(m.nodeId);
        this.changeAblation(nodes, this.mode, this.circuitOnly);
        break;
      case 'setMode':
        this.changeAblation(nodes, m.mode, this.circuitOnly);
        break;
      case 'circuitOnly':
        this.changeAblation(nodes, this.mode, !this.circuitOnly);
        break;
      case 'reset':
        this.changeAblation(new Set(), this.mode, false);
        break;
    }
    await this.remeasure();
  }

  /** The one place the ablation state changes: subscribers (the documents) hear of it at once. */
  private changeAblation(nodes: Set<string>, mode: AblationMode, circuitOnly: boolean): void {
    this.ablated = nodes;
    this.mode = mode;
    this.circuitOnly = circuitOnly;
    const ablation = this.ablation;
    this.ablationChanged.fire(isAblating(ablation) ? { ablation, task: this.task } : { ablation: NO_ABLATION, task: undefined });
  }

  /** Re-run with the current ablation: the panel shows the new state as busy until the readout is back. */
  private async remeasure(): Promise<PanelModel | undefined> {
    if (!this.uri) return undefined;
    this.render('action', true);
    return this.measure(await vscode.workspace.openTextDocument(this.uri), 'action');
  }

  // Measuring and showing ----------------------------------------------------------------------

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

  /**
   * The first circuit whose task applies to the token at the cursor (core/tasks: inside a one-line
   * string → the quote circuit; before a list's `]` → brackets; …); otherwise ask.
   */
  private async pickTask(model: LoadedModel, doc: vscode.TextDocument, offset: number): Promise<string | undefined> {
    const known = await this.taskAt(model, doc, offset);
    if (known) return known;
    const pick = await vscode.window.showQuickPick(
      model.circuits.map((c) => ({ label: c.title, description: c.task, detail: c.description, task: c.task })),
      { title: 'Circuit Inspector: which circuit?', placeHolder: 'No circuit\'s task applies at the cursor' },
    );
    return pick?.task;
  }

  /** The first circuit of `model` with a scope whose task applies to the token at `offset`. */
  private async taskAt(model: LoadedModel, doc: vscode.TextDocument, offset: number): Promise<string | undefined> {
    const token = tokenAt((await this.docs.analyzeNow(doc))?.base.tokens ?? [], offset);
    // a circuit whose task applies anywhere (one found at a single token) is offered, never assumed
    const scoped = model.circuits.filter((c) => scopeOf(c).kind !== 'anywhere');
    return circuitAt(scoped, doc.getText(), token?.start ?? offset, token?.end ?? offset + 1)?.task;
  }

  private follow(e: vscode.TextEditorSelectionChangeEvent): void {
    if (!this.task || this.panel.pinned || !this.panel.visible) return;
    if (e.textEditor.document.languageId !== 'python') return;
    clearTimeout(this.followTimer);
    this.followTimer = setTimeout(() => {
      this.uri = e.textEditor.document.uri;
      this.offset = e.textEditor.document.offsetAt(e.selections[0].active);
      void this.measure(e.textEditor.document, 'cursor').catch((err) => this.fail(err));
    }, 150);
  }

  private circuit(): CircuitFile | undefined {
    return this.model()?.circuits.find((c) => c.task === this.task);
  }

  /**
   * Reads the model at the cursor's prediction point under the current ablation, then shows it.
   * Where the circuit's task does not apply to the cursor's token (core/tasks DocumentScope), the
   * panel gets no numbers and says so. The numbers come from the window the highlights' analysis
   * scores that token in (its part of a large file included), so they are the ones the editor drew.
   */
  private async measure(doc: vscode.TextDocument, origin: 'cursor' | 'action'): Promise<PanelModel | undefined> {
    const model = modelFor(this.model(), doc);
    const circuit = this.circuit();
    if (!model || !circuit) return undefined;
    const text = doc.getText();
    const state = await this.docs.analyzeNow(doc);
    const tokens = state?.base.tokens ?? [];
    const range = state?.base.partial;
    const scope = documentScope(text);
    const here = tokenAt(tokens, this.offset);
    const applies = here !== undefined && scope.applies(circuit, here.start, here.end);
    const at = applies ? (scope.predictionOffset(circuit, here.start, here.end) ?? this.offset) : this.offset;
    const token = applies ? tokenAt(tokens, at) : here;
    const base = { circuit, document: doc.uri, documentName: path.basename(doc.uri.path), documentVersion: doc.version, cursor: token ? { text: token.text, range: toRange(doc, token.start, token.end) } : null };
    this.shown = applies
      ? {
          ...base,
          activations: await model.activations(text, at, circuit.task, this.ablation, range),
          readout: await this.readout(model, text, at, circuit, scope.truth(circuit, here.start, here.end), scope.point(circuit, here.start, here.end)?.pending, range),
          ...choicesAt(model.circuits, circuit, text, here),
        }
      : { ...base, activations: {}, readout: null, applies: false };
    const { warning, realCode } = taskEvidence(circuit);
    const caveats = [warning, realCode].filter(Boolean).join(' ');
    if (caveats) this.shown = { ...this.shown, warning: caveats };
    return this.render(origin, false);
  }

  /** Before and after the ablation, and the circuit alone against the full model. */
  private async readout(model: LoadedModel, text: string, at: number, circuit: CircuitFile, truth: 0 | 1 | undefined, pending: boolean | undefined, range: DocumentResult['partial']): Promise<PanelReadout | null> {
    const ablation = this.ablation;
    const before = await model.readout(text, at, circuit.task, NO_ABLATION, range);
    if (!before) return null;
    const after = isAblating(ablation) ? ((await model.readout(text, at, circuit.task, ablation, range)) ?? null) : null;
    const only = await model.readout(text, at, circuit.task, { nodes: new Set(), mode: this.mode, circuitOnly: circuit }, range);
    const none = await model.readout(text, at, circuit.task, { nodes: new Set(), mode: this.mode, circuitOnly: { ...circuit, nodes: [] } }, range);
    const share = (r: ClassReadout | undefined) => (r && Math.abs(before.logitDiff) > 1e-6 ? r.logitDiff / before.logitDiff : null);
    const labels: [string, string] = [circuit.classes[0].label, circuit.classes[1].label];
    const prediction = describeCircuitPrediction(circuit, before.logitDiff, before.probs, truth, pending);
    return {
      target: truth ?? (before.logitDiff >= 0 ? 0 : 1),
      before,
      after,
      faithfulness: share(only),
      allAblated: share(none),
      // the webview shows text, not markdown
      words: { prediction: prediction.sentence.replace(/\*\*/g, ''), change: after ? describeChange(labels, before.logitDiff, after.logitDiff) : null },
    };
  }

  /** The panel model: the last measurement with the ablation state as it is now. */
  private render(origin: 'cursor' | 'action', busy: boolean): PanelModel | undefined {
    if (!this.shown) return undefined;
    const { document, ...shown } = this.shown;
    const inCircuit = new Set(shown.circuit.nodes.map((n) => n.id));
    const model: PanelModel = { ...shown, ablated: [...this.ablated].filter((id) => inCircuit.has(id)), circuitOnly: this.circuitOnly, mode: this.mode, busy };
    this.panel.update(model, { document, origin });
    return model;
  }

  private fail(err: unknown): void {
    this.log.error(`circuit panel: ${errorMessage(err)}`);
  }
}

/** The circuits the panel offers at the token `here`: every one whose task scope applies there, when the shown circuit is among them (a found circuit, which applies anywhere, is not). */
function choicesAt(circuits: readonly CircuitFile[], shown: CircuitFile, text: string, here: FiringToken): Pick<PanelModel, 'choices'> {
  const at = circuitsAt(circuits, text, here.start, here.end);
  return at.some((c) => c.task === shown.task) ? { choices: at.map((c) => ({ task: c.task, title: c.title, nodes: c.nodes.length })) } : {};
}

/** The token containing `at`, else the last one starting before it. */
function tokenAt(tokens: readonly FiringToken[], at: number): FiringToken | undefined {
  return tokens.find((t) => t.start <= at && at < t.end) ?? [...tokens].reverse().find((t) => t.start <= at);
}

function toRange(doc: vscode.TextDocument, start: number, end: number): TokenRange {
  const a = doc.positionAt(start);
  const b = doc.positionAt(end);
  return { line: a.line, character: a.character, endLine: b.line, endCharacter: b.character };
}
