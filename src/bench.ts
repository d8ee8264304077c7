// `circuit-inspector bench`: what a user waits for, on Python files of about 100, 1,000 and 5,000
// lines (prefixes of bench/stdlib-5000.py), with the PyTorch reference timed on the same inputs in
// the same run. Medians throughout: these machines are shared and noisy, so every figure that
// matters is also given as a ratio to something measured beside it. Each group of measurements is
// its own module (./benchCase: one file size with the model; ./benchScaling: tokenizing and
// windowing, and the CLI end to end); runBench runs them in turn and ./benchFormat prints the report.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { benchCase, replay } from './benchCase';
import { atTheLimits, type CasePasses, type Throughput } from './benchLimit';
import { attentionNote } from './benchAttention';
import { discoveryNote } from './benchDiscover';
import { median, rssMb, timed } from './benchMeasure';
import { repeatTo, oneLine, runCli, scalingInputs, scalingRow } from './benchScaling';
import type { Bundle } from './core/bundle';
import { bundleCones, coneFor } from './core/cone';
import { openModel } from './core/openModel';
import { type ProviderChoice, type RunInput, Runner } from './core/runner';
import { ForwardCost } from './sparseLimit';

/** The Python that runs training/ (the CLI's import-openai uses it too). */
export { pythonFor } from './benchTorch';

export interface BenchCase {
  readonly name: string;
  readonly lines: number;
  readonly tokens: number;
  readonly windows: number;
  /** Cold whole-file analysis of every circuit with its readouts (tokenize + model + firing; what the CLI and the editor under an ablation run), median ms. */
  readonly analyze_ms: number;
  /** Within that analysis, when the first screen (lines 1–60, run first) had its results, median ms. */
  readonly visible_ms: number;
  /**
   * Cold whole-file highlight pass as the editor runs it without an ablation: the firing of the
   * circuits shown by default alone, through their cone (core/analysis firingOnly), median ms; its
   * first screen; and per pair (the two alternate) highlights ÷ analyze, median.
   */
  readonly highlights_ms: number;
  readonly highlights_visible_ms: number;
  readonly highlights_vs_analyze: number;
  /** The forward passes of that analysis, replayed alone through the editor's runner (our WebAssembly kernels on the CPU where they run the bundle, else onnxruntime), median ms. */
  readonly forward_ms: number;
  /** The same passes through onnxruntime alone, after every case, median ms; null when the runner is onnxruntime already. */
  readonly onnxruntime_ms: number | null;
  /** The runner's time ÷ onnxruntime's in those replays, which alternate (median ÷ median). */
  readonly ratio_vs_onnxruntime: number | null;
  /** The panel's re-run at the cursor after one ablation toggle, median ms. */
  readonly ablate_ms: number;
  /** Re-analysis after a one-character edit (the rest cached), median ms, and windows it recomputed (median, max). */
  readonly edit_ms: number;
  readonly edit_windows: readonly [number, number];
  /** The same forward passes in the PyTorch reference, median ms; null without PyTorch. */
  readonly torch_ms: number | null;
  /** forward_ms / torch_ms. */
  readonly ratio_vs_torch: number | null;
  /** Resident memory after the first cold analysis of this case, MB (the model session and the analysis held). */
  readonly rss_mb: number;
  /** Peak resident memory of the bench process so far, MB (repeats and replays included). */
  readonly peak_rss_mb: number;
  /** Multiply-adds of those forward passes: what the graph does densely, and nonzero weights × kept activations; null when the graph's weights could not be read. */
  readonly dense_macs: number | null;
  readonly nonzero_macs: number | null;
  /** The nonzero multiply-adds of the cone passes (cone_ms's); null without a cone or without the weights. */
  readonly cone_nonzero_macs: number | null;
  /** The machine's dense throughput timed around this case's replays for the limit (./benchLimit), median, multiply-adds per ms. */
  readonly dense_macs_per_ms: number;
  /** nonzero_macs at that throughput, ms: a perfect sparse kernel's time. */
  readonly limit_ms: number | null;
  /** Median over replays of the forward passes of replay ms ÷ the limit at the throughput timed around that replay. */
  readonly x_of_limit: number | null;
  /**
   * The cone the highlights of the circuits shown by default run through: the node location it ends
   * at (./benchCone), null when the bundle has no cone that covers their firing nodes; then the
   * cone_ columns are null too.
   */
  readonly cone: string | null;
  /** The same windows as forward_ms through the full graph watching only the circuit's firing nodes, median ms (replays alternate with forward_ms's). */
  readonly firing_ms: number | null;
  /** The same through the cone, median ms. */
  readonly cone_ms: number | null;
  /** cone_ms / firing_ms: what the cone itself buys. */
  readonly cone_vs_firing: number | null;
  /** cone_ms / forward_ms: what the highlight pass's forward passes gain in all (the cone, and watching 4 nodes instead of every circuit's). */
  readonly cone_vs_forward: number | null;
  /** cone_ms / torch_ms (the PyTorch reference of the full passes). */
  readonly cone_vs_torch: number | null;
  /** The cone passes' nonzero multiply-adds at the dense throughput, ms, and their replays ÷ that, as limit_ms and x_of_limit. */
  readonly cone_limit_ms: number | null;
  readonly cone_x_of_limit: number | null;
}

export interface BenchReport {
  readonly cases: BenchCase[];
  readonly machine: Readonly<Record<string, string | number>>;
  /** Bundle load + onnxruntime session creation, median ms. */
  readonly load_ms: number;
  /** Largest rss_mb over the process before the model was loaded, MB: the model and one analysis held. */
  readonly rss_growth_mb: number;
  /** The same after the "Why this token?" discoveries (run after the cases), MB; null when they were not run. */
  readonly rss_growth_after_discovery_mb: number | null;
  /** onnxruntime's dense MatMul throughput on all cores, multiply-adds per ms (sparseLimit.DenseProbe): the median of every timing beside the replays, and the least and most of them. */
  readonly dense_macs_per_ms: number;
  readonly dense_macs_per_ms_range: readonly [number, number];
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

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const log = o.log ?? (() => undefined);
  const rssBefore = rssMb();
  const { b, r, loadMs } = await loadTimed(o);
  const notes: string[] = r.notice ? [r.notice] : [];
  const source = fs.readFileSync(path.join(o.root, BENCH_FILE), 'utf8').split('\n');
  const cost = ForwardCost.fromBundle(b);
  if (typeof cost === 'string') notes.push(`the sparsity limit is not computed: ${cost}`);
  let cases: BenchCase[];
  let throughput: Throughput;
  let rssAfterDiscovery: number | null = null;
  try {
    const measured = await modelCases(o, b, r, source, notes, typeof cost === 'string' ? undefined : cost);
    // after the cases, so that their RSS is the model's and an analysis's: the limit's probe is an onnxruntime
    // session the editor never opens (~50 MB; docs/BENCHMARKS.md, session 34), and discovery opens the tail
    // graphs in every worker and runs batches of hundreds of mask rows, which the process keeps
    log('the same passes beside the dense throughput…');
    ({ rows: cases, throughput } = await atTheLimits(o.runs, r, measured));
    if (o.sizes === undefined) {
      notes.push(await discoveryNote(b, r, source, log)); // the full bench only: ~3 discoveries of seconds each
      rssAfterDiscovery = rssMb() - rssBefore;
    }
    notes.push(await attentionNote(b, r, source, log));
  } finally {
    await r.dispose();
  }
  const sizes = o.scaling === undefined ? SCALING : o.scaling;
  const scaling: ScalingRow[] = [];
  for (const x of sizes ? scalingInputs(source, sizes) : []) {
    log(`scaling: ${x.name}…`);
    scaling.push(scalingRow(b, x.name, x.kind, x.text, o.runs, scaling));
  }
  const { refusal, cli } = o.cli ? await cliRows(o, o.cli, source) : { refusal: null, cli: [] };
  return {
    cases,
    machine: machine(r.provider, r.kernels),
    load_ms: loadMs,
    rss_growth_mb: Math.max(...cases.map((c) => c.rss_mb)) - rssBefore,
    rss_growth_after_discovery_mb: rssAfterDiscovery,
    dense_macs_per_ms: throughput.median,
    dense_macs_per_ms_range: [throughput.min, throughput.max],
    scaling,
    refusal_ms: refusal,
    cli,
    notes,
  };
}

/** The bundle opened three times (each time after the last one's runner stopped): the last one kept, the median time. */
async function loadTimed(o: BenchOptions): Promise<{ b: Bundle; r: Runner; loadMs: number }> {
  const loads: number[] = [];
  let loaded: Awaited<ReturnType<typeof openModel>> | undefined;
  for (let i = 0; i < 3; i++) {
    await loaded?.runner.dispose();
    const [x, ms] = await timed(() => openModel(o.bundleDir, o.provider));
    loaded = x;
    loads.push(ms);
  }
  const { bundle, runner } = loaded as Awaited<ReturnType<typeof openModel>>;
  return { b: bundle, r: runner, loadMs: median(loads) };
}

/** The cases with the model, one per file size (prefixes of the bench file); runBench stops the runner after its notes. */
async function modelCases(o: BenchOptions, b: Bundle, r: Runner, source: readonly string[], notes: string[], cost: ForwardCost | undefined): Promise<CasePasses[]> {
  const cases: CasePasses[] = [];
  for (const lines of o.sizes ?? [100, 1000, 5000]) {
    o.log?.(`${lines} lines…`);
    cases.push(await benchCase(o, b, r, `${lines} lines`, lines, source.slice(0, lines).join('\n') + '\n', notes, cost));
  }
  return r.kernels === 'webassembly' ? await beside(o, b, r, cases) : cases;
}

/**
 * With our kernels running the CPU's passes: each case's recorded passes replayed through onnxruntime alone,
 * alternating with the runner's. After every case, so that their memory figures hold the editor's runner alone.
 */
async function beside(o: BenchOptions, b: Bundle, r: Runner, cases: readonly CasePasses[]): Promise<CasePasses[]> {
  o.log?.('the same passes through onnxruntime…');
  const reference = await Runner.create(b.onnxPath, { provider: 'cpu', cones: bundleCones(b), tails: r.tails });
  // onnxruntime stops only where the bundle has a cone graph: a pass through a cone our kernels alone run
  // goes through the smallest graph that covers its nodes there (the full graph where none does)
  const onGraph = (x: RunInput): RunInput => (x.cone === undefined || reference.cones.some((c) => c.upto === x.cone) ? x : { ...x, cone: coneFor(reference.cones, x.watch)?.upto, needed: undefined });
  try {
    const rows: CasePasses[] = [];
    for (const { row, batches, cone } of cases) {
      const theirBatches = batches.map(onGraph);
      const [ours, theirs]: number[][] = [[], []];
      for (let i = 0; i < o.runs; i++) {
        ours.push(await replay(r, batches));
        theirs.push(await replay(reference, theirBatches));
      }
      rows.push({ row: { ...row, onnxruntime_ms: median(theirs), ratio_vs_onnxruntime: median(ours) / median(theirs) }, batches, cone });
    }
    return rows;
  } finally {
    await reference.dispose();
  }
}

/** The CLI's refusal of a 10 MB file at the default --max-bytes and, with cliRuns, its end-to-end runs on a 1 MB line and that file. */
async function cliRows(o: BenchOptions, bin: string, source: readonly string[]): Promise<{ refusal: number; cli: CliRow[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ci-bench-'));
  try {
    const file = (name: string, text: string) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, text);
      return f;
    };
    const big = file('file-10MB.py', repeatTo(source.join('\n'), 10_000_000));
    o.log?.('CLI: refusing a 10 MB file…');
    const refusal = median(Array.from({ length: o.runs }, () => runCli(bin, [big]).seconds * 1000));
    const cli: CliRow[] = [];
    if (o.cliRuns) {
      const line = file('line-1MB.py', oneLine(source, 1_000_000));
      for (const [name, f] of [['1 MB single line', line], ['10 MB file', big]] as const) {
        o.log?.(`CLI: ${name}…`);
        cli.push(runCli(bin, [f, '--jsonl', '--progress', '--max-bytes', '0', '--provider', o.provider, '--bundle', o.bundleDir], name));
      }
    }
    return { refusal, cli };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function machine(provider: string, kernels: string): Record<string, string | number> {
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
    kernels,
  };
}
