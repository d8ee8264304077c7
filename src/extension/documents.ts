// Keeps every open Python document analysed: debounced after edits, only the visible range for
// files over the size limit, stale results dropped (the model resolves superseded calls as
// cancelled), and, while an ablation is active, a second analysis under the ablation whose predicted
// class is compared token by token with the unablated one to mark where the prediction flips.
// Without an ablation the analysis is the highlight pass (LoadedModel.highlight): the firing of the
// circuits whose highlights are on and nothing else, which runs only the part of the model their
// firing rules read; hovers and the panel read everything else from the same windows on demand.
// The highlights always show where the unablated circuit fires: they are the circuit's identity (an
// ablation of its firing-rule node would otherwise erase them all); what the ablation does shows as
// the flip marks, and in the panel's readout.
// A Python cell of a notebook is analysed after the cells above it (./notebookCells): its results
// are stale when they change too, and an edit of a cell re-runs the visible cells below it.
import * as vscode from 'vscode';
import { type Ablation, isAblating, NO_ABLATION } from '../core/analysis';
import { taskEvidence } from '../core/circuitEvidence';
import { errorMessage } from '../core/errors';
import type { AblationChange } from './circuitController';
import { type FiringSpan, Highlights } from './highlights';
import type { AnalyzeRequest, DocumentResult, HighlightResult, LoadedModel } from './loadedModel';
import { cellContextOf, cellsBelow, modelFor, runsAsPython } from './notebookCells';
import { circuitEnabled, type Settings } from './settings';

/**
 * The most characters analysed at once in a file over the size limit: the visible lines (±50) can
 * still be one huge line. The same bound as VS Code's own editor.maxTokenizationLineLength.
 */
export const MAX_PARTIAL_CHARS = 20_000;

export interface DocumentState {
  readonly version: number;
  /** What the model read before the document (a notebook cell's cells above: ./notebookCells); undefined for a file. */
  readonly context: string | undefined;
  readonly text: string;
  /** Without an ablation the shown circuits' firing alone (the highlight pass); while ablating every circuit's readout too. */
  readonly base: HighlightResult;
  readonly ablated?: DocumentResult;
  /** [start, end) offsets of tokens whose predicted class flips under the ablation. */
  readonly flipped: [number, number][];
}

export class Documents implements vscode.Disposable {
  private readonly states = new Map<string, DocumentState>();
  /** Per state, its analysis with every circuit's readout, once asked for (readings). */
  private readonly readingsOf = new WeakMap<DocumentState, Promise<DocumentResult | undefined>>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Per document, the run in progress: analyzeNow waits for it rather than start one that would supersede it. */
  private readonly runs = new Map<string, Run>();
  /** Counts changes of the model, its circuits and the settings: a state or run of an older one is stale. */
  private generation = 0;
  private readonly noticed = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];
  private ablation: Ablation = NO_ABLATION;
  /** The task whose prediction flips are marked while ablating. */
  private flipTask: string | undefined;
  /** Analyses started and not yet finished, superseded ones included (they stop at their next model batch). */
  private running = 0;
  private readonly runningChanged = new vscode.EventEmitter<number>();
  /** The number of analyses running changed (the status bar shows that the model is at work). */
  readonly onDidChangeRunning: vscode.Event<number> = this.runningChanged.event;

  constructor(
    private model: LoadedModel | undefined,
    private settings: Settings,
    private readonly highlights: Highlights,
    private readonly log: vscode.LogOutputChannel,
    private readonly onTiming: (ms: number) => void,
  ) {
    this.disposables.push(
      this.runningChanged,
      vscode.workspace.onDidChangeTextDocument((e) => {
        this.schedule(e.document);
        this.scheduleVisible(cellsBelow(e.document));
      }),
      // cells added, removed or moved: every cell's context may have changed
      vscode.workspace.onDidChangeNotebookDocument((e) => {
        if (e.contentChanges.length > 0) this.scheduleVisible(e.notebook.getCells().map((c) => c.document));
      }),
      vscode.workspace.onDidCloseTextDocument((d) => this.forget(d.uri)),
      // A document is analysed once an editor shows it, with its visible lines first, or when a command
      // asks (analyzeNow). Analysing it when it opened started, before any editor existed, a run with no
      // screen to paint first: on a large model the first paint waited for the whole file (1.3–5.6 s of
      // 5,000 lines against 0.3–0.8 s; docs/BENCHMARKS.md, "Session 27").
      vscode.window.onDidChangeVisibleTextEditors((eds) => eds.forEach((e) => this.showOrSchedule(e))),
      vscode.window.onDidChangeTextEditorVisibleRanges((e) => {
        const doc = e.textEditor.document;
        if (this.isLarge(doc.getText()) || this.offScreen(doc, e.visibleRanges)) this.schedule(doc);
      }),
    );
  }

  setModel(model: LoadedModel | undefined, settings: Settings): void {
    this.model = model;
    this.settings = settings;
    this.generation++;
    this.states.clear();
    this.refreshAll();
  }

  /** Subscribed to the circuit controller's ablation changes: re-run the visible documents under it. */
  setAblation(change: AblationChange): void {
    this.ablation = change.ablation;
    this.flipTask = change.task;
    this.refreshAll(0);
  }

  state(uri: vscode.Uri): DocumentState | undefined {
    return this.states.get(uri.toString());
  }

  /**
   * The analysis shown for the document as it is now with every circuit's firing and readout at
   * every token: what the highlight pass did not compute is read from the same windows (the test
   * hooks' view of all the numbers). Undefined until the document's current version is analysed.
   * One analysis per state, however often it is asked for (a new state, after an edit or a change
   * of the model, circuits or settings, gets its own).
   */
  readings(doc: vscode.TextDocument): Promise<DocumentResult | undefined> {
    const state = this.current(doc);
    const model = modelFor(this.model, doc);
    if (!state || !model) return Promise.resolve(undefined);
    let r = this.readingsOf.get(state);
    if (!r) {
      // no key: a later call for another state must not cancel this one
      r = model.analyze(undefined, state.text, NO_ABLATION, { range: state.base.partial, thresholdScale: this.settings.thresholdScale }).then((x) => (x.status === 'cancelled' ? undefined : x));
      this.readingsOf.set(state, r);
    }
    return r;
  }

  refreshAll(delay?: number): void {
    for (const e of vscode.window.visibleTextEditors) this.schedule(e.document, delay);
  }

  /** Schedules those of `docs` that an editor shows; the others are analysed when they are shown (showOrSchedule). */
  private scheduleVisible(docs: readonly vscode.TextDocument[]): void {
    const shown = new Set(vscode.window.visibleTextEditors.map((e) => e.document));
    for (const d of docs) if (shown.has(d)) this.schedule(d);
  }

  /** Analyse now and wait for it (used by commands that need fresh results). */
  async analyzeNow(doc: vscode.TextDocument): Promise<DocumentState | undefined> {
    const key = doc.uri.toString();
    let run = this.current(doc) ? undefined : (this.runFor(doc) ?? this.run(doc));
    while (run) {
      await run.done;
      const state = this.current(doc);
      if (state || !this.model || doc.isClosed) return state;
      // superseded by a newer run (a refresh scheduled by a model, circuit or ablation change): wait
      // for that one; outdated by an edit or a change of model or circuits: run the document as it is now
      const outdated = run.version !== doc.version || run.generation !== this.generation || run.context !== cellContextOf(doc);
      const newer = this.runs.get(key);
      run = newer && newer !== run ? newer : outdated ? this.run(doc) : undefined;
    }
    return this.current(doc);
  }

  /**
   * The text whose highlights are shown or being computed, and the part of it they cover (a file over
   * the size limit: its visible lines): what a hover reads its token in. A run starts if none is. The
   * hover runs its token's window itself (LoadedModel.tokenAt: the window the highlights score it in,
   * so the very numbers they show) instead of waiting for them: on a yolo1-shaped model a visible token
   * that the first paint did not hold waited 8.4–9.1 s for the whole file (docs/BENCHMARKS.md, session 29).
   * Undefined without a model, for a closed document, and for one that looks binary.
   */
  analysedText(doc: vscode.TextDocument): { readonly text: string; readonly range: OffsetRange | undefined } | undefined {
    const now = this.current(doc);
    if (now) return { text: now.text, range: now.base.partial };
    if (!this.model || doc.isClosed) return undefined;
    const run = this.runFor(doc) ?? this.run(doc);
    return run.text.includes('\u0000') ? undefined : { text: run.text, range: run.range };
  }

  /**
   * Whether a run of the document is in progress whose first lines (Run.priority) miss more than half
   * of these visible ranges (a scroll of a few lines is not worth a new plan and new cut windows):
   * scrolled away during a first analysis, the new screen would wait for the whole
   * file (a token off the first screen of 5,000 lines waited 9.8–12.6 s on a yolo1-shaped model:
   * docs/BENCHMARKS.md, "Session 27"). A new run supersedes it with the new screen first; the windows
   * the old one started finish into the cache and are not run again.
   */
  private offScreen(doc: vscode.TextDocument, ranges: readonly vscode.Range[]): boolean {
    const first = this.runFor(doc)?.priority;
    if (!first || !ranges.length) return false;
    const [start, end] = [doc.offsetAt(ranges[0].start), doc.offsetAt(ranges[ranges.length - 1].end)];
    const missed = Math.min(end, first.start) - Math.min(start, first.start) + (Math.max(end, first.end) - Math.max(start, first.end));
    return 2 * missed > end - start;
  }

  /** The document's state when it is for this version of it and its context (setModel drops the states of an older model, circuits or settings). */
  private current(doc: vscode.TextDocument): DocumentState | undefined {
    const s = this.states.get(doc.uri.toString());
    return s && s.version === doc.version && s.context === cellContextOf(doc) ? s : undefined;
  }

  /** The run in progress for this version of the document and its context under the current model, circuits and settings. */
  private runFor(doc: vscode.TextDocument): Run | undefined {
    const r = this.runs.get(doc.uri.toString());
    return r && r.version === doc.version && r.context === cellContextOf(doc) && r.generation === this.generation ? r : undefined;
  }

  private isPython(doc: vscode.TextDocument): boolean {
    return doc.languageId === 'python' && runsAsPython(doc);
  }

  private isLarge(text: string): boolean {
    return Buffer.byteLength(text, 'utf8') > this.settings.maxFileBytes;
  }

  private schedule(doc: vscode.TextDocument, delay = this.settings.debounceMs): void {
    if (!this.isPython(doc)) return this.drop(doc);
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(key, setTimeout(() => this.run(doc), delay));
  }

  /** A document analysed before and not Python now (a cell that became `%%bash`, …): its results and highlights go. */
  private drop(doc: vscode.TextDocument): void {
    if (!this.states.has(doc.uri.toString())) return;
    this.forget(doc.uri);
    for (const e of vscode.window.visibleTextEditors) if (e.document === doc) this.highlights.render(e, [], []);
  }

  private showOrSchedule(editor: vscode.TextEditor): void {
    const s = this.current(editor.document);
    if (s) this.render(editor, s);
    else this.schedule(editor.document, 0);
  }

  /** Starts analysing the document as it is now (what a scheduled refresh would have done, so that one is dropped). */
  private run(doc: vscode.TextDocument): Run {
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    const text = doc.getText();
    const range = this.isLarge(text) ? this.visibleRange(doc) : undefined;
    // the visible lines run first and are painted as soon as they are ready (cold files only:
    // after an edit the few recomputed windows finish together)
    const ranges = editorOf(doc)?.visibleRanges ?? [];
    const priority = ranges.length ? { start: doc.offsetAt(ranges[0].start), end: doc.offsetAt(ranges[ranges.length - 1].end) } : undefined;
    const run: Run = {
      version: doc.version,
      context: cellContextOf(doc),
      generation: this.generation,
      text,
      range,
      priority,
      done: this.analyse(doc, text, range, priority).finally(() => {
        if (this.runs.get(key) === run) this.runs.delete(key);
      }),
    };
    this.runs.set(key, run);
    return run;
  }

  private async analyse(doc: vscode.TextDocument, text: string, range: OffsetRange | undefined, priority: OffsetRange | undefined): Promise<void> {
    const key = doc.uri.toString();
    const model = modelFor(this.model, doc);
    const context = cellContextOf(doc);
    const generation = this.generation;
    if (!model || doc.isClosed) return;
    if (text.includes('\u0000')) {
      this.noticeOnce(key, `${vscode.workspace.asRelativePath(doc.uri)} looks binary (it contains NUL characters); Circuit Inspector skips it.`);
      return;
    }
    if (range) {
      this.noticeOnce(key, `${vscode.workspace.asRelativePath(doc.uri)} is larger than circuitInspector.maxFileSizeKB (${Math.round(this.settings.maxFileBytes / 1024)} KB): only the visible part is analysed.`);
    }
    const version = doc.version;
    // a newer version, context, model, set of circuits or settings makes this run's results stale: they are never painted
    const stale = () => doc.isClosed || doc.version !== version || generation !== this.generation || cellContextOf(doc) !== context || !this.isPython(doc);
    this.runningChanged.fire(++this.running);
    try {
      const early = (partial: HighlightResult) => {
        if (stale() || isAblating(this.ablation)) return;
        this.paint(doc, { version, context, text, base: partial, flipped: [] });
      };
      const options: AnalyzeRequest = { range, priority, thresholdScale: this.settings.thresholdScale, onProgress: early };
      let base: HighlightResult;
      let ablated: DocumentResult | undefined;
      let flipped: [number, number][] = [];
      if (isAblating(this.ablation)) {
        // the flip marks compare the readouts with and without the ablation at every token: both passes read them
        const full = await model.analyze(`${key}#base`, text, NO_ABLATION, options);
        if (full.status === 'cancelled' || stale()) return; // superseded: never paint stale results
        const r = await model.analyze(`${key}#ablated`, text, this.ablation, { range });
        if (r.status === 'cancelled' || stale()) return;
        [base, ablated, flipped] = [full, r, flips(full, r, this.flipTask)];
      } else {
        const r = await model.highlight(`${key}#base`, text, this.shownTasks(model), options);
        if (r.status === 'cancelled' || stale()) return;
        base = r;
      }
      const state: DocumentState = { version, context, text, base, ablated, flipped };
      this.states.set(key, state);
      this.onTiming(base.elapsedMs);
      this.log.debug(`analysed ${vscode.workspace.asRelativePath(doc.uri)} v${version}: ${base.tokens.length} tokens, ${base.windowsComputed} windows computed, ${base.windowsReused} reused, ${base.elapsedMs.toFixed(0)} ms`);
      this.paint(doc, state);
    } catch (err) {
      // a run of a model that was replaced fails when that model's workers stop: not the document's error
      if (stale()) return;
      this.log.error(`analysis of ${vscode.workspace.asRelativePath(doc.uri)} failed: ${errorMessage(err)}`);
    } finally {
      this.runningChanged.fire(--this.running);
    }
  }

  private visibleRange(doc: vscode.TextDocument): OffsetRange {
    const ranges = editorOf(doc)?.visibleRanges ?? [new vscode.Range(0, 0, 200, 0)];
    const first = Math.max(0, ranges[0].start.line - 50);
    const last = Math.min(doc.lineCount - 1, ranges[ranges.length - 1].end.line + 50);
    const start = doc.offsetAt(new vscode.Position(first, 0));
    return { start, end: Math.min(doc.offsetAt(doc.lineAt(last).range.end), start + MAX_PARTIAL_CHARS) };
  }

  /** Draws `state` in every visible editor of the document. */
  private paint(doc: vscode.TextDocument, state: DocumentState): void {
    for (const e of vscode.window.visibleTextEditors) if (e.document === doc) this.render(e, state);
  }

  /** The tasks of the circuits whose highlights are on (settings, and each circuit's evidence). */
  private shownTasks(model: LoadedModel | undefined): string[] {
    return (model?.circuits ?? []).filter((c) => circuitEnabled(this.settings, c.task, taskEvidence(c).carries)).map((c) => c.task);
  }

  private render(editor: vscode.TextEditor, state: DocumentState): void {
    const spans: FiringSpan[] = [];
    const shown = new Set(this.shownTasks(this.model));
    for (const t of state.base.tokens) {
      if (t.end <= t.start) continue; // the leading bytes of a split character: nothing to underline
      for (const [task, c] of Object.entries(t.circuits)) {
        // `fires` holds only where the circuit's task applies (core/tasks: DocumentScope.applies) and
        // |value| reaches the threshold × thresholdScale the analysis was asked for (a settings
        // change re-runs it: setModel)
        if (!c.fires || !shown.has(task)) continue;
        spans.push({ start: t.start, end: t.end, task, cls: c.cls, strength: c.strength / this.settings.thresholdScale });
      }
    }
    this.highlights.render(editor, spans, state.flipped);
  }

  private noticeOnce(key: string, message: string): void {
    if (this.noticed.has(key)) return;
    this.noticed.add(key);
    this.log.warn(message);
    void vscode.window.showInformationMessage(`Circuit Inspector: ${message}`);
  }

  private forget(uri: vscode.Uri): void {
    const key = uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.states.delete(key);
    this.noticed.delete(key);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.disposables.forEach((d) => d.dispose());
  }
}

/** The first visible editor showing `doc`. */
function editorOf(doc: vscode.TextDocument): vscode.TextEditor | undefined {
  return vscode.window.visibleTextEditors.find((e) => e.document === doc);
}

/** UTF-16 [start, end) offsets of a document. */
interface OffsetRange {
  readonly start: number;
  readonly end: number;
}

/** One analysis of a document in progress: for which version, context and generation (Documents.generation), and its end. */
interface Run {
  readonly version: number;
  readonly context: string | undefined;
  readonly generation: number;
  /** The document's text it analyses, and the part of it (a file over the size limit: its visible lines, ±50). */
  readonly text: string;
  readonly range: OffsetRange | undefined;
  /** The document's offsets visible when it started, whose windows run first. */
  readonly priority: OffsetRange | undefined;
  readonly done: Promise<void>;
}

/** Tokens where the preferred class of `task` differs between the two analyses. */
export function flips(base: DocumentResult, ablated: DocumentResult, task: string | undefined): [number, number][] {
  if (!task) return [];
  const out: [number, number][] = [];
  const n = Math.min(base.tokens.length, ablated.tokens.length);
  for (let i = 0; i < n; i++) {
    const a = base.tokens[i].logitDiff[task];
    const b = ablated.tokens[i].logitDiff[task];
    // only where the circuit's task applies (core/tasks DocumentScope): elsewhere the contrast is noise
    if (a === undefined || b === undefined || !base.tokens[i].circuits[task]?.applies) continue;
    if (Math.sign(a) !== Math.sign(b)) out.push([base.tokens[i].start, base.tokens[i].end]);
  }
  return out;
}
