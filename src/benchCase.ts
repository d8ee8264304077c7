// One bench case: a Python file of a given size run the ways a user meets it — a cold analysis
// (and when its first screen was ready), its forward passes replayed alone beside the PyTorch
// reference, one-character edits against the cached file, and the panel's re-run after an
// ablation toggle — with the multiply-adds of those passes against the sparsity limit.
import type { BenchCase, BenchOptions } from './bench';
import { conePasses, shownByDefault } from './benchCone';
import type { CasePasses } from './benchLimit';
import { median, peakRssMb, rssMb, timed } from './benchMeasure';
import { pythonFor, TorchReference, torchRequest } from './benchTorch';
import { type Ablation, DocumentAnalyzer, type DocumentAnalysis, NO_ABLATION } from './core/analysis';
import type { Bundle } from './core/bundle';
import type { RunInput, Runner } from './core/runner';
import type { ForwardCost } from './sparseLimit';

/** The first screen of a file, as the editor shows it on opening. */
const SCREEN_LINES = 60;

/** The columns that need the machine's dense throughput, which ./benchLimit measures after every case. */
type LimitColumns = 'dense_macs_per_ms' | 'limit_ms' | 'x_of_limit' | 'cone_limit_ms' | 'cone_x_of_limit';

/** A case's row before its passes are set against the machine's dense throughput. */
export type MeasuredCase = Omit<BenchCase, LimitColumns>;

function done(r: Awaited<ReturnType<DocumentAnalyzer['analyze']>>): DocumentAnalysis {
  if (r.status !== 'done') throw new Error('bench: an analysis was cancelled');
  return r;
}

/** A case's row, and its recorded forward passes and their cone's (for ./bench's onnxruntime reference and ./benchLimit, replayed after every case). */
export async function benchCase(o: BenchOptions, b: Bundle, r: Runner, name: string, lines: number, text: string, notes: string[], cost: ForwardCost | undefined): Promise<CasePasses> {
  // the forward passes of one cold analysis, recorded for the replays
  const recorded: RunInput[] = [];
  const recorder = { run: (input: RunInput) => (recorded.push(input), r.run(input)) };
  const options = r.analyzerOptions;
  const analyzer = new DocumentAnalyzer(b, recorder, options);
  // the editor's highlight pass, not recorded: its own cache, cleared before each of its cold runs
  const shown = shownByDefault(b, o.root);
  const highlighter = new DocumentAnalyzer(b, r, options).firingOnly(shown.map((c) => c.task));
  const cold = await coldAnalyses(o.runs, analyzer, highlighter, text, () => (recorded.length = 0));
  const batches = [...recorded];
  const cone = conePasses(b, shown, r, batches);
  const { replays, torchMs, others } = await replayed(o, b, r, analyzer.watch, batches, notes, cone ? [cone.firing, cone.cone_] : []);
  const edits = await editedAnalyses(o.runs, analyzer, text);
  const ablations = await ablationReruns(o.runs, b, analyzer, text);
  const forwardMs = median(replays);
  const torchMedian = torchMs.length ? median(torchMs) : null;
  const macs = cost ? batches.map((x) => cost.ofRun(x)).reduce((s, x) => ({ dense: s.dense + x.dense, nonzero: s.nonzero + x.nonzero })) : undefined;
  const [firingMs, coneMs] = cone ? others.map(median) : [null, null];
  const row: MeasuredCase = {
    name,
    lines,
    tokens: cold.tokens,
    windows: batches.reduce((s, x) => s + x.B, 0),
    analyze_ms: median(cold.ms),
    visible_ms: median(cold.visible),
    highlights_ms: median(cold.highlights.ms),
    highlights_visible_ms: median(cold.highlights.visible),
    highlights_vs_analyze: median(cold.highlights.ms.map((h, i) => h / cold.ms[i])),
    forward_ms: forwardMs,
    onnxruntime_ms: null,
    ratio_vs_onnxruntime: null,
    ablate_ms: median(ablations),
    edit_ms: median(edits.ms),
    edit_windows: [median(edits.windows), Math.max(...edits.windows)],
    torch_ms: torchMedian,
    ratio_vs_torch: torchMedian === null ? null : forwardMs / torchMedian,
    rss_mb: cold.rss,
    peak_rss_mb: peakRssMb(),
    dense_macs: macs?.dense ?? null,
    nonzero_macs: macs?.nonzero ?? null,
    cone_nonzero_macs: cone && cost ? cone.cone_.reduce((s, x) => s + cost.ofRun(x).nonzero, 0) : null,
    cone: cone?.cone ?? null,
    firing_ms: firingMs,
    cone_ms: coneMs,
    cone_vs_firing: coneMs === null || firingMs === null ? null : coneMs / firingMs,
    cone_vs_forward: coneMs === null ? null : coneMs / forwardMs,
    cone_vs_torch: coneMs === null || torchMedian === null ? null : coneMs / torchMedian,
  };
  return { row, batches, cone: cone?.cone_ };
}

interface ColdTimes {
  readonly ms: number[];
  /** When the first screen had its results. */
  readonly visible: number[];
}

/**
 * Cold whole-file analyses of every circuit, each followed or preceded (alternately) by a cold
 * highlight pass: their times, when the first screen (run first) was ready, the tokens, and RSS
 * after the first full analysis.
 */
async function coldAnalyses(runs: number, analyzer: DocumentAnalyzer, highlighter: DocumentAnalyzer, text: string, beforeEach: () => void): Promise<ColdTimes & { tokens: number; rss: number; highlights: ColdTimes }> {
  const screen = { start: 0, end: text.split('\n', SCREEN_LINES).join('\n').length };
  const full: ColdTimes = { ms: [], visible: [] };
  const highlights: ColdTimes = { ms: [], visible: [] };
  let tokens = 0;
  let rss = 0;
  const cold = async (a: DocumentAnalyzer, into: ColdTimes) => {
    a.clearCache();
    const started = performance.now();
    let shown: number | undefined;
    const [res, t] = await timed(async () => done(await a.analyze(text, NO_ABLATION, { priority: screen, onProgress: () => (shown = performance.now() - started) })));
    into.ms.push(t);
    into.visible.push(shown ?? t);
    return res;
  };
  for (let i = 0; i < runs; i++) {
    if (i % 2) await cold(highlighter, highlights);
    beforeEach();
    tokens = (await cold(analyzer, full)).tokens.length;
    if (i === 0) rss = rssMb();
    if (i % 2 === 0) await cold(highlighter, highlights);
  }
  return { ...full, tokens, rss, highlights };
}

/**
 * The recorded forward passes alone (all queued: every worker busy), alternating with the PyTorch
 * reference on the same batches and with each of `variants` (the same windows run otherwise: ./benchCone).
 */
async function replayed(o: BenchOptions, b: Bundle, r: Runner, watch: readonly number[], batches: readonly RunInput[], notes: string[], variants: readonly (readonly RunInput[])[]): Promise<{ replays: number[]; torchMs: number[]; others: number[][] }> {
  const python = pythonFor(o.root);
  const torch = notes.some((n) => n.startsWith('PyTorch reference not run')) ? undefined : await TorchReference.start(python, o.root, torchRequest(b, watch, batches));
  if (typeof torch === 'string') notes.push(`PyTorch reference not run (${python}: ${torch.slice(0, 200)}); install training/requirements.lock into .venv, or set CIRCUIT_INSPECTOR_PYTHON.`);
  else if (torch && !notes.includes(torch.version)) notes.push(torch.version);
  const replays: number[] = [];
  const torchMs: number[] = [];
  const others = variants.map((): number[] => []);
  try {
    for (const v of variants) await replay(r, v); // a cone's session opens at its first run in each worker
    for (let i = 0; i < o.runs; i++) {
      replays.push(await replay(r, batches));
      for (const [j, v] of variants.entries()) others[j].push(await replay(r, v));
      if (torch instanceof TorchReference) torchMs.push(await torch.time());
    }
  } finally {
    if (torch instanceof TorchReference) torch.close();
  }
  return { replays, torchMs, others };
}

/** ms to run `passes` through `runner`, all queued at once (every worker busy). */
export async function replay(runner: Runner, passes: readonly RunInput[]): Promise<number> {
  return (await timed(() => Promise.all(passes.map((input) => runner.run(input)))))[1];
}

/** One-character edits at different lines, each against the cached unedited file: times and windows recomputed. */
async function editedAnalyses(runs: number, analyzer: DocumentAnalyzer, text: string): Promise<{ ms: number[]; windows: number[] }> {
  const ms: number[] = [];
  const windows: number[] = [];
  const docLines = text.split('\n');
  for (let i = 0; i < runs; i++) {
    done(await analyzer.analyze(text, NO_ABLATION));
    const line = Math.floor(((i + 1) * docLines.length) / (runs + 1));
    const edited = [...docLines.slice(0, line), 'x' + docLines[line], ...docLines.slice(line + 1)].join('\n');
    const [res, t] = await timed(async () => done(await analyzer.analyze(edited, NO_ABLATION)));
    ms.push(t);
    windows.push(res.windowsComputed);
  }
  return { ms, windows };
}

/** The panel's re-run at a string close near the middle after toggling one quote-circuit node, a different node each time. */
async function ablationReruns(runs: number, b: Bundle, analyzer: DocumentAnalyzer, text: string): Promise<number[]> {
  const quote = b.circuits.find((c) => c.task === 'single_double_quote') ?? b.circuits[0];
  const close = Math.max(text.indexOf('")', text.length >> 1), text.indexOf("')", text.length >> 1));
  const cursor = close > 0 ? close : text.length >> 1;
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const node = quote?.nodes[i % Math.max(1, quote.nodes.length)]?.id;
    const ab: Ablation = node ? { nodes: new Set([node]), mode: i % 2 ? 'zero' : 'mean' } : NO_ABLATION;
    analyzer.clearCache();
    ms.push((await timed(() => analyzer.analyzeAt(text, cursor, ab)))[1]);
  }
  return ms;
}
