// The model as the editor features see it: a bundle opened with the core (validated files,
// onnxruntime sessions in worker threads, load-time probe, document analyzer) behind a narrow
// interface in editor-neutral terms (UTF-16 offsets, node ids), so decorations, hover and panel
// stay ignorant of windows, caches and onnxruntime.
import type * as vscode from 'vscode';
import { type AttentionAt, AttentionReader } from '../core/attention';
import { type Ablation, analysisWindow, type Cancelled, type CircuitAtToken, type DocumentAnalysis, DocumentAnalyzer, NO_ABLATION, type NextToken, type Readout, type TokenResult } from '../core/analysis';
import { type Bundle, BundleError, checkCircuit } from '../core/bundle';
import { type DiscoverAtOptions, type Discovery, discoverAt } from '../core/discoverAt';
import { type FoundCircuitFile, toCircuitFile } from '../core/foundCircuit';
import { openModel } from '../core/openModel';
import type { ProviderChoice, Runner } from '../core/runner';
import { errorMessage } from '../core/errors';
import type { RepeatedCircuit } from '../core/tasks';
import type { CircuitFile } from '../schemas/circuit';
import type { ClassReadout } from '../schemas/messages';

/** A circuit at one token as the editor shows it: the core's firing rule plus its strength. */
export interface CircuitFiring extends CircuitAtToken {
  /** |value| / threshold. */
  readonly strength: number;
}

/** A token as the highlight pass sees it (LoadedModel.highlight): where the shown circuits fire. */
export interface FiringToken {
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /** task → firing at this token. */
  readonly circuits: Readonly<Record<string, CircuitFiring>>;
}

/** A token with every circuit's firing and readout (LoadedModel.analyze, tokenAt). */
export interface EditorToken extends FiringToken {
  /** Readout per task: which class the model prefers here (class-0 vs class-1 logit difference). */
  readonly logitDiff: Readonly<Record<string, number>>;
}

export interface AnalysisResult<T extends FiringToken> {
  readonly status: 'done';
  readonly tokens: readonly T[];
  readonly elapsedMs: number;
  readonly windowsComputed: number;
  readonly windowsReused: number;
  /** Set when only part of the text was analysed (size limit). */
  readonly partial?: { readonly start: number; readonly end: number };
}

/** Every circuit's firing and readout at every token. */
export type DocumentResult = AnalysisResult<EditorToken>;

/** The shown circuits' firing at every token, nothing more (LoadedModel.highlight). */
export type HighlightResult = AnalysisResult<FiringToken>;

export interface AnalyzeRequest {
  /** Analyse only this [start, end) slice (files over the size limit). */
  readonly range?: { readonly start: number; readonly end: number };
  /** Offsets to analyse first (the visible lines) … */
  readonly priority?: { readonly start: number; readonly end: number };
  /** … whose tokens arrive here early, when the rest of a cold file still needs computing. */
  readonly onProgress?: (partial: HighlightResult) => void;
  /** Multiplies every firing threshold (the circuitInspector.highlights.thresholdScale setting). */
  readonly thresholdScale?: number;
}

export interface TopTokenAt {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly value: number;
}

export interface LoadedModel {
  readonly modelName: string;
  readonly provider: string;
  readonly providerNotice?: string;
  readonly circuits: readonly CircuitFile[];
  /** The bundle's circuits left out as repeats of one in `circuits` (core/tasks withoutRepeats). */
  readonly repeats: readonly RepeatedCircuit[];
  /** Analyse `text` (or its options.range slice); cancelled when superseded by a later call with the same key (none: never). */
  analyze(key: string | undefined, text: string, ablation: Ablation, options?: AnalyzeRequest): Promise<DocumentResult | Cancelled>;
  /**
   * The highlight pass: analyze() without ablation for the firing of the circuits with these tasks
   * alone, which watches only their firing-rule nodes and reads no logits, so it runs the smallest
   * part of the model that computes them (core/cone). The same windows as analyze(), which, like
   * tokenAt(), reads the rest of them on demand and keeps the firing values computed here.
   */
  highlight(key: string, text: string, tasks: readonly string[], options?: AnalyzeRequest): Promise<HighlightResult | Cancelled>;
  /** The token containing `offset` (or the last one starting before it) with every circuit's firing and readout, read in the window the highlights score it in (pass their `range` and `thresholdScale`). */
  tokenAt(text: string, offset: number, options?: Pick<AnalyzeRequest, 'range' | 'thresholdScale'>): Promise<EditorToken | undefined>;
  /**
   * Readout of `task` at the token ending at or containing `offset`; undefined when the text has no
   * token there. Read in the window the highlights' analysis scores that token in (pass the same
   * `range` as to analyze()), so it is the number the editor drew.
   */
  readout(text: string, offset: number, task: string, ablation: Ablation, range?: AnalyzeRequest['range']): Promise<ClassReadout | undefined>;
  /** Activations of the circuit's nodes at the token containing `offset` (the same window as readout). */
  activations(text: string, offset: number, task: string, ablation: Ablation, range?: AnalyzeRequest['range']): Promise<Record<string, number>>;
  /** The tokens of `text` where node `nodeId` is most active (|value|), best first. */
  topTokens(text: string, nodeId: string, limit: number): Promise<TopTokenAt[]>;
  /** The token containing `offset` and the model's most likely next tokens after it (the window the highlights score it in). */
  nextTokens(text: string, offset: number): Promise<{ readonly start: number; readonly end: number; readonly next: readonly NextToken[] } | undefined>;
  /** "Why this token?" after the token at `offset` (core/discoverAt); once `signal` aborts, its next run throws instead of starting. */
  discover(text: string, offset: number, options: DiscoverAtOptions, signal?: AbortSignal): Promise<Discovery>;
  /** A discovery as a circuit file in the bundle format (core/foundCircuit). */
  circuitFileOf(found: Discovery): FoundCircuitFile;
  /** Why `circuit` cannot run on this model (a node it names is not in the model, …), or undefined when it can. */
  problemWith(circuit: CircuitFile, name: string): string | undefined;
  /**
   * Circuits analysed beside the bundle's own (saved and found ones; each checked with problemWith
   * and with a task of its own): from now on analyze, readout and `circuits` include them. A new
   * circuit runs each cached window once more, for only the nodes and class tokens no earlier run
   * read (none when it has no such node or token); removing one, or setting the same ones again,
   * runs nothing.
   */
  setExtraCircuits(circuits: readonly CircuitFile[]): void;
  /**
   * Every head of `layer` from the token at `offset` (core/attention); throws a one-sentence error when
   * the bundle cannot say.
   */
  attention(text: string, offset: number, layer: number): Promise<AttentionAt>;
  /** The model's layers, for "where attention looks". */
  readonly layers: number;
  /** Resolves when the model's runs in progress have finished and its worker threads have stopped. */
  dispose(): Promise<void>;
}

export type LoadResult = { readonly kind: 'ok'; readonly model: LoadedModel } | { readonly kind: 'missing' | 'error'; readonly message: string };

/** The bundle in `dir` on `provider`, analysed in windows of `windowTokens` (core/analysis DEFAULT_WINDOW_TOKENS when undefined). */
export async function loadModel(dir: string, provider: ProviderChoice, log: vscode.LogOutputChannel, windowTokens?: number): Promise<LoadResult> {
  try {
    const { bundle, runner } = await openModel(dir, provider);
    const kernels = runner.kernels === 'webassembly' ? 'our WebAssembly kernels' : `onnxruntime${runner.kernelsWhy ? ` (our kernels cannot run it: ${runner.kernelsWhy})` : ''}`;
    log.info(`model sessions started in ${runner.loadMs.toFixed(0)} ms (${runner.provider}, ${runner.workers} worker thread${runner.workers > 1 ? 's' : ''}; single passes on ${kernels}; windows of ${analysisWindow(bundle.context, windowTokens)} tokens, context ${bundle.context})`);
    return { kind: 'ok', model: new AnalyzerModel(bundle, runner, windowTokens) };
  } catch (e) {
    const message = errorMessage(e);
    const missing = e instanceof BundleError && e.missing;
    return { kind: missing ? 'missing' : 'error', message: missing ? `No model bundle: ${message}` : message };
  }
}

class AnalyzerModel implements LoadedModel {
  /**
   * One analyzer reads every circuit, the bundle's and the extra ones, so a cold window runs the
   * model once for all of them (an analyzer of their own for the extra circuits would run every
   * window twice). A change of the extra circuits derives the next analyzer from it, sharing its
   * window cache (DocumentAnalyzer.withCircuits).
   */
  private analyzer: DocumentAnalyzer;
  /** The highlight passes derived from `analyzer` (DocumentAnalyzer.firingOnly), by their tasks. */
  private firing = new Map<string, DocumentAnalyzer>();
  private extra: readonly CircuitFile[] = [];
  private attentionReader: AttentionReader | undefined;

  constructor(
    private readonly bundle: Bundle,
    private readonly runner: Runner,
    windowTokens: number | undefined,
  ) {
    this.analyzer = new DocumentAnalyzer(bundle, runner, { ...runner.analyzerOptions, windowTokens });
  }

  setExtraCircuits(circuits: readonly CircuitFile[]): void {
    // the saved-circuits folder is re-read on every change in it: the same circuits keep the analyzer and its readouts
    if (JSON.stringify(circuits) === JSON.stringify(this.extra)) return;
    this.extra = circuits;
    // an analyzer's watched nodes and class tokens are fixed when it is made; the cache it shares keeps what earlier ones read
    this.analyzer = this.analyzer.withCircuits([...this.bundle.circuits, ...circuits]);
    this.firing = new Map();
  }

  problemWith(circuit: CircuitFile, name: string): string | undefined {
    if (this.bundle.circuits.some((c) => c.task === circuit.task)) return `${name} has task ${circuit.task}, which a circuit of the model already has`;
    try {
      checkCircuit(circuit, name, this.bundle.layout, this.bundle.tokenizer, (message) => {
        throw new Error(message);
      });
      return undefined;
    } catch (e) {
      return errorMessage(e);
    }
  }

  async nextTokens(text: string, offset: number): Promise<{ start: number; end: number; next: readonly NextToken[] } | undefined> {
    const r = await this.analyzer.analyzeAt(text, offset);
    return r && { start: r.token.start, end: r.token.end, next: r.token.next };
  }

  discover(text: string, offset: number, options: DiscoverAtOptions, signal?: AbortSignal): Promise<Discovery> {
    const analyzer = this.analyzer;
    const runner = {
      parallelism: this.runner.parallelism,
      run: (input: Parameters<Runner['run']>[0]) => {
        signal?.throwIfAborted();
        return this.runner.run(input);
      },
    };
    return discoverAt(this.bundle, runner, (seq) => analyzer.windows(seq), text, offset, options);
  }

  circuitFileOf(found: Discovery): FoundCircuitFile {
    return toCircuitFile(found, this.bundle);
  }

  get modelName(): string {
    return this.analyzer.bundle.name;
  }
  get provider(): string {
    return this.runner.provider;
  }
  get providerNotice(): string | undefined {
    return this.runner.notice;
  }
  get circuits(): readonly CircuitFile[] {
    return this.analyzer.circuits;
  }
  get repeats(): readonly RepeatedCircuit[] {
    return this.analyzer.bundle.repeats;
  }

  analyze(key: string | undefined, text: string, ablation: Ablation, options: AnalyzeRequest = {}): Promise<DocumentResult | Cancelled> {
    const analyzer = this.analyzer;
    return this.run(analyzer, key, text, ablation, options, (r, t) => ({ ...this.firingOf(analyzer, t), logitDiff: logitDiffs(analyzer, (task) => r.readout(t.index, task)) }));
  }

  highlight(key: string, text: string, tasks: readonly string[], options: AnalyzeRequest = {}): Promise<HighlightResult | Cancelled> {
    const name = JSON.stringify([...tasks].sort());
    let analyzer = this.firing.get(name);
    if (!analyzer) this.firing.set(name, (analyzer = this.analyzer.firingOnly(tasks)));
    const a = analyzer;
    return this.run(a, key, text, NO_ABLATION, options, (_, t) => this.firingOf(a, t));
  }

  /** An analysis by `analyzer` in the editor's terms, each token made by `token`. */
  private async run<T extends FiringToken>(analyzer: DocumentAnalyzer, key: string | undefined, text: string, ablation: Ablation, options: AnalyzeRequest, token: (r: DocumentAnalysis, t: TokenResult) => T): Promise<AnalysisResult<T> | Cancelled> {
    const { range, priority, onProgress, thresholdScale } = options;
    const result = (r: DocumentAnalysis): AnalysisResult<T> => ({
      status: 'done',
      elapsedMs: r.elapsedMs,
      windowsComputed: r.windowsComputed,
      windowsReused: r.windowsReused,
      partial: range,
      tokens: r.tokens.map((t) => token(r, t)),
    });
    const r = await analyzer.analyze(text, ablation, { key, range, priority, thresholdScale, onProgress: onProgress && ((p) => onProgress(result(p))) });
    return r.status === 'cancelled' ? r : result(r);
  }

  /** A token's place and its firing of `analyzer`'s circuits, with their strength. */
  private firingOf(analyzer: DocumentAnalyzer, t: TokenResult): FiringToken {
    const circuits: Record<string, CircuitFiring> = {};
    for (const c of analyzer.circuits) {
      const at = t.circuits[c.task];
      circuits[c.task] = { ...at, strength: Math.abs(at.value) / (c.firing?.threshold ?? Infinity) };
    }
    return { text: t.text, start: t.start, end: t.end, circuits };
  }

  async tokenAt(text: string, offset: number, options: Pick<AnalyzeRequest, 'range' | 'thresholdScale'> = {}): Promise<EditorToken | undefined> {
    const analyzer = this.analyzer;
    const r = await analyzer.analyzeAt(text, offset, NO_ABLATION, options);
    return r && { ...this.firingOf(analyzer, r.token), logitDiff: logitDiffs(analyzer, (task) => r.readouts[task]) };
  }

  async readout(text: string, offset: number, task: string, ablation: Ablation, range?: AnalyzeRequest['range']): Promise<ClassReadout | undefined> {
    const r = (await this.analyzer.analyzeAt(text, offset, ablation, { range }))?.readouts[task];
    return r?.p && { probs: r.p, logitDiff: r.logitDiff };
  }

  async activations(text: string, offset: number, task: string, ablation: Ablation, range?: AnalyzeRequest['range']): Promise<Record<string, number>> {
    const r = await this.analyzer.analyzeAt(text, offset, ablation, { range });
    const circuit = this.analyzer.circuits.find((c) => c.task === task);
    const out: Record<string, number> = {};
    if (!r || !circuit) return out;
    for (const n of circuit.nodes) {
      const col = this.analyzer.column(n.flat);
      const v = col === undefined ? undefined : r.token.watched[col];
      if (v !== undefined && Number.isFinite(v)) out[n.id] = v;
    }
    return out;
  }

  async topTokens(text: string, nodeId: string, limit: number): Promise<TopTokenAt[]> {
    const flat = this.analyzer.bundle.layout.flat(nodeId);
    const col = flat === undefined ? undefined : this.analyzer.column(flat);
    if (col === undefined) return [];
    const r = await this.analyzer.analyze(text, NO_ABLATION, { key: `topTokens:${nodeId}` });
    if (r.status === 'cancelled') return [];
    return r.tokens
      .map((t) => ({ start: t.start, end: t.end, text: t.text, value: t.watched[col] }))
      .sort((a, b) => Math.abs(b.value) - Math.abs(a.value))
      .slice(0, limit);
  }

  attention(text: string, offset: number, layer: number): Promise<AttentionAt> {
    // made on first use: a bundle without attention parameters still loads, and says so only here
    this.attentionReader ??= new AttentionReader(this.bundle, this.runner, (seq) => this.analyzer.windows(seq));
    return this.attentionReader.at(text, offset, layer);
  }

  get layers(): number {
    return this.bundle.model.n_layer;
  }

  dispose(): Promise<void> {
    return this.runner.dispose();
  }
}

/** Each circuit's logit difference, by task. */
function logitDiffs(analyzer: DocumentAnalyzer, readout: (task: string) => Readout): Record<string, number> {
  return Object.fromEntries(analyzer.circuits.map((c) => [c.task, readout(c.task).logitDiff]));
}
