// `circuit-inspector bench`: what a user waits for, on Python files of about 100, 1,000 and 5,000
// lines (prefixes of bench/stdlib-5000.py), with the PyTorch reference timed on the same inputs in
// the same run. Medians throughout: these machines are shared and noisy, so every figure that
// matters is also given as a ratio to something measured beside it.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { type Ablation, DEFAULT_LEFT_CONTEXT, DocumentAnalyzer, type DocumentAnalysis, NO_ABLATION } from './core/analysis';
import type { Bundle } from './core/bundle';
import { openModel } from './core/openModel';
import type { ProviderChoice, RunInput, Runner } from './core/runner';
import { Tokenizer } from './core/tokenizer';
import { planContentWindows } from './core/windows';
import { denseThroughput, ForwardCost } from './sparseLimit';

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
  /** Multiply-adds of those forward passes: what the graph does densely, and nonzero weights × kept activations; null when the graph's weights could not be read. */
  readonly dense_macs: number | null;
  readonly nonzero_macs: number | null;
  /** nonzero_macs at the machine's measured dense throughput (BenchReport.dense_macs_per_ms), ms: a perfect sparse kernel's time. */
  readonly limit_ms: number | null;
  /** onnx_ms / limit_ms. */
  readonly x_of_limit: number | null;
}

export interface BenchReport {
  readonly cases: BenchCase[];
  readonly machine: Readonly<Record<string, string | number>>;
  /** Bundle load + onnxruntime session creation, median ms. */
  readonly load_ms: number;
  /** Largest rss_mb over the process before the model was loaded, MB. */
  readonly rss_growth_mb: number;
  /** onnxruntime's dense MatMul throughput on all cores, multiply-adds per ms (sparseLimit.denseThroughput). */
  readonly dense_macs_per_ms: number;
  readonly scaling: ScalingRow[];
  /** The 10 MB file with the default --max-bytes: time to the refusal, ms. */
  readonly refusal_ms: number | null;
  readonly cli: CliRow[];
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
  /** Sizes of the tokenizer/window scaling rows (default SCALING); false: none. */
  readonly scaling?: ScalingSizes | false;
  /** The CLI's entry point (bin/circuit-inspector.js): time its refusal of a 10 MB file. */
  readonly cli?: string;
  /** With `cli`: also run it end to end on a 1 MB line and a 10 MB file (minutes). */
  readonly cliRuns?: boolean;
}

export interface ScalingSizes {
  /** Bytes of the one-line files (statements joined by "; "). */
  readonly line: readonly number[];
  /** Bytes of the one-identifier files (pseudo-random letters: one pre-token, BPE's worst case). */
  readonly identifier: readonly number[];
  /** Bytes of the multi-line files (the bench file repeated). */
  readonly file: readonly number[];
}

export const SCALING: ScalingSizes = { line: [100_000, 300_000, 1_000_000], identifier: [100_000, 1_000_000], file: [1_000_000, 10_000_000] };

/** Tokenizing and windowing one input, the CLI's steps before the model. */
export interface ScalingRow {
  readonly name: string;
  /** line, identifier or file: rows of one kind differ only in size. */
  readonly kind: string;
  readonly bytes: number;
  readonly tokens: number;
  readonly tokenize_ms: number;
  readonly windows_ms: number;
  /** ms per MB of this row ÷ ms per MB of the first row of its kind: 1 is linear, 10 at 10× the size would be quadratic. */
  readonly per_byte_ratio: number;
}

/** The CLI run end to end (`analyze FILE --jsonl --progress`, stdout discarded). */
export interface CliRow {
  readonly name: string;
  readonly bytes: number;
  readonly exit: number | null;
  readonly seconds: number;
  readonly tokens: number | null;
  readonly tokens_per_s: number | null;
  /** The CLI's own report of its peak RSS (its final progress line), MB. */
  readonly peak_rss_mb: number | null;
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
  log('dense throughput…');
  const throughput = await denseThroughput(o.runs);
  const cost = ForwardCost.fromBundle(b);
  if (typeof cost === 'string') notes.push(`the sparsity limit is not computed: ${cost}`);
  const limit = { throughput, cost: typeof cost === 'string' ? undefined : cost };
  try {
    for (const lines of o.sizes ?? [100, 1000, 5000]) {
      const text = source.slice(0, lines).join('\n') + '\n';
      log(`${lines} lines…`);
      cases.push(await benchCase(o, b, r, `${lines} lines`, lines, text, notes, limit));
    }
  } finally {
    await r.dispose();
  }
  const rssGrowth = Math.max(...cases.map((c) => c.rss_mb)) - rssBefore;
  const sizes = o.scaling === undefined ? SCALING : o.scaling;
  const scaling: ScalingRow[] = [];
  let refusal: number | null = null;
  const cli: CliRow[] = [];
  if (sizes) {
    const inputs = scalingInputs(source, sizes);
    for (const x of inputs) {
      log(`scaling: ${x.name}…`);
      scaling.push(scalingRow(b, x.name, x.kind, x.text, o.runs, scaling));
    }
  }
  if (o.cli) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ci-bench-'));
    try {
      const file = (name: string, text: string) => {
        const f = path.join(dir, name);
        fs.writeFileSync(f, text);
        return f;
      };
      const big = file('file-10MB.py', repeatTo(source.join('\n'), 10_000_000));
      log('CLI: refusing a 10 MB file…');
      refusal = median(Array.from({ length: o.runs }, () => runCli(o.cli as string, [big]).seconds * 1000));
      if (o.cliRuns) {
        const line = file('line-1MB.py', oneLine(source, 1_000_000));
        for (const [name, f] of [['1 MB single line', line], ['10 MB file', big]] as const) {
          log(`CLI: ${name}…`);
          cli.push(runCli(o.cli, [f, '--jsonl', '--progress', '--max-bytes', '0', '--provider', o.provider, '--bundle', o.bundleDir], name));
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return {
    cases,
    machine: machine(r.provider),
    load_ms: median(loads),
    rss_growth_mb: rssGrowth,
    dense_macs_per_ms: throughput,
    scaling,
    refusal_ms: refusal,
    cli,
    notes,
  };
}

/** `source`'s statements (comments, blank lines and block headers dropped) joined by "; " on one line of `bytes` characters (ASCII in practice). */
function oneLine(source: readonly string[], bytes: number): string {
  const statements = source.map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.endsWith(':'));
  const parts: string[] = [];
  for (let i = 0, n = 0; n < bytes; i++) {
    parts.push(statements[i % statements.length]);
    n += statements[i % statements.length].length + 2;
  }
  return parts.join('; ').slice(0, bytes) + '\n';
}

/** `text` repeated and cut at the last line end within `chars`. */
function repeatTo(text: string, chars: number): string {
  const s = text.repeat(Math.ceil(chars / Math.max(1, text.length))).slice(0, chars);
  return s.slice(0, s.lastIndexOf('\n') + 1);
}

function scalingInputs(source: readonly string[], sizes: ScalingSizes): { name: string; kind: string; text: string }[] {
  let seed = 1;
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const identifier = (n: number) => 'x = ' + Array.from({ length: n }, () => letters[((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % 52]).join('') + '\n';
  const kb = (n: number) => (n >= 1e6 ? `${n / 1e6} MB` : `${n / 1e3} KB`);
  return [
    ...sizes.line.map((n) => ({ name: `one line, ${kb(n)}`, kind: 'line', text: oneLine(source, n) })),
    ...sizes.identifier.map((n) => ({ name: `one identifier, ${kb(n)}`, kind: 'identifier', text: identifier(n) })),
    ...sizes.file.map((n) => ({ name: `${kb(n)} file`, kind: 'file', text: repeatTo(source.join('\n'), n) })),
  ];
}

function scalingRow(b: Bundle, name: string, kind: string, text: string, runs: number, earlier: readonly ScalingRow[]): ScalingRow {
  const tok: number[] = [];
  const win: number[] = [];
  let tokens = 0;
  // a fresh tokenizer each time, as in a CLI run: its cache of pre-tokens starts empty
  const json = fs.readFileSync(path.resolve(b.dir, String(b.manifest.tokenizer)), 'utf8');
  for (let i = 0; i < Math.min(runs, 3); i++) {
    const tokenizer = Tokenizer.fromJson(json);
    const t0 = performance.now();
    const enc = tokenizer.encodeCompact(text);
    const t1 = performance.now();
    const withEot = new Int32Array(enc.ids.length + 1);
    withEot[0] = b.eotId;
    withEot.set(enc.ids, 1); // as Analysis.stream() does
    planContentWindows(withEot, b.context, { left: DEFAULT_LEFT_CONTEXT, maxGap: b.context - DEFAULT_LEFT_CONTEXT });
    win.push(performance.now() - t1);
    tok.push(t1 - t0);
    tokens = enc.ids.length;
  }
  const [tokenizeMs, windowsMs] = [median(tok), median(win)];
  const first = earlier.find((r) => r.kind === kind);
  const perMb = ((tokenizeMs + windowsMs) * 1e6) / text.length;
  return { name, kind, bytes: Buffer.byteLength(text), tokens, tokenize_ms: tokenizeMs, windows_ms: windowsMs, per_byte_ratio: first ? perMb / (((first.tokenize_ms + first.windows_ms) * 1e6) / first.bytes) : 1 };
}

/** The CLI in a child process; its time, exit status and (from --progress's last line) tokens and peak memory. */
function runCli(bin: string, args: readonly string[], name = ''): CliRow {
  const started = performance.now();
  const r = spawnSync(process.execPath, [bin, 'analyze', ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = (performance.now() - started) / 1000;
  const last = /([\d,]+) \/ [\d,]+ tokens \(100 %\) in .*; peak memory ([\d,]+) MB/.exec(r.stderr ?? '');
  const num = (s: string | undefined) => (s === undefined ? null : Number(s.replace(/,/g, '')));
  const tokens = num(last?.[1]);
  return { name, bytes: fs.statSync(args[0]).size, exit: r.status, seconds, tokens, tokens_per_s: tokens === null ? null : tokens / seconds, peak_rss_mb: num(last?.[2]) };
}

async function benchCase(o: BenchOptions, b: Bundle, r: Runner, name: string, lines: number, text: string, notes: string[], limit: { throughput: number; cost?: ForwardCost }): Promise<BenchCase> {
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
  const macs = limit.cost ? batches.map((x) => (limit.cost as ForwardCost).ofRun(x)).reduce((s, x) => ({ dense: s.dense + x.dense, nonzero: s.nonzero + x.nonzero })) : undefined;
  const limitMs = macs ? macs.nonzero / limit.throughput : null;
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
    dense_macs: macs?.dense ?? null,
    nonzero_macs: macs?.nonzero ?? null,
    limit_ms: limitMs,
    x_of_limit: limitMs === null ? null : onnxMs / limitMs,
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

export function pythonFor(root: string): string {
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
const check = (ok: boolean | undefined): string => (ok === undefined ? 'n/a' : ok ? 'met' : 'MISSED');

/** The report as a table, with the issue's targets checked against it. */
export function formatBench(rep: BenchReport): string {
  const head = ['case', 'tokens', 'windows', 'analyze ms', 'first screen ms', 'onnx ms', 'torch ms', 'onnx/torch', 'limit ms', '× of the limit', 'ablate ms', 'edit ms', 'edit windows', 'RSS MB', 'peak RSS MB'];
  const rows = rep.cases.map((c) => [c.name, String(c.tokens), String(c.windows), fmt(c.analyze_ms), fmt(c.visible_ms), fmt(c.onnx_ms), fmt(c.torch_ms), fmt(c.ratio_vs_torch, 2), fmt(c.limit_ms, 1), fmt(c.x_of_limit, 1), fmt(c.ablate_ms, 1), fmt(c.edit_ms, 1), `${c.edit_windows[0]} (max ${c.edit_windows[1]})`, fmt(c.rss_mb), fmt(c.peak_rss_mb)]);
  const k = rep.cases.find((c) => c.lines === 1000);
  const ratios = rep.cases.map((c) => c.ratio_vs_torch).filter((x): x is number => x !== null);
  const limits = rep.cases.map((c) => c.x_of_limit).filter((x): x is number => x !== null);
  return [
    `Circuit Inspector bench — ${rep.machine.cpu}, ${rep.machine.cores} cores, ${rep.machine.provider}, onnxruntime-node ${rep.machine.onnxruntime_node}, ${rep.machine.node}`,
    `session load ${fmt(rep.load_ms)} ms; RSS growth with the model and one analysis held ${fmt(rep.rss_growth_mb)} MB`,
    '',
    ...table(head, rows),
    '',
    ...formatLimit(rep),
    '',
    'targets:',
    `  first analysis of 1,000 lines ≤ 300 ms: ${k ? `${fmt(k.analyze_ms)} ms, ${check(k.analyze_ms <= 300)} (its first screen: ${fmt(k.visible_ms)} ms)` : 'n/a'}`,
    `  ONNX ≤ 0.5 × PyTorch on the same inputs: ${ratios.length ? `${ratios.map((x) => x.toFixed(2)).join(' / ')}, ${check(ratios.every((x) => x <= 0.5))}` : 'n/a (no PyTorch)'}`,
    `  forward within 4× of the sparse limit: ${limits.length ? `${limits.map((x) => x.toFixed(1)).join(' / ')}×, ${check(limits.every((x) => x <= 4))}` : 'n/a (limit not computed)'}`,
    `  ablation re-run ≤ 30 ms: ${rep.cases.map((c) => fmt(c.ablate_ms, 1)).join(' / ')} ms, ${check(rep.cases.every((c) => c.ablate_ms <= 30))}`,
    `  one-character edit recomputes ≤ 2 windows: median ${rep.cases.map((c) => c.edit_windows[0]).join(' / ')}, max ${rep.cases.map((c) => c.edit_windows[1]).join(' / ')}, ${check(rep.cases.every((c) => c.edit_windows[1] <= 2))}`,
    `  RSS growth ≤ 300 MB: ${fmt(rep.rss_growth_mb)} MB, ${check(rep.rss_growth_mb <= 300)}`,
    ...cliTargets(rep),
    ...formatScaling(rep),
    ...rep.notes.map((n) => `note: ${n}`),
  ].join('\n');
}

/** The multiply-adds behind the limit column: per case dense, nonzero, their ratio. */
function formatLimit(rep: BenchReport): string[] {
  const M = (x: number | null) => (x === null ? '—' : (x / 1e6).toFixed(0));
  const head = ['case', 'dense M multiply-adds', 'nonzero M multiply-adds', 'dense/nonzero', 'onnx ms', 'limit ms', '× of the limit'];
  const rows = rep.cases.map((c) => [c.name, M(c.dense_macs), M(c.nonzero_macs), c.dense_macs && c.nonzero_macs ? (c.dense_macs / c.nonzero_macs).toFixed(1) : '—', fmt(c.onnx_ms), fmt(c.limit_ms, 1), fmt(c.x_of_limit, 1)]);
  return [`the sparsity limit: nonzero weights × kept activations at the dense MatMul throughput measured here, ${(rep.dense_macs_per_ms / 1e6).toFixed(1)} G multiply-adds/s on ${rep.machine.cores} cores (docs/BENCHMARKS.md, "The limit"):`, ...table(head, rows)];
}

function cliTargets(rep: BenchReport): string[] {
  const line = rep.cli.find((c) => c.name.includes('line'));
  const big = rep.cli.find((c) => c.name.includes('10 MB'));
  const out: string[] = [];
  if (rep.refusal_ms !== null) out.push(`  CLI refuses a 10 MB file at the default --max-bytes in < 1 s: ${fmt(rep.refusal_ms)} ms, ${check(rep.refusal_ms < 1000)}`);
  if (line) out.push(`  CLI analyses a 1 MB line in ≤ 30 s: ${fmt(line.seconds, 1)} s, ${check(line.exit === 0 && line.seconds <= 30)}`);
  if (big) out.push(`  CLI --jsonl on a 10 MB file: RSS ≤ 400 MB: ${fmt(big.peak_rss_mb)} MB in ${fmt(big.seconds)} s, ${check(big.exit === 0 && big.peak_rss_mb !== null && big.peak_rss_mb <= 400)}`);
  return out;
}

function formatScaling(rep: BenchReport): string[] {
  if (!rep.scaling.length) return [];
  const head = ['input', 'bytes', 'tokens', 'tokenize ms', 'windows ms', 'ms per MB', '× first of kind'];
  const rows = rep.scaling.map((r) => [r.name, r.bytes.toLocaleString('en-US'), r.tokens.toLocaleString('en-US'), fmt(r.tokenize_ms), fmt(r.windows_ms, 1), fmt(((r.tokenize_ms + r.windows_ms) * 1e6) / r.bytes), fmt(r.per_byte_ratio, 2)]);
  const out = ['', 'scaling of the steps before the model (tokenize, plan windows); per-byte cost against the smallest input of its kind, 1.00 = linear:', ...table(head, rows)];
  if (rep.cli.length) {
    const cliHead = ['CLI analyze --jsonl', 'bytes', 'exit', 's', 'tokens', 'tokens/s', 'peak RSS MB'];
    const cliRows = rep.cli.map((c) => [c.name, c.bytes.toLocaleString('en-US'), String(c.exit), fmt(c.seconds, 1), c.tokens === null ? '—' : c.tokens.toLocaleString('en-US'), fmt(c.tokens_per_s), fmt(c.peak_rss_mb)]);
    const [line, big] = [rep.cli[0], rep.cli[1]];
    out.push('', ...table(cliHead, cliRows));
    if (line?.tokens_per_s && big?.tokens_per_s) out.push(`tokens/s of the 10 MB file ÷ the 1 MB line: ${(big.tokens_per_s / line.tokens_per_s).toFixed(2)}`);
  }
  return out;
}

/** Rows under a header, columns padded (the first left-aligned). */
function table(head: readonly string[], rows: readonly string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), ...rows.map(line)];
}
