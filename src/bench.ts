// `circuit-inspector bench`: what a user waits for, on Python files of about 100, 1,000 and 5,000
// lines (prefixes of bench/stdlib-5000.py), with the PyTorch reference timed on the same inputs in
// the same run. Medians throughout: these machines are shared and noisy, so every figure that
// matters is also given as a ratio to something measured beside it.
import { type ChildProcessWithoutNullStreams, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { type Ablation, DocumentAnalyzer, type DocumentAnalysis, NO_ABLATION } from './core/analysis';
import type { Bundle } from './core/bundle';
import { openModel } from './core/openModel';
import type { ProviderChoice, RunInput, Runner } from './core/runner';

export interface BenchCase {
  readonly name: string;
  readonly lines: number;
  readonly tokens: number;
  readonly windows: number;
  /** Cold whole-file analysis as the editor runs it (tokenize + model + firing), median ms. */
  readonly analyze_ms: number;
  /** Within that analysis, when the first screen (lines 1–60, run first) had its results, median ms. */
  readonly visible_ms: number;
  /** The onnxruntime forward passes of that analysis, replayed alone, median ms. */
  readonly onnx_ms: number;
  /** The panel's re-run at the cursor after one ablation toggle, median ms. */
  readonly ablate_ms: number;
  /** Re-analysis after a one-character edit (the rest cached), median ms, and windows it recomputed (median, max). */
  readonly edit_ms: number;
  readonly edit_windows: readonly [number, number];
  /** The same forward passes in the PyTorch reference, median ms; null without PyTorch. */
  readonly torch_ms: number | null;
  /** onnx_ms / torch_ms. */
  readonly ratio_vs_torch: number | null;
  /** Resident memory after the first cold analysis of this case, MB (the model session and the analysis held). */
  readonly rss_mb: number;
  /** Peak resident memory of the bench process so far, MB (repeats and replays included). */
  readonly peak_rss_mb: number;
}

export interface BenchReport {
  readonly cases: BenchCase[];
  readonly machine: Readonly<Record<string, string | number>>;
  /** Bundle load + onnxruntime session creation, median ms. */
  readonly load_ms: number;
  /** Largest rss_mb over the process before the model was loaded, MB. */
  readonly rss_growth_mb: number;
  readonly notes: string[];
}

export interface BenchOptions {
  readonly root: string;
  readonly bundleDir: string;
  readonly provider: ProviderChoice;
  /** Repetitions per measurement (median taken). */
  readonly runs: number;
  /** Line counts of the cases. */
  readonly sizes?: readonly number[];
  /** Print progress here. */
  readonly log?: (line: string) => void;
}

export const BENCH_FILE = 'bench/stdlib-5000.py';

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const peakRssMb = (): number => process.resourceUsage().maxRSS / 1024;
const rssMb = (): number => process.memoryUsage().rss / 2 ** 20;
/** The first screen of a file, as the editor shows it on opening. */
const SCREEN_LINES = 60;

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await f();
  return [value, performance.now() - started];
}

function done(r: Awaited<ReturnType<DocumentAnalyzer['analyze']>>): DocumentAnalysis {
  if (r.status !== 'done') throw new Error('bench: an analysis was cancelled');
  return r;
}

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const log = o.log ?? (() => undefined);
  const rssBefore = rssMb();
  const loads: number[] = [];
  let loaded: { b: Bundle; r: Runner } | undefined;
  for (let i = 0; i < 3; i++) {
    await loaded?.r.dispose();
    const [x, ms] = await timed(async () => {
      const { bundle, runner } = await openModel(o.bundleDir, o.provider);
      return { b: bundle, r: runner };
    });
    loaded = x;
    loads.push(ms);
  }
  const { b, r } = loaded as { b: Bundle; r: Runner };
  const notes: string[] = [];
  if (r.notice) notes.push(r.notice);
  const source = fs.readFileSync(path.join(o.root, BENCH_FILE), 'utf8').split('\n');
  const cases: BenchCase[] = [];
  try {
    for (const lines of o.sizes ?? [100, 1000, 5000]) {
      const text = source.slice(0, lines).join('\n') + '\n';
      log(`${lines} lines…`);
      cases.push(await benchCase(o, b, r, `${lines} lines`, lines, text, notes));
    }
  } finally {
    await r.dispose();
  }
  return {
    cases,
    machine: machine(r.provider),
    load_ms: median(loads),
    rss_growth_mb: Math.max(...cases.map((c) => c.rss_mb)) - rssBefore,
    notes,
  };
}

async function benchCase(o: BenchOptions, b: Bundle, r: Runner, name: string, lines: number, text: string, notes: string[]): Promise<BenchCase> {
  // the forward passes of one cold analysis, recorded for the replays below
  const recorded: RunInput[] = [];
  const recorder = {
    run: (input: RunInput) => {
      recorded.push(input);
      return r.run(input);
    },
  };
  const analyzer = new DocumentAnalyzer(b, recorder, { batch: r.preferredBatch, inFlight: r.parallelism });
  const cold: number[] = [];
  const visible: number[] = [];
  const screen = { start: 0, end: text.split('\n', SCREEN_LINES).join('\n').length };
  let tokens = 0;
  let rss = 0;
  for (let i = 0; i < o.runs; i++) {
    analyzer.clearCache();
    recorded.length = 0;
    const started = performance.now();
    let shown: number | undefined;
    const [res, ms] = await timed(async () => done(await analyzer.analyze(text, NO_ABLATION, { priority: screen, onProgress: () => (shown = performance.now() - started) })));
    cold.push(ms);
    visible.push(shown ?? ms);
    tokens = res.tokens.length;
    if (i === 0) rss = rssMb();
  }
  const batches = [...recorded];

  // the same forward passes alone, alternating with the PyTorch reference on the same batches
  const python = pythonFor(o.root);
  const torch = notes.some((n) => n.startsWith('PyTorch reference not run')) ? undefined : await TorchReference.start(python, o.root, torchRequest(b, analyzer.watch, batches));
  if (typeof torch === 'string') notes.push(`PyTorch reference not run (${python}: ${torch.slice(0, 200)}); install training/requirements.lock into .venv, or set CIRCUIT_INSPECTOR_PYTHON.`);
  else if (torch && !notes.includes(torch.version)) notes.push(torch.version);
  const replays: number[] = [];
  const torchMs: number[] = [];
  try {
    for (let i = 0; i < o.runs; i++) {
      replays.push((await timed(() => Promise.all(batches.map((input) => r.run(input)))))[1]); // all queued: every worker busy
      if (torch instanceof TorchReference) torchMs.push(await torch.time());
    }
  } finally {
    if (torch instanceof TorchReference) torch.close();
  }

  // one-character edits at different lines, each against the cached unedited file
  const edits: number[] = [];
  const editWindows: number[] = [];
  const docLines = text.split('\n');
  for (let i = 0; i < o.runs; i++) {
    done(await analyzer.analyze(text, NO_ABLATION));
    const line = Math.floor(((i + 1) * docLines.length) / (o.runs + 1));
    const edited = [...docLines.slice(0, line), 'x' + docLines[line], ...docLines.slice(line + 1)].join('\n');
    const [res, ms] = await timed(async () => done(await analyzer.analyze(edited, NO_ABLATION)));
    edits.push(ms);
    editWindows.push(res.windowsComputed);
  }

  // the panel: toggle one circuit node at a string close near the middle, a different node each time
  const quote = b.circuits.find((c) => c.task === 'single_double_quote') ?? b.circuits[0];
  const close = Math.max(text.indexOf('")', text.length >> 1), text.indexOf("')", text.length >> 1));
  const cursor = close > 0 ? close : text.length >> 1;
  const ablations: number[] = [];
  for (let i = 0; i < o.runs; i++) {
    const node = quote?.nodes[i % Math.max(1, quote.nodes.length)]?.id;
    const ab: Ablation = node ? { nodes: new Set([node]), mode: i % 2 ? 'zero' : 'mean' } : NO_ABLATION;
    analyzer.clearCache();
    ablations.push((await timed(() => analyzer.analyzeAt(text, cursor, ab)))[1]);
  }

  const onnxMs = median(replays);
  const torchMedian = torchMs.length ? median(torchMs) : null;
  return {
    name,
    lines,
    tokens,
    windows: batches.reduce((s, x) => s + x.B, 0),
    analyze_ms: median(cold),
    visible_ms: median(visible),
    onnx_ms: onnxMs,
    ablate_ms: median(ablations),
    edit_ms: median(edits),
    edit_windows: [median(editWindows), Math.max(...editWindows)],
    torch_ms: torchMedian,
    ratio_vs_torch: torchMedian === null ? null : onnxMs / torchMedian,
    rss_mb: rss,
    peak_rss_mb: peakRssMb(),
  };
}

/**
 * training/bench_torch.py in a child process, holding the same batches: time() runs one PyTorch
 * pass over them, so the benchmark can alternate it with the onnxruntime pass.
 */
class TorchReference {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: AsyncIterator<string>,
    readonly version: string,
  ) {}

  /** The reference, or why it cannot run (no Python, no PyTorch, a bad bundle). */
  static async start(python: string, root: string, request: object): Promise<TorchReference | string> {
    const child = spawn(python, ['-m', 'training.bench_torch'], { cwd: root });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const failed = new Promise<string>((resolve) => {
      child.on('error', (e) => resolve(e.message));
      child.on('close', (code) => resolve(stderr.trim().split('\n').at(-1) ?? `exit ${code}`));
    });
    const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stdin.on('error', () => undefined); // a child that died early: `failed` says why
    child.stdin.write(JSON.stringify(request) + '\n');
    const first = await Promise.race([lines.next(), failed]);
    if (typeof first === 'string' || first.done) {
      child.kill();
      return typeof first === 'string' ? first : await failed;
    }
    const hello = JSON.parse(first.value) as { torch: string; threads: number };
    return new TorchReference(child, lines, `torch ${hello.torch}, ${hello.threads} threads (${python})`);
  }

  async time(): Promise<number> {
    this.child.stdin.write('\n');
    const line = await this.lines.next();
    if (line.done) throw new Error('bench: the PyTorch reference stopped');
    return (JSON.parse(line.value) as { ms: number }).ms;
  }

  close(): void {
    this.child.stdin.end();
  }
}

function torchRequest(b: Bundle, watch: readonly number[], batches: readonly RunInput[]): object {
  return {
    bundle: path.resolve(b.dir),
    threads: Math.min(os.cpus().length, 4),
    watch,
    batches: batches.map((x) => ({
      ids: Array.from({ length: x.B }, (_, i) => Array.from(x.ids.subarray(i * x.T, (i + 1) * x.T), Number)),
      score_from: x.scoreFrom,
      read_ids: Array.from(x.readIds, Number),
    })),
  };
}

function pythonFor(root: string): string {
  const venv = path.join(root, '.venv', 'bin', 'python');
  return process.env.CIRCUIT_INSPECTOR_PYTHON ?? (fs.existsSync(venv) ? venv : 'python3');
}

function machine(provider: string): Record<string, string | number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = (require('onnxruntime-node/package.json') as { version: string }).version;
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    onnxruntime_node: ort,
    provider,
  };
}

const fmt = (x: number | null, digits = 0): string => (x === null ? '—' : x.toFixed(digits));

/** The report as a table, with the issue's targets checked against it. */
export function formatBench(rep: BenchReport): string {
  const head = ['case', 'tokens', 'windows', 'analyze ms', 'first screen ms', 'onnx ms', 'torch ms', 'onnx/torch', 'ablate ms', 'edit ms', 'edit windows', 'RSS MB', 'peak RSS MB'];
  const rows = rep.cases.map((c) => [c.name, String(c.tokens), String(c.windows), fmt(c.analyze_ms), fmt(c.visible_ms), fmt(c.onnx_ms), fmt(c.torch_ms), fmt(c.ratio_vs_torch, 2), fmt(c.ablate_ms, 1), fmt(c.edit_ms, 1), `${c.edit_windows[0]} (max ${c.edit_windows[1]})`, fmt(c.rss_mb), fmt(c.peak_rss_mb)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const k = rep.cases.find((c) => c.lines === 1000);
  const ratios = rep.cases.map((c) => c.ratio_vs_torch).filter((x): x is number => x !== null);
  const check = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'met' : 'MISSED');
  return [
    `Circuit Inspector bench — ${rep.machine.cpu}, ${rep.machine.cores} cores, ${rep.machine.provider}, onnxruntime-node ${rep.machine.onnxruntime_node}, ${rep.machine.node}`,
    `session load ${fmt(rep.load_ms)} ms; RSS growth with the model and one analysis held ${fmt(rep.rss_growth_mb)} MB`,
    '',
    line(head),
    ...rows.map(line),
    '',
    'targets:',
    `  first analysis of 1,000 lines ≤ 300 ms: ${k ? `${fmt(k.analyze_ms)} ms, ${check(k.analyze_ms <= 300)} (its first screen: ${fmt(k.visible_ms)} ms)` : 'n/a'}`,
    `  ONNX ≤ 0.5 × PyTorch on the same inputs: ${ratios.length ? `${ratios.map((x) => x.toFixed(2)).join(' / ')}, ${check(ratios.every((x) => x <= 0.5))}` : 'n/a (no PyTorch)'}`,
    `  ablation re-run ≤ 30 ms: ${rep.cases.map((c) => fmt(c.ablate_ms, 1)).join(' / ')} ms, ${check(rep.cases.every((c) => c.ablate_ms <= 30))}`,
    `  one-character edit recomputes ≤ 2 windows: median ${rep.cases.map((c) => c.edit_windows[0]).join(' / ')}, max ${rep.cases.map((c) => c.edit_windows[1]).join(' / ')}, ${check(rep.cases.every((c) => c.edit_windows[1] <= 2))}`,
    `  RSS growth ≤ 300 MB: ${fmt(rep.rss_growth_mb)} MB, ${check(rep.rss_growth_mb <= 300)}`,
    ...rep.notes.map((n) => `note: ${n}`),
  ].join('\n');
}
