// Whole-document analysis: tokenize, cut into windows of at most the model's context (./windows; DEFAULT_WINDOW_TOKENS), run
// them in batches, and keep per token only what the editor needs — the watched node activations
// (every circuit's nodes), each circuit's class readout and, when asked for, the top next tokens —
// never the full logits ([T, V] is 2048 floats a token). The graph itself returns only the scored
// positions of a window and only the vocabulary entries asked for: the editor's pass reads the few
// class tokens of each circuit; the next-token lists need all V and cost one more matmul. The
// editor's highlights need less still: firingOnly() watches only the shown circuits' firing-rule
// nodes and reads no logits, so its windows run the smallest cone of the model that computes those
// nodes (./cone), and only the windows where a shown circuit's task applies; hovers and the panel
// read the rest of the same windows on demand.
//
// Re-analysis after an edit recomputes only windows whose tokens changed (./cache); window
// boundaries are content-defined by default, so that is a few windows around the edit. A window's
// cache entry holds node activations and class-token logits by name (./cache Columns), shared by
// the analyzers withCircuits() derives: a circuit added (a saved or found one) runs each window
// once more for the nodes and class tokens no earlier run read, and only for those; a circuit
// removed, or one whose nodes and tokens are all read already, runs nothing. Calls that
// share a `key` (one per document) supersede each other: the older resolves as cancelled as soon
// as a newer one starts and never delivers results; an AbortSignal cancels the same way.
import type { CircuitFile } from '../schemas/circuit';
import type { AblationMode } from '../schemas/messages';
import type { Bundle } from './bundle';
import { encodeDocument, encodeDocumentCompact } from './documentReading';
import type { Encoding, TokenRanges } from './tokenizer';
import { Columns, WindowCache, windowKey } from './cache';
import { type Cone, coneFor } from './cone';
import type { NextOutput } from './ortSession';
import type { Runner, RunOutput } from './runner';
import { agreesWith, type Stretch, screenStretch } from './screenStretch';
import { type DocumentScope, documentScope } from './tasks';
import { contentWindowsWithin, planContentWindows, planWindows, scoringWindow, type Window, withEot } from './windows';

export type { AblationMode };

/** Which nodes are switched off and to what: the one ablation type (the circuit controller owns the state). */
export interface Ablation {
  /** Node ids to ablate. */
  readonly nodes: ReadonlySet<string>;
  readonly mode: AblationMode;
  /** Run only this circuit: every node outside it is ablated too. */
  readonly circuitOnly?: CircuitFile;
}

export const NO_ABLATION: Ablation = { nodes: new Set(), mode: 'mean' };

export function isAblating(a: Ablation): boolean {
  return a.nodes.size > 0 || a.circuitOnly !== undefined;
}

/** mask and fill [N] of an ablation: x ← mask·x + (1 − mask)·fill at every node. */
export function ablationVectors(bundle: Bundle, ab: Ablation): { mask: Float32Array; fill: Float32Array } {
  const N = bundle.layout.count;
  const mask = new Float32Array(N).fill(ab.circuitOnly ? 0 : 1);
  for (const n of ab.circuitOnly?.nodes ?? []) mask[n.flat] = 1;
  for (const id of ab.nodes) {
    const f = bundle.layout.flat(id);
    if (f === undefined) throw new RangeError(`ablation names node ${id}, which is not in the model's node layout`);
    mask[f] = 0;
  }
  return { mask, fill: ab.mode === 'mean' ? bundle.means : new Float32Array(N) };
}

/** A string that is equal for ablations with equal effect (part of every cache key). */
export function ablationKey(ab: Ablation): string {
  const only = ab.circuitOnly ? `only:${ab.circuitOnly.task}:${ab.circuitOnly.nodes.map((n) => n.flat).join(',')}` : '';
  return `${ab.nodes.size || ab.circuitOnly ? ab.mode : 'none'}|${only}|${[...ab.nodes].sort().join(',')}`;
}

export interface NextToken {
  readonly id: number;
  readonly text: string;
  readonly p: number;
}

export interface CircuitAtToken {
  /**
   * Σ coef·activation of the firing rule's terms at this token; NaN in a highlight pass
   * (DocumentAnalyzer.firingOnly) in a window where none of its circuits' tasks applies, which it
   * does not run.
   */
  readonly value: number;
  /** The circuit's task applies to this token (its scope, ./tasks DocumentScope.applies). */
  readonly applies: boolean;
  /** In scope and |value| ≥ threshold (× thresholdScale): outside its task's scope a circuit never fires. */
  readonly fires: boolean;
  /** The class the sign points to: value > 0 → positive_class, else the other. */
  readonly cls: 0 | 1;
}

export interface Readout {
  /** P(class 0), P(class 1): sums of the classes' token probabilities over the whole vocabulary;
   *  undefined when the analysis read only the class tokens (AnalyzeOptions.nextTokens off). */
  readonly p: readonly [number, number] | undefined;
  /** logsumexp(class-0 logits) − logsumexp(class-1 logits). */
  readonly logitDiff: number;
}

export interface TokenResult {
  /** Index among the analysed tokens (in an early result planned from the stretch around the screen, among the stretch's: DocumentAnalyzer.screenFirst). */
  readonly index: number;
  readonly id: number;
  readonly text: string;
  /** UTF-16 [start, end) in the document. */
  readonly start: number;
  readonly end: number;
  /** The most likely next tokens after this one, most likely first (empty unless asked for). */
  readonly next: readonly NextToken[];
  /** Per circuit task. */
  readonly circuits: Readonly<Record<string, CircuitAtToken>>;
  /** Activations of the watched nodes at this token [K] (see DocumentAnalyzer.watch / column). */
  readonly watched: Float32Array;
  /**
   * The readout of every circuit whose task applies to this token (stream() and analyzeAt() only;
   * analyze() gives them through DocumentAnalysis.readout).
   */
  readonly readouts?: Readonly<Record<string, Readout>>;
}

export interface DocumentAnalysis {
  readonly status: 'done';
  /** False for the early result AnalyzeOptions.onProgress gets: only some windows' tokens. */
  readonly complete: boolean;
  /** In document order; all of them when complete. */
  readonly tokens: readonly TokenResult[];
  /** The circuit's readout of the prediction made at token index i (TokenResult.index). */
  readout(i: number, task: string): Readout;
  readonly windowsComputed: number;
  readonly windowsReused: number;
  readonly elapsedMs: number;
}

export interface Cancelled {
  readonly status: 'cancelled';
}

export interface AnalyzeOptions {
  /** Analyses with the same key supersede each other (one key per document). */
  readonly key?: string;
  readonly signal?: AbortSignal;
  /** Analyse only text[range.start, range.end) (e.g. the visible part of a huge file); offsets stay document offsets. */
  readonly range?: { readonly start: number; readonly end: number };
  /** Multiplies every firing threshold. */
  readonly thresholdScale?: number;
  /** Compute each token's top next tokens and the readouts' probabilities (reads all V logits). */
  readonly nextTokens?: boolean;
  /** UTF-16 document offsets to analyse first (the visible range): their windows run before the rest. */
  readonly priority?: { readonly start: number; readonly end: number };
  /** Called once the priority windows are done while others remain, with their tokens (complete: false). */
  readonly onProgress?: (partial: DocumentAnalysis) => void;
}

export interface AnalyzerOptions {
  /** Next-token candidates kept per token (default 5). */
  readonly topK?: number;
  /** Windows per onnxruntime run (default 1; Runner.preferredBatch says what suits the provider). */
  readonly batch?: number;
  /** Runs kept in flight at once (default 1; Runner.parallelism says how many execute side by side). */
  readonly inFlight?: number;
  /** Windows kept in the cache (default 512). */
  readonly cacheWindows?: number;
  /**
   * How the document is cut into windows (./windows): 'content' (default) puts boundaries at
   * content-defined anchors so an edit recomputes only the windows around it; 'grid' is the
   * fixed stride-W/2 grid, where an edit recomputes every window after it.
   */
  readonly windowing?: 'content' | 'grid';
  /** Least left context of a scored position (default DEFAULT_LEFT_CONTEXT; see there). */
  readonly leftContext?: number;
  /** Positions per window (default DEFAULT_WINDOW_TOKENS; see there), at most the model's context. */
  readonly windowTokens?: number;
  /** The bundle's cones (Runner.cones): a run that reads nodes and no logits runs the smallest that covers them (./cone). */
  readonly cones?: readonly Cone[];
  /**
   * The runner computes a cone's run at only the positions it reads (RunInput.needed) with the very bits
   * of a whole run (Runner.analyzerOptions: our kernels). The highlight pass then computes the cone's
   * last layer past its keys and values only where a shown circuit's task applies, and keeps those
   * windows apart from the other analyses' (its values elsewhere are NaN): docs/BENCHMARKS.md, session 19.
   */
  readonly neededOnly?: boolean;
  /**
   * Watch only the circuits' firing-rule nodes (TokenResult.watched holds those alone), still reading
   * the logits: for a caller that shows no other node, the CLI. The graph then gathers those columns
   * alone (16 on the shipped bundle, instead of every circuit's 127; docs/BENCHMARKS.md, session 12).
   */
  readonly watchFiringOnly?: boolean;
}

/**
 * Every scored position after the first window sees at least this many tokens before it. Less left
 * context means longer scored stretches per window of 256 (192 positions instead of 128), so far
 * fewer windows for a cold file, at no measured cost to the circuits' readouts (docs/BENCHMARKS.md,
 * "Left context").
 */
export const DEFAULT_LEFT_CONTEXT = 64;

/**
 * Positions per window when the caller does not choose. A window's attention grows with the square of
 * its length, and the highlights of a screen wait for the windows that score it: on a yolo1-shaped model
 * (context 1,024) a first screen with a list close on it took 6.2–10.4 s in windows of the whole context
 * and 0.74–1.20 s in windows of 256 (docs/BENCHMARKS.md, session 26). Either way every scored position keeps at least
 * DEFAULT_LEFT_CONTEXT tokens before it; a longer window gives some positions more (a setting away).
 */
export const DEFAULT_WINDOW_TOKENS = 256;

/** The least window a user may ask for: shorter, it would score fewer positions than it reads as left context. */
export const MIN_WINDOW_TOKENS = 2 * DEFAULT_LEFT_CONTEXT;

/** The positions per window of an analysis on a model of this context (`requested` capped at it). */
export function analysisWindow(context: number, requested = DEFAULT_WINDOW_TOKENS): number {
  return Math.max(2, Math.min(Math.floor(requested), context));
}

/** The windows an analysis with these options cuts a sequence ([EOT] + document token ids) into, on a model of this context. */
export function analysisWindows(seq: ArrayLike<number>, context: number, options: Pick<AnalyzerOptions, 'windowing' | 'leftContext' | 'windowTokens'> = {}): Window[] {
  const { W, left } = windowShape(context, options);
  return options.windowing === 'grid' ? planWindows(seq.length, W, W - left) : planContentWindows(seq, W, { left, maxGap: W - left });
}

/** The positions per window and the least left context of an analysis with these options. */
function windowShape(context: number, options: Pick<AnalyzerOptions, 'leftContext' | 'windowTokens'>): { W: number; left: number } {
  const W = analysisWindow(context, options.windowTokens);
  return { W, left: Math.max(1, Math.min(options.leftContext ?? DEFAULT_LEFT_CONTEXT, W - 1)) };
}

/** A text's tokens, its sequence ([EOT] + token ids [1 + n]; see ./windows) and its windows. */
interface Plan {
  readonly text: string;
  readonly enc: Encoding;
  readonly seq: Int32Array;
  readonly windows: Window[];
}

/** A window's results as one analyzer reads them (its watched nodes, its circuits), for its P scored positions. */
interface WindowResult {
  /** [P, topK] ids and probabilities of the top next tokens (empty without nextTokens). */
  readonly topIds: Int32Array;
  readonly topP: Float32Array;
  /** [P, C, 3]: per circuit, logsumexp over class-0 tokens, over class-1 tokens, over all V (NaN without nextTokens). */
  readonly lse: Float64Array;
  /** [P, stride] watched activations: the analyzer's K watched nodes are the first K of each row. */
  readonly watched: Float32Array;
  readonly stride: number;
}

/** What the model's runs over one window have produced, by name (./cache Columns), for its P scored positions. */
interface WindowStore {
  /** Watched activations by flat node index. */
  readonly nodes: Columns;
  /** Logits by vocabulary id (the circuits' class tokens). */
  readonly logits: Columns;
  /** With `full` (the whole vocabulary read): the top next tokens [P, topK] and logsumexp over all V [P]. */
  next?: { readonly topIds: Int32Array; readonly topP: Float32Array; readonly lseAll: Float64Array };
  /** The last analyzer's view of it (its circuits' readouts, computed once), under that analyzer's viewTag. */
  view?: { readonly owner: object; readonly result: WindowResult };
}

/** What one run produced for one window: blocks [P, ·] to add to its store. */
interface RunPart {
  readonly flats: readonly number[];
  /** [P, flats.length] */
  readonly watched: Float32Array;
  readonly ids: readonly number[];
  /** [P, ids.length] */
  readonly logits: Float32Array;
  readonly next?: WindowStore['next'];
}

/** A window analyze() has no complete cached result for: its index, its place in the sequence, its cache key and its store (new, or cached and missing some columns). */
interface PendingWindow {
  readonly w: number;
  readonly win: Window;
  readonly key: string;
  readonly store: WindowStore;
  /** The highlight pass with AnalyzerOptions.neededOnly: which of its scored positions a shown circuit's task applies to [P]. */
  readonly needed?: Uint8Array;
  /** The window cut at the screen's end (screenCuts): its result stands for the window's until the whole one is done, never after. */
  readonly cut?: true;
}

/** What the analyzers withCircuits() derives share: the window cache and who holds each key. */
interface Shared {
  readonly cache: WindowCache<WindowStore>;
  readonly generations: Map<string, number>;
  /** Per key, what resolves the latest claim's `superseded` (called when a newer claim takes the key). */
  readonly supersede: Map<string, () => void>;
  /** The last text planned (DocumentAnalyzer.planned). */
  lastPlan?: Plan;
}

/** One analysis's hold on its key: whether a newer analysis (or its AbortSignal) has superseded it, and a promise that resolves when that happens. */
interface Claim {
  readonly stale: () => boolean;
  readonly superseded: Promise<void>;
  /** The analysis has returned: stop listening to its signal and give up its key. */
  readonly end: () => void;
}

/** What DocumentAnalyzer.compute runs, and where the results go. */
interface ComputeJob {
  readonly todo: PendingWindow[];
  /** Per window of the document; compute fills the entries of `todo`. */
  readonly results: WindowResult[];
  /** The items of `todo` to run first: afterScreen is called once they are done. */
  readonly first: ReadonlySet<PendingWindow>;
  /** [EOT] + the document's token ids [1 + n]. */
  readonly seq: Int32Array;
  readonly ablation: Ablation;
  /** Read all V logits (next tokens and the readouts' probabilities). */
  readonly full: boolean;
  readonly claim: Claim;
  /** Called once when the `first` items are done and others remain (at once when there are none). */
  readonly afterScreen?: () => void;
}

/**
 * A TokenResult whose watched nodes are a view of its window's results made when read: a view costs
 * ~0.1 µs and garbage, and the highlight pass makes ~11,000 tokens for 1,000 lines and reads few.
 */
class AnalysedToken implements TokenResult {
  declare readonly readouts?: Readonly<Record<string, Readout>>;

  constructor(
    readonly index: number,
    readonly id: number,
    readonly text: string,
    readonly start: number,
    readonly end: number,
    readonly next: readonly NextToken[],
    readonly circuits: Readonly<Record<string, CircuitAtToken>>,
    /** The window's watched nodes [positions, stride] and this token's K of them at `from`. */
    private readonly values: Float32Array,
    private readonly from: number,
    private readonly count: number,
    readouts: Readonly<Record<string, Readout>> | undefined,
  ) {
    if (readouts) this.readouts = readouts;
  }

  get watched(): Float32Array {
    return this.values.subarray(this.from, this.from + this.count);
  }
}

/** Whether the task of circuit k (of the analyzer's bundle, in order) applies to token i of one encoding. */
type TaskApplies = (k: number, i: number) => boolean;

/** The scope's answer for each token of `enc` (UTF-16 offsets `shift` into the document), asked each time. */
function taskApplies(circuits: readonly CircuitFile[], enc: TokenRanges, shift: number, scope: DocumentScope): TaskApplies {
  return (k, i) => scope.applies(circuits[k], enc.starts[i] + shift, enc.ends[i] + shift);
}

/** The same, each answer kept (one byte a circuit and token): for an analysis that asks at every token more than once. */
function rememberedTaskApplies(circuits: readonly CircuitFile[], enc: TokenRanges, shift: number, scope: DocumentScope): TaskApplies {
  const ask = taskApplies(circuits, enc, shift, scope);
  const known = circuits.map(() => new Uint8Array(enc.ids.length)); // 0: not asked yet, 1: no, 2: yes
  return (k, i) => {
    const row = known[k];
    if (row[i] === 0) row[i] = ask(k, i) ? 2 : 1;
    return row[i] === 2;
  };
}

export class DocumentAnalyzer {
  /**
   * Flat indices of every node any circuit uses [K]: sorted, or for an analyzer from withCircuits
   * those of the analyzer it came from that it still uses, in their order, then its new ones sorted
   * (so the columns cached for that analyzer are read in place, with no copy).
   */
  readonly watch: readonly number[];
  readonly topK: number;
  private readonly column_ = new Map<number, number>();
  private readonly shared: Shared;
  /** Names this analyzer's views in the stores (a tag rather than the analyzer, which a store would keep alive with its last document). */
  private readonly viewTag = {};
  private readonly batch: number;
  private readonly inFlight: number;
  /** Per circuit: watch columns and coefs of its firing terms. */
  private readonly plans: { c: CircuitFile; terms: [number, number][] }[];
  /** Every circuit's class tokens, sorted [R]: the vocabulary entries read without nextTokens. */
  private readonly classIds: readonly number[];
  /** Per circuit, per class: the columns of its tokens in classIds. */
  private readonly classColumns: [number[], number[]][];
  /** All V ids, for next-token reads [V]. */
  private readonly allIds: BigInt64Array;

  constructor(
    readonly bundle: Bundle,
    private readonly runner: Pick<Runner, 'run'>,
    private readonly options: AnalyzerOptions = {},
    /** The analyzer withCircuits() or firingOnly() derives this one from. */
    from?: DocumentAnalyzer,
    /** 'firing': only the circuits' firing-rule nodes, no logits (firingOnly()). */
    private readonly reads: 'all' | 'firing' = 'all',
  ) {
    const V = bundle.model.vocab_size;
    this.topK = Math.max(1, Math.min(options.topK ?? 5, V));
    this.batch = Math.max(1, Math.min(options.batch ?? 1, 8));
    this.inFlight = Math.max(1, Math.min(options.inFlight ?? 1, 8));
    this.shared = from?.shared ?? { cache: new WindowCache(options.cacheWindows ?? 512), generations: new Map(), supersede: new Map() };
    const L = bundle.layout;
    const flats = new Set<number>();
    for (const c of bundle.circuits) {
      for (const t of c.firing?.terms ?? []) flats.add(L.flat(t.node) as number);
      if (reads === 'firing' || options.watchFiringOnly) continue;
      for (const n of c.nodes) flats.add(n.flat);
      for (const k of c.key_nodes ?? []) flats.add(L.flat(k) as number); // for hovers, through `watched`
    }
    const fresh = [...flats].filter((f) => !from?.column_.has(f)).sort((a, b) => a - b);
    this.watch = from ? [...from.watch.filter((f) => flats.has(f)), ...fresh] : fresh;
    this.watch.forEach((f, k) => this.column_.set(f, k));
    const col = (id: string) => this.column_.get(L.flat(id) as number) as number;
    this.plans = bundle.circuits.map((c) => ({ c, terms: (c.firing?.terms ?? []).map((t) => [col(t.node), t.coef]) }));
    const readOut = reads === 'all' ? bundle.circuits : [];
    const classIds = [...new Set(readOut.flatMap((c) => c.classes.flatMap((k) => k.tokens.map((t) => t.id))))].sort((a, b) => a - b);
    this.classIds = classIds;
    const classCol = new Map(classIds.map((id, j) => [id, j]));
    this.classColumns = readOut.map((c) => [c.classes[0].tokens.map((t) => classCol.get(t.id) as number), c.classes[1].tokens.map((t) => classCol.get(t.id) as number)]);
    this.allIds = BigInt64Array.from({ length: V }, (_, v) => BigInt(v));
  }

  get circuits(): readonly CircuitFile[] {
    return this.bundle.circuits;
  }

  /**
   * An analyzer of `circuits` on the same model with the same options that shares this one's
   * window cache and keys: what its circuits need that this one's runs read already is not run again.
   */
  withCircuits(circuits: readonly CircuitFile[]): DocumentAnalyzer {
    return new DocumentAnalyzer({ ...this.bundle, circuits }, this.runner, this.options, this);
  }

  /**
   * The highlight pass of the circuits with these tasks: an analyzer that watches only their
   * firing-rule nodes and reads no logits, so each window runs the smallest cone that covers those
   * nodes (AnalyzerOptions.cones) instead of the whole model, and only the windows where one of
   * their tasks applies (withoutQuiet). It shares this one's window cache and keys: an analysis of
   * all circuits afterwards runs each window once more for only what this one did not read, and
   * keeps the firing values it computed, so a token has one value in both. Its results have no
   * readouts (DocumentAnalysis.readout throws): what needs logits reads them from this analyzer
   * (analyze(), analyzeAt()).
   */
  firingOnly(tasks: readonly string[]): DocumentAnalyzer {
    const circuits = this.bundle.circuits.filter((c) => tasks.includes(c.task));
    return new DocumentAnalyzer({ ...this.bundle, circuits }, this.runner, this.options, this, 'firing');
  }

  /** Column of a watched node (flat index) in `TokenResult.watched`. */
  column(flat: number): number | undefined {
    return this.column_.get(flat);
  }

  clearCache(): void {
    this.shared.cache.clear();
  }

  /** The windows of a sequence ([EOT] + document token ids). */
  windows(seq: ArrayLike<number>): Window[] {
    return analysisWindows(seq, this.bundle.context, this.options);
  }

  /** Analyse a whole document (or options.range of it). */
  async analyze(text: string, ablation: Ablation = NO_ABLATION, options: AnalyzeOptions = {}): Promise<DocumentAnalysis | Cancelled> {
    const claim = this.claim(options);
    try {
      return await this.analyzeClaimed(text, ablation, options, claim);
    } finally {
      claim.end();
    }
  }

  /** analyze() while it holds its key (claim.end() runs however it returns). */
  private async analyzeClaimed(text: string, ablation: Ablation, options: AnalyzeOptions, claim: Claim): Promise<DocumentAnalysis | Cancelled> {
    const started = performance.now();
    const stale = claim.stale;
    const full = options.nextTokens === true;
    const shift = options.range?.start ?? 0;
    const source = options.range ? text.slice(options.range.start, options.range.end) : text;
    const firingPass = this.reads === 'firing' && !full;
    // a large cold document's screen is planned, run and painted from the stretch around it before the whole is tokenized
    const stretched = firingPass && !options.range && this.shared.lastPlan?.text !== source ? await this.screenFirst(text, options, claim, started) : undefined;
    if (stretched && 'status' in stretched) return stretched; // cancelled
    const { enc, seq, windows } = this.planned(source);
    // the stretch's tokens are the document's own by the split patterns we know; another pattern is checked here
    const screenPainted = stretched !== undefined && agreesWith(stretched, enc);
    // the highlight pass asks at every token twice (which windows and positions to run, then each token's result)
    const tasks = (firingPass ? rememberedTaskApplies : taskApplies)(this.bundle.circuits, enc, shift, documentScope(text));
    const applies = firingPass ? this.taskPositions(windows, tasks) : undefined;
    const looked = this.lookUp(windows, seq, full, ablation, this.options.neededOnly ? applies : undefined);
    const results = looked.results;
    const todo = applies ? this.withoutQuiet(looked.todo, results, applies) : looked.todo;
    const scale = options.thresholdScale ?? 1;
    const windowsRun = todo.length;
    const assemble = (complete: boolean, only?: ReadonlySet<number>, before?: number): DocumentAnalysis => this.assemble(windows, results, enc, source, shift, scale, tasks, complete, windowsRun, started, only, before);
    if (todo.length) {
      // the windows that score part of options.priority (what the editor shows) run first, and their tokens go out early
      const priority = options.priority && { start: options.priority.start - shift, end: options.priority.end - shift };
      const screen = priority ? this.scoring(windows, enc, priority.start, priority.end) : new Set<number>();
      const hasScreen = screen.size > 0; // before the cuts, which may find no task position on it
      const first = this.options.neededOnly && applies && priority ? this.screenCuts(todo, results, screen, applies, windows, enc, priority.end, (w, cut) => resultKey(seq, windows[w], full, ablation, cut)) : new Set(todo.filter((x) => screen.has(x.w)));
      const onProgress = options.onProgress;
      const afterScreen =
        onProgress && hasScreen && !screenPainted
          ? () => {
              // the screen's windows alone, up to its end: every other token is painted with the complete
              // result (assembling a long file's quiet windows took 0.2 s), and past the screen a cut window has no values
              if (!stale()) onProgress(assemble(false, screen, priority?.end));
            }
          : undefined;
      if (!(await this.compute({ todo, results, first, seq, ablation, full, claim, afterScreen }))) return CANCELLED;
    }
    if (stale()) return CANCELLED;
    return assemble(true);
  }

  /**
   * The highlight pass's first paint of a large document: the screen's windows (cut at its end, as
   * screenCuts does) planned from the stretch of the document around the screen (./screenStretch),
   * run, and their tokens sent to onProgress before the whole document is tokenized and planned. The
   * whole plan then finds their results in the cache under the same keys. Undefined where there is
   * no screen to paint first, nothing of it to run, or the document is small enough that the whole plan costs little more.
   */
  private async screenFirst(text: string, options: AnalyzeOptions, claim: Claim, started: number): Promise<Stretch | Cancelled | undefined> {
    const { priority, onProgress } = options;
    if (!priority || !onProgress || !this.options.neededOnly || this.options.windowing === 'grid') return undefined;
    const { W, left } = windowShape(this.bundle.context, this.options);
    const stretch = screenStretch(this.bundle.tokenizer, this.bundle.eotId, text, priority, (seq, edges) => contentWindowsWithin(seq, W, { left, maxGap: W - left }, edges));
    if (!stretch) return undefined;
    const { enc, seq, windows, start } = stretch;
    const source = text.slice(start, stretch.end);
    const tasks = rememberedTaskApplies(this.bundle.circuits, enc, start, documentScope(text));
    const applies = this.taskPositions(windows, tasks);
    const { results, todo: pending } = this.lookUp(windows, seq, false, NO_ABLATION, applies);
    const todo = this.withoutQuiet(pending, results, applies);
    const screen = this.scoring(windows, enc, priority.start - start, priority.end - start);
    const first = this.screenCuts(todo, results, screen, applies, windows, enc, priority.end - start, (w, cut) => resultKey(seq, windows[w], false, NO_ABLATION, cut));
    // the windows off the screen, and the screen's whole windows, run with the whole plan
    const run = todo.filter((x) => first.has(x));
    // nothing to run for the screen (an edit elsewhere, a screen where no shown task applies): the whole plan paints it as soon as it is made
    if (!run.length) return undefined;
    if (!(await this.compute({ todo: run, results, first, seq, ablation: NO_ABLATION, full: false, claim })) || claim.stale()) return CANCELLED;
    const scale = options.thresholdScale ?? 1;
    onProgress(this.assemble(windows, results, enc, source, start, scale, tasks, false, run.length, started, screen, priority.end - start));
    return stretch;
  }

  /**
   * Per window, its result when the cache has all it needs; the other windows go to `todo` with their cache
   * keys and stores. With `needed` (the highlight pass's positions, AnalyzerOptions.neededOnly) a window's
   * key holds them: its values elsewhere are NaN, so its store serves no other analysis.
   */
  private lookUp(windows: readonly Window[], seq: Int32Array, full: boolean, ablation: Ablation, needed?: readonly (Uint8Array | undefined)[]): { results: WindowResult[]; todo: PendingWindow[] } {
    const results = new Array<WindowResult>(windows.length);
    const todo: PendingWindow[] = [];
    windows.forEach((win, w) => {
      const at = needed?.[w];
      const key = resultKey(seq, win, full, ablation, at);
      const hit = this.shared.cache.get(key);
      if (hit && this.complete(hit, full)) results[w] = this.view(hit);
      else todo.push({ w, win, key, store: hit ?? newStore(win.length - win.from), needed: at });
    });
    return { results, todo };
  }

  /**
   * The runs the screen waits for, in a highlight pass that computes only the positions it reads
   * (AnalyzerOptions.neededOnly): each screen window of `todo` cut at the screen's end. The model is
   * causal, so a window run up to the screen's last task position gives its positions the very bits
   * of the whole window, and the rest of the window (up to a third of the screen's work on a
   * yolo1-shaped model: docs/BENCHMARKS.md, session 28) waits until the screen is painted. A cut
   * window is an extra item of `todo` under its own key, ahead of the whole one (its result in
   * `results` at once when the cache has it); a screen window with no task position on the screen
   * runs with the rest of the file and leaves `screen`.
   */
  private screenCuts(todo: PendingWindow[], results: WindowResult[], screen: Set<number>, applies: readonly (Uint8Array | undefined)[], windows: readonly Window[], enc: Encoding, end: number, keyOf: (w: number, cut: Uint8Array) => string): Set<PendingWindow> {
    const first = new Set<PendingWindow>();
    for (const item of [...todo]) {
      if (!screen.has(item.w)) continue;
      const needed = applies[item.w] as Uint8Array; // todo holds only windows where a task applies (withoutQuiet)
      const win = windows[item.w];
      // token index = sequence position − 1, and the window's flags start at its first scored position
      const past = needed.findIndex((_, j) => enc.starts[win.start + win.from + j - 1] >= end);
      if (past < 0 || !needed.includes(1, past)) {
        first.add(item); // nothing it reads lies past the screen
        continue;
      }
      if (!needed.subarray(0, past).includes(1)) {
        screen.delete(item.w); // nothing it reads lies on the screen
        continue;
      }
      const cut = needed.slice();
      cut.fill(0, past);
      const key = keyOf(item.w, cut);
      const hit = this.shared.cache.get(key);
      if (hit && this.complete(hit, false)) {
        results[item.w] = this.view(hit); // the same screen earlier, its whole window since evicted
        continue;
      }
      const head: PendingWindow = { w: item.w, win, key, store: hit ?? newStore(needed.length), needed: cut, cut: true };
      todo.unshift(head);
      first.add(head);
    }
    return first;
  }

  /**
   * Per window, which of its scored positions the task of one of this analyzer's circuits applies to
   * [P], or undefined where it applies to none (sequence position p holds token p − 1; the EOT prefix is none).
   */
  private taskPositions(windows: readonly Window[], tasks: TaskApplies): (Uint8Array | undefined)[] {
    return windows.map((win) => {
      const flags = new Uint8Array(win.length - win.from);
      let any = false;
      for (let j = 0; j < flags.length; j++) {
        const p = win.start + win.from + j;
        if (p < 1 || !this.bundle.circuits.some((_, k) => tasks(k, p - 1))) continue;
        flags[j] = 1;
        any = true;
      }
      return any ? flags : undefined;
    });
  }

  /**
   * The highlight pass (firingOnly) runs a window only when the task of one of its circuits applies
   * to a token the window scores (`applies`, taskPositions): nowhere else can a circuit fire, whatever
   * the model computes. The other windows get, without a run, NaN for every watched node (their
   * tokens' values are NaN, and no circuit applies or fires there); their stores stay unwritten.
   */
  private withoutQuiet(todo: PendingWindow[], results: WindowResult[], applies: readonly (Uint8Array | undefined)[]): PendingWindow[] {
    const K = this.watch.length;
    return todo.filter(({ w, win }) => {
      if (applies[w]) return true;
      results[w] = { topIds: new Int32Array(0), topP: new Float32Array(0), lse: new Float64Array(0), watched: new Float32Array((win.length - win.from) * K).fill(NaN), stride: K };
      return false;
    });
  }

  /** Whether a window's store holds everything this analyzer reads. */
  private complete(store: WindowStore, full: boolean): boolean {
    if (store.view?.owner === this.viewTag) return true;
    return (!full || store.next !== undefined) && store.nodes.missing(this.watch).length === 0 && store.logits.missing(this.classIds).length === 0;
  }

  /** A complete store as this analyzer reads it: its watched columns, its circuits' readouts (kept in the store until another analyzer reads it). */
  private view(store: WindowStore): WindowResult {
    if (store.view?.owner === this.viewTag) return store.view.result;
    const P = store.nodes.rows;
    const C = this.classColumns.length; // none for a firing-only analyzer
    const { block: logits, width: R } = store.logits.read(this.classIds); // [P, ≥ R]
    const lse = new Float64Array(P * C * 3);
    for (let j = 0; j < P; j++) {
      for (let ci = 0; ci < C; ci++) {
        const o = (j * C + ci) * 3;
        lse[o] = logSumExp(logits, j * R, this.classColumns[ci][0]);
        lse[o + 1] = logSumExp(logits, j * R, this.classColumns[ci][1]);
        lse[o + 2] = store.next ? store.next.lseAll[j] : NaN;
      }
    }
    const { block: watched, width: stride } = store.nodes.read(this.watch);
    const result: WindowResult = { topIds: store.next?.topIds ?? new Int32Array(0), topP: store.next?.topP ?? new Float32Array(0), lse, watched, stride };
    store.view = { owner: this.viewTag, result };
    return result;
  }

  /** A run's part added to a window's store (what the store holds already keeps its values). */
  private static addPart(store: WindowStore, part: RunPart): void {
    store.nodes.add(part.flats, part.watched);
    store.logits.add(part.ids, part.logits);
    store.next ??= part.next;
  }

  /**
   * Runs the windows of `todo` in batches, up to `inFlight` runs at once, the `first` ones first,
   * into `results` and the cache. False when the analysis was superseded before it ended.
   */
  private async compute(job: ComputeJob): Promise<boolean> {
    const { todo, results, first } = job;
    const { mask, fill } = ablationVectors(this.bundle, job.ablation);
    const cache = this.shared.cache;
    // Windows differ in length; batch neighbours in length order and right-pad each row to the
    // longest with EOT: the model is causal, so padding never changes the positions before it. A
    // batch's outputs start at the least `from` of its rows.
    const rank = (x: PendingWindow) => (first.has(x) ? 0 : 1);
    todo.sort((x, y) => rank(x) - rank(y) || x.win.from - y.win.from || x.win.length - y.win.length);
    let firstLeft = first.size;
    let finished = 0;
    let screenShown = !job.afterScreen;
    const screenReady = () => {
      if (!screenShown && firstLeft === 0 && finished < todo.length) {
        screenShown = true;
        job.afterScreen?.();
      }
    };
    // a screen whose windows need no run (cached, or where no shown task applies) is ready before any run
    screenReady();
    // runs settle in any order: the first failure is kept and thrown once none is in flight
    let failure: { error: unknown } | undefined;
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < todo.length && !failure; i += this.batch) {
      if (job.claim.stale()) return false;
      const rows = todo.slice(i, i + this.batch);
      // only what no earlier run over these windows read (a store another analysis filled meanwhile needs less)
      const flats = lackedBy(rows.map((r) => r.store.nodes), this.watch);
      const ids = lackedBy(rows.map((r) => r.store.logits), this.classIds);
      const run: Promise<void> = this.runWindows(rows.map((r) => r.win), job.seq, mask, fill, job.full, flats, ids, rows.map((r) => r.needed))
        .then((parts) => {
          rows.forEach((r, b) => {
            DocumentAnalyzer.addPart(r.store, parts[b]);
            cache.set(r.key, r.store);
            if (!r.cut || !results[r.w]) results[r.w] = this.view(r.store);
            if (first.has(r)) firstLeft--;
          });
          finished += rows.length;
          screenReady();
        })
        .catch((error: unknown) => void (failure ??= { error }))
        .finally(() => inFlight.delete(run));
      inFlight.add(run);
      // a superseded analysis returns at once: its runs still finish (into the cache) but nobody waits
      // for them, so analyses that overlap under a burst of edits cannot pile up behind slow batches
      if (inFlight.size >= this.inFlight) await Promise.race([...inFlight, job.claim.superseded]);
    }
    await Promise.race([Promise.all(inFlight), job.claim.superseded]);
    if (job.claim.stale()) return false;
    if (failure) throw failure.error;
    return true;
  }

  /**
   * analyze() of a whole document for inputs too large to hold at once (the CLI): the same windows
   * and numbers, delivered in document order a window's tokens at a time, as soon as that window
   * and every one before it are done, with up to `inFlight` + 1 batches running ahead. Nothing is
   * cached or kept once delivered. `onTokenized` gets the number of tokens before any window runs.
   */
  async *stream(text: string, ablation: Ablation = NO_ABLATION, options: Pick<AnalyzeOptions, 'signal' | 'thresholdScale' | 'nextTokens'> & { readonly onTokenized?: (tokens: number) => void } = {}): AsyncGenerator<TokenResult[]> {
    const full = options.nextTokens === true;
    const { seq, enc } = compactSequence(this.bundle, text); // not this.encode(): that keeps the document
    options.onTokenized?.(enc.ids.length);
    const windows = this.windows(seq);
    const tasks = taskApplies(this.bundle.circuits, enc, 0, documentScope(text));
    const { mask, fill } = ablationVectors(this.bundle, ablation);
    const ahead: { wins: Window[]; results: Promise<RunPart[]> }[] = [];
    for (let next = 0; next < windows.length || ahead.length; ) {
      while (next < windows.length && ahead.length <= this.inFlight) {
        const wins = windows.slice(next, next + this.batch);
        next += wins.length;
        const results = this.runWindows(wins, seq, mask, fill, full, this.watch, this.classIds);
        results.catch(() => undefined); // awaited in order below, where a failure is thrown
        ahead.push({ wins, results });
      }
      const batch = ahead.shift() as (typeof ahead)[number];
      const parts = await batch.results;
      if (options.signal?.aborted) return;
      yield batch.wins.flatMap((win, b) => {
        const store = newStore(win.length - win.from);
        DocumentAnalyzer.addPart(store, parts[b]);
        return this.windowTokens(win, this.view(store), enc, text, 0, options.thresholdScale ?? 1, tasks, true);
      });
    }
  }

  /**
   * One run over windows of `seq`, each right-padded with EOT to the longest (the model is causal),
   * watching the nodes `flats` and reading the logits of the vocabulary entries `ids` (with `full` all
   * of them, for the next tokens); per window in order, its part of the results. With `needed`
   * (PendingWindow.needed) a window's other positions read NaN, whichever runner ran it.
   */
  private async runWindows(wins: readonly Window[], seq: Int32Array, mask: Float32Array, fill: Float32Array, full: boolean, flats: readonly number[], ids: readonly number[], needed: readonly (Uint8Array | undefined)[] = []): Promise<RunPart[]> {
    // another analysis may have read everything these windows lacked since they were looked up
    if (!full && !flats.length && !ids.length) return wins.map(() => ({ flats, watched: new Float32Array(0), ids, logits: new Float32Array(0) }));
    const T = Math.max(...wins.map((w) => w.length));
    // a batch's outputs start at the least `from` of its rows
    const scoreFrom = Math.min(...wins.map((w) => w.from));
    const tokens = new BigInt64Array(wins.length * T).fill(BigInt(this.bundle.eotId)); // [B, T]
    wins.forEach((win, b) => {
      for (let t = 0; t < win.length; t++) tokens[b * T + t] = BigInt(seq[win.start + t]);
    });
    // the graph needs R ≥ 1: a run for nodes alone reads one entry and drops it
    const readIds = full ? this.allIds : BigInt64Array.from(ids.length ? ids : [0], BigInt);
    const cone = full || ids.length ? undefined : coneFor(this.options.cones ?? [], flats)?.upto;
    const P = T - scoreFrom;
    const reads = cone !== undefined && needed.some((n) => n) ? neededRows(wins, needed, P, scoreFrom) : undefined;
    const out = await this.runner.run({ ids: tokens, B: wins.length, T, mask, fill, watch: flats, scoreFrom, readIds, cone, needed: reads });
    return wins.map((win, b) => {
      const part = this.summarise(out, b * P + win.from - scoreFrom, win.length - win.from, full, flats, ids);
      const at = needed[b];
      for (let j = 0; at && j < at.length; j++) if (!at[j]) part.watched.fill(NaN, j * flats.length, (j + 1) * flats.length);
      return part;
    });
  }

  /** The tokens a window scores (the EOT prefix is not a document token: position p holds token p − 1). */
  private windowTokens(win: Window, res: WindowResult, enc: TokenRanges, source: string, shift: number, scale: number, tasks: TaskApplies, readouts = false): TokenResult[] {
    const tokens: TokenResult[] = [];
    for (let j = 0; j < win.length - win.from; j++) {
      const i = win.start + win.from + j - 1;
      if (i >= 0) tokens.push(this.token(i, enc.ids[i], source, enc.starts[i], enc.ends[i], shift, res, j, scale, tasks, readouts));
    }
    return tokens;
  }

  /** Indices of the windows that score a token overlapping UTF-16 [start, end) of the analysed text. */
  private scoring(windows: readonly Window[], enc: Encoding, start: number, end: number): Set<number> {
    const out = new Set<number>();
    windows.forEach((win, w) => {
      const first = Math.max(0, win.start + win.from - 1); // token index = sequence position − 1
      const last = win.start + win.length - 2;
      if (last >= first && enc.starts[first] < end && enc.ends[last] > start) out.add(w);
    });
    return out;
  }

  /**
   * The per-token results of the windows that have one (all of them when `complete`), of the windows in
   * `only` alone when given, and of the tokens that start before offset `before` (of `source`) alone when given.
   */
  private assemble(windows: readonly Window[], results: readonly (WindowResult | undefined)[], enc: Encoding, source: string, shift: number, scale: number, tasks: TaskApplies, complete: boolean, computed: number, started: number, only?: ReadonlySet<number>, before?: number): DocumentAnalysis {
    const tokens: TokenResult[] = [];
    const where: [WindowResult, number][] = []; // token index → its window result and row in it
    windows.forEach((win, w) => {
      const res = results[w];
      if (!res || (only && !only.has(w))) return;
      for (const t of this.windowTokens(win, res, enc, source, shift, scale, tasks)) {
        if (before !== undefined && enc.starts[t.index] >= before) break;
        where[t.index] = [res, t.index + 1 - win.start - win.from];
        tokens.push(t);
      }
    });
    return {
      status: 'done',
      complete,
      tokens,
      readout: (i, task) => {
        const [res, j] = where[i];
        return this.readoutOf(res, j, task);
      },
      windowsComputed: computed,
      windowsReused: windows.length - computed,
      elapsedMs: performance.now() - started,
    };
  }

  /**
   * The token containing UTF-16 `offset` (or the last one starting before it) with its readouts,
   * computed in the very window that analyze() and stream() score it in (the same positions, the
   * same left context, the whole vocabulary read as with nextTokens): the cursor, the hover and
   * the panel show the numbers the highlights were drawn from, never a second value for one token.
   * The window's result is cached, so further cursor reads in it (and the panel's ablation re-runs
   * of an unchanged state) cost nothing; an analyze() with nextTokens shares the cache, under an
   * ablation too (below). `range`
   * as for analyze(): the part of a large file the highlights cover. `readouts` holds the circuits
   * whose task applies to the token, and every circuit's readout is in the second field.
   */
  async analyzeAt(text: string, offset: number, ablation: Ablation = NO_ABLATION, options: Pick<AnalyzeOptions, 'thresholdScale' | 'range'> = {}): Promise<{ token: TokenResult; readouts: Record<string, Readout> } | undefined> {
    const shift = options.range?.start ?? 0;
    const source = options.range ? text.slice(options.range.start, options.range.end) : text;
    const { enc, seq, windows } = this.planned(source);
    let i = enc.ids.length - 1;
    while (i > 0 && enc.starts[i] > offset - shift) i--;
    if (i < 0) return undefined;
    const scored = scoringWindow(windows, i + 1); // sequence position i + 1 holds token i
    // An ablated state (the panel's re-run per toggle, `analyze --at --ablate`) runs the whole window too. The
    // window cut at the token took 7–10 ms against ~20 (1,000 lines, median of 40 string closes), but
    // onnxruntime's sums over its shorter rows round differently, and where AbsTopK's choice is a near tie
    // that rounding picks other channels: with the concentrate-gpu model one token of stdlib_ntpath.py
    // moved by 1e-2 (next-token P 7.7 % against 6.8 %): a second value for one token (oneNumber.test). Scoring
    // the whole window from the token on is not exact either (the last layer then runs fewer rows). Further
    // reads in the window under the same ablation come from the cache.
    const key = resultKey(seq, scored, true, ablation);
    const store = this.shared.cache.get(key) ?? newStore(scored.length - scored.from);
    if (!this.complete(store, true)) {
      const { mask, fill } = ablationVectors(this.bundle, ablation);
      DocumentAnalyzer.addPart(store, (await this.runWindows([scored], seq, mask, fill, true, store.nodes.missing(this.watch), store.logits.missing(this.classIds)))[0]);
    }
    this.shared.cache.set(key, store);
    const res = this.view(store);
    const j = i + 1 - scored.start - scored.from;
    const token = this.token(i, enc.ids[i], source, enc.starts[i], enc.ends[i], shift, res, j, options.thresholdScale ?? 1, taskApplies(this.bundle.circuits, enc, shift, documentScope(text)), true);
    const readouts: Record<string, Readout> = {};
    for (const c of this.bundle.circuits) readouts[c.task] = this.readoutOf(res, j, c.task);
    return { token, readouts };
  }

  /**
   * The tokens, sequence and windows of `text` as analyze() plans them, remembered for the last text
   * by every analyzer of the model: the highlight pass, then the hover and the panel (which re-runs
   * analyzeAt for every ablation toggle) read the same document, and tokenizing 5,000 lines cost 60 ms
   * idle, ~150 ms in the editor beside VS Code's own work (docs/BENCHMARKS.md, session 28).
   */
  private planned(text: string): Plan {
    const shared = this.shared;
    if (shared.lastPlan?.text !== text) {
      const enc = encodeDocument(this.bundle.tokenizer, text);
      const seq = withEot(this.bundle.eotId, enc.ids, enc.ids.length);
      shared.lastPlan = { text, enc, seq, windows: this.windows(seq) };
    }
    return shared.lastPlan;
  }

  /** Marks the start of an analysis; returns a check that says whether it has been superseded. */
  private claim(options: AnalyzeOptions): Claim {
    const signal = options.signal;
    let release = (): void => undefined;
    const superseded = new Promise<void>((resolve) => (release = resolve));
    // one signal may serve many analyses (the CLI's, a discovery's): each removes its own listener when it ends
    const onAbort = (): void => release();
    signal?.addEventListener('abort', onAbort, { once: true });
    const aborted = () => signal?.aborted === true;
    if (options.key === undefined) return { stale: aborted, superseded, end: () => signal?.removeEventListener('abort', onAbort) };
    const key = options.key;
    const { generations, supersede } = this.shared;
    const generation = (generations.get(key) ?? 0) + 1;
    generations.set(key, generation);
    supersede.get(key)?.();
    supersede.set(key, release);
    const end = () => {
      signal?.removeEventListener('abort', onAbort);
      if (supersede.get(key) === release) supersede.delete(key);
    };
    return { stale: () => aborted() || generations.get(key) !== generation, superseded, end };
  }

  private token(i: number, id: number, source: string, s: number, e: number, shift: number, res: WindowResult, j: number, scale: number, tasks: TaskApplies, withReadouts = false): TokenResult {
    const row = j * res.stride; // this token's watched nodes in res.watched
    const circuits: Record<string, CircuitAtToken> = {};
    let readouts: Record<string, Readout> | undefined;
    for (let k = 0; k < this.plans.length; k++) {
      const p = this.plans[k];
      let value = 0;
      for (const [col, coef] of p.terms) value += coef * res.watched[row + col];
      const firing = p.c.firing;
      const pos = firing?.positive_class ?? 0;
      const applies = tasks(k, i);
      circuits[p.c.task] = {
        value,
        applies,
        fires: applies && firing !== undefined && Math.abs(value) >= firing.threshold * scale,
        cls: value > 0 ? pos : ((1 - pos) as 0 | 1),
      };
      if (withReadouts && applies) (readouts ??= {})[p.c.task] = this.readoutOf(res, j, p.c.task);
    }
    const next: NextToken[] = [];
    const k = res.topIds.length ? this.topK : 0;
    for (let r = 0; r < k; r++) {
      const nid = res.topIds[j * k + r];
      next.push({ id: nid, text: this.bundle.tokenizer.tokenText(nid), p: res.topP[j * k + r] });
    }
    return new AnalysedToken(i, id, source.slice(s, e), s + shift, e + shift, next, circuits, res.watched, row, this.watch.length, withReadouts ? (readouts ?? {}) : undefined);
  }


  private readoutOf(res: WindowResult, j: number, task: string): Readout {
    const c = this.bundle.circuits.findIndex((x) => x.task === task);
    if (c < 0) throw new RangeError(`no circuit for task ${task}`);
    if (this.reads === 'firing') throw new RangeError(`the highlight pass reads no logits, so it has no readout of ${task}: read it from the analyzer it came from`);
    const base = (j * this.bundle.circuits.length + c) * 3;
    const [l0, l1, all] = [res.lse[base], res.lse[base + 1], res.lse[base + 2]];
    return { p: Number.isNaN(all) ? undefined : [Math.exp(l0 - all), Math.exp(l1 - all)], logitDiff: l0 - l1 };
  }

  /**
   * Keep what the editor needs of P consecutive output rows starting at row `row0` of the run's
   * logits [·, R] and watched [·, k] (R = V with `full`, else `ids`, or one unused entry when `ids`
   * is empty; k = flats.length): the watched columns, the logits of `ids`, and with `full` the top
   * next tokens and logsumexp over all V — ranked by the graph where it does so for at least topK
   * entries (RunOutput.next), else here from the logits (a bundle exported before, an import).
   */
  private summarise(out: RunOutput, row0: number, P: number, full: boolean, flats: readonly number[], ids: readonly number[]): RunPart {
    const R = full ? this.bundle.model.vocab_size : Math.max(1, ids.length);
    const watched = out.watched.slice(row0 * flats.length, (row0 + P) * flats.length);
    const logits = new Float32Array(P * ids.length); // [P, ids.length]
    for (let j = 0; j < P; j++) ids.forEach((id, c) => (logits[j * ids.length + c] = out.logits[(row0 + j) * R + (full ? id : c)]));
    if (!full) return { flats, watched, ids, logits };
    const next = out.next && out.next.k >= this.topK ? rankedByGraph(out.next, row0, P, this.topK) : rankedHere(out.logits, row0, P, R, this.topK);
    return { flats, watched, ids, logits, next };
  }
}

/** Per token, the top next tokens [P, topK] and logsumexp over all V [P] of rows row0.. of a graph's own ranking (RunOutput.next). */
function rankedByGraph(ranked: NextOutput, row0: number, P: number, topK: number): NonNullable<WindowStore['next']> {
  const next = { topIds: new Int32Array(P * topK), topP: new Float32Array(P * topK), lseAll: ranked.lse.slice(row0, row0 + P) };
  for (let j = 0; j < P; j++) {
    const from = (row0 + j) * ranked.k;
    for (let k = 0; k < topK; k++) {
      next.topIds[j * topK + k] = Number(ranked.ids[from + k]);
      next.topP[j * topK + k] = Math.exp(ranked.values[from + k] - next.lseAll[j]);
    }
  }
  return next;
}

/** The same as rankedByGraph from rows row0.. of logits [·, R] (R = V), for a graph that does not rank. */
function rankedHere(logits: Float32Array, row0: number, P: number, R: number, topK: number): NonNullable<WindowStore['next']> {
  const next = { topIds: new Int32Array(P * topK), topP: new Float32Array(P * topK), lseAll: new Float64Array(P) };
  const topL = new Float64Array(topK);
  for (let j = 0; j < P; j++) {
    const base = (row0 + j) * R;
    let max = -Infinity;
    for (let v = 0; v < R; v++) if (logits[base + v] > max) max = logits[base + v];
    let sum = 0;
    for (let v = 0; v < R; v++) sum += Math.exp(logits[base + v] - max);
    const lseAll = max + Math.log(sum);
    next.lseAll[j] = lseAll;
    topTokens(logits, base, R, topL, next.topIds.subarray(j * topK, (j + 1) * topK));
    for (let k = 0; k < topK; k++) next.topP[j * topK + k] = Math.exp(topL[k] - lseAll);
  }
  return next;
}

const CANCELLED: Cancelled = { status: 'cancelled' };

/** The cache key of a window's result: its tokens, its scored part, what was read (all V or the class tokens), the ablation and the positions read (PendingWindow.needed; all when absent). */
function resultKey(seq: Int32Array, win: Window, full: boolean, ablation: Ablation, needed?: Uint8Array): string {
  const at = needed ? `|at ${Buffer.from(needed).toString('base64')}` : '';
  return windowKey(seq.subarray(win.start, win.start + win.length), `${win.from}|${full ? 'next' : 'classes'}|${ablationKey(ablation)}${at}`);
}

/** RunInput.needed [B·P] of a batch whose outputs start at scoreFrom: each window's flags at its scored positions (all of a window without any). */
function neededRows(wins: readonly Window[], needed: readonly (Uint8Array | undefined)[], P: number, scoreFrom: number): Uint8Array {
  const rows = new Uint8Array(wins.length * P);
  wins.forEach((win, b) => {
    const at = needed[b];
    const o = b * P + win.from - scoreFrom;
    if (at) rows.set(at, o);
    else rows.fill(1, o, o + win.length - win.from);
  });
  return rows;
}

/** [EOT] + the tokens of `text`, and the tokens' ranges, in typed arrays that hold each id once (in `seq`). */
function compactSequence(bundle: Bundle, text: string): { seq: Int32Array; enc: TokenRanges } {
  const e = encodeDocumentCompact(bundle.tokenizer, text);
  const seq = withEot(bundle.eotId, e.ids, e.ids.length);
  return { seq, enc: { ids: seq.subarray(1), starts: e.starts, ends: e.ends } };
}

function newStore(P: number): WindowStore {
  return { nodes: new Columns(P), logits: new Columns(P) };
}

/** The names (in their order) that at least one of `columns` does not hold. */
function lackedBy(columns: readonly Columns[], names: readonly number[]): number[] {
  const lacking = new Set(columns.flatMap((c) => c.missing(names)));
  return names.filter((n) => lacking.has(n));
}

/** The topL.length largest of logits[base, base + R) into topL (values) and ids (columns), largest first. */
function topTokens(logits: Float32Array, base: number, R: number, topL: Float64Array, ids: Int32Array): void {
  // insertion into a small sorted buffer (K ≪ R)
  const K = topL.length;
  let n = 0;
  for (let v = 0; v < R; v++) {
    const l = logits[base + v];
    if (n < K || l > topL[n - 1]) {
      let k = n < K ? n++ : n - 1;
      while (k > 0 && topL[k - 1] < l) {
        topL[k] = topL[k - 1];
        ids[k] = ids[k - 1];
        k--;
      }
      topL[k] = l;
      ids[k] = v;
    }
  }
}

function logSumExp(logits: Float32Array, base: number, columns: readonly number[]): number {
  let m = -Infinity;
  for (const c of columns) m = Math.max(m, logits[base + c]);
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (const c of columns) s += Math.exp(logits[base + c] - m);
  return m + Math.log(s);
}
