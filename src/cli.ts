// `circuit-inspector` command line: the same core as the extension, without VS Code.
import * as fs from 'fs';
import * as path from 'path';
import { type Ablation, DocumentAnalyzer, type Readout, type TokenResult } from './core/analysis';
import type { Bundle } from './core/bundle';
import { openModel } from './core/openModel';
import type { ProviderChoice } from './core/runner';
import { formatBench, runBench } from './bench';

const USAGE = `Usage: circuit-inspector <command> [options]

Commands:
  analyze FILE        per token: text, UTF-16 range, top next tokens, circuits that fire
    --json              machine-readable output
    --top K             next-token candidates per token (default 3)
    --ablate ID,ID,...  ablate these nodes (e.g. 0.attn.v.17)
    --mode mean|zero    value an ablated node takes (default mean)
    --at LINE:COL       only the token at this position (1-based; COL in UTF-16 units), with
                        each circuit's readout
    --bundle DIR        model bundle (default: the first one in the package's models/)
    --provider auto|cuda|cpu   where the model runs (default auto)
  bench               timings on 100-, 1,000- and 5,000-line files against the PyTorch reference
    --json              machine-readable output
    --runs N            repetitions per measurement, medians reported (default 5)
    --bundle DIR, --provider auto|cuda|cpu   as for analyze
  --help              this text
`;

/** A problem with what the user asked for: one line on stderr, exit status 2. */
class UsageError extends Error {}
/** A problem with the input file: one line on stderr, exit status 2. */
class InputError extends Error {}

const FLAGS = new Set(['--json', '--help']);
const OPTIONS = new Set(['--top', '--ablate', '--mode', '--at', '--bundle', '--provider', '--runs']);

interface Args {
  readonly command: string;
  readonly positional: readonly string[];
  readonly opts: ReadonlyMap<string, string | true>;
}

export function parseArgs(argv: readonly string[]): Args {
  const opts = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    const a = raw === '-h' ? '--help' : raw;
    if (FLAGS.has(a)) opts.set(a, true);
    else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      if (!OPTIONS.has(name)) throw new UsageError(`unknown option ${name}`);
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      opts.set(name, v);
    } else positional.push(a);
  }
  return { command: positional[0] ?? '', positional: positional.slice(1), opts };
}

/** The package root: the nearest folder above this file with our package.json (dist/cli.js → ..). */
function packageRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj) && (JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string }).name === 'circuit-inspector') return dir;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '..');
  }
}

/** The first bundle (folder with a manifest.json) under <package root>/models/, not the working directory's. */
export function defaultBundle(): string {
  const models = path.join(packageRoot(), 'models');
  const found = fs.existsSync(models) ? fs.readdirSync(models).sort().find((d) => fs.existsSync(path.join(models, d, 'manifest.json'))) : undefined;
  return found ? path.join(models, found) : models;
}

function readSource(file: string): string {
  if (!fs.existsSync(file)) throw new InputError(`${file}: no such file`);
  if (!fs.statSync(file).isFile()) throw new InputError(`${file} is not a file`);
  const raw = fs.readFileSync(file);
  if (raw.includes(0)) throw new InputError(`${file} looks binary (it contains NUL bytes); only text files can be analysed`);
  return raw.toString('utf8');
}

/** UTF-16 offset of a 1-based LINE:COL (COL counts UTF-16 units, as editors do). */
export function offsetOf(text: string, at: string): number {
  const m = /^(\d+):(\d+)$/.exec(at);
  if (!m) throw new UsageError(`--at must be LINE:COL (1-based), not ${at}`);
  const [line, col] = [Number(m[1]), Number(m[2])];
  let start = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) throw new UsageError(`--at ${at}: the file has only ${l} lines`);
    start = nl + 1;
  }
  const lineEnd = text.indexOf('\n', start) < 0 ? text.length : text.indexOf('\n', start);
  if (line < 1 || col < 1 || start + col - 1 > lineEnd) throw new UsageError(`--at ${at} is outside the file`);
  return start + col - 1;
}

function ablationOf(bundle: Bundle, opts: ReadonlyMap<string, string | true>): Ablation {
  const mode = String(opts.get('--mode') ?? 'mean');
  if (mode !== 'mean' && mode !== 'zero') throw new UsageError('--mode must be mean or zero');
  const nodes = opts.has('--ablate') ? String(opts.get('--ablate')).split(',').map((s) => s.trim()).filter(Boolean) : [];
  for (const id of nodes) if (bundle.layout.flat(id) === undefined) throw new UsageError(`--ablate: ${id} is not a node of ${bundle.name}`);
  return { nodes: new Set(nodes), mode };
}

function providerOf(opts: ReadonlyMap<string, string | true>): ProviderChoice {
  const provider = String(opts.get('--provider') ?? 'auto');
  if (provider !== 'auto' && provider !== 'cuda' && provider !== 'cpu') throw new UsageError('--provider must be auto, cuda or cpu');
  return provider;
}

const bundleDirOf = (opts: ReadonlyMap<string, string | true>): string => (typeof opts.get('--bundle') === 'string' ? (opts.get('--bundle') as string) : defaultBundle());

async function bench(args: Args): Promise<void> {
  const { opts } = args;
  if (args.positional.length) throw new UsageError('bench takes no FILE');
  const runs = Number(opts.get('--runs') ?? 5);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new UsageError('--runs must be an integer from 1 to 50');
  const json = opts.has('--json');
  const report = await runBench({ root: packageRoot(), bundleDir: bundleDirOf(opts), provider: providerOf(opts), runs, log: json ? undefined : (l) => process.stderr.write(l + '\n') });
  process.stdout.write((json ? JSON.stringify(report) : formatBench(report)) + '\n');
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;

function tokenJson(t: TokenResult, top: number) {
  return {
    text: t.text,
    start: t.start,
    end: t.end,
    next: t.next.slice(0, top).map((n) => ({ text: n.text, p: round(n.p) })),
    circuits: Object.fromEntries(Object.entries(t.circuits).map(([task, c]) => [task, { fires: c.fires, value: round(c.value) }])),
  };
}

function readoutJson(r: Readout) {
  return { p: r.p?.map(round), logit_diff: round(r.logitDiff) };
}

async function analyze(args: Args): Promise<void> {
  const { positional, opts } = args;
  if (positional.length !== 1) throw new UsageError('analyze needs exactly one FILE');
  const text = readSource(positional[0]);
  const top = Number(opts.get('--top') ?? 3);
  if (!Number.isInteger(top) || top < 1 || top > 50) throw new UsageError('--top must be an integer from 1 to 50');
  const provider = providerOf(opts);
  const at = opts.has('--at') ? offsetOf(text, String(opts.get('--at'))) : undefined;
  const { bundle, runner } = await openModel(bundleDirOf(opts), provider);
  if (runner.notice) process.stderr.write(`note: ${runner.notice}\n`);
  try {
    const ablation = ablationOf(bundle, opts);
    const analyzer = new DocumentAnalyzer(bundle, runner, { topK: top, batch: runner.preferredBatch, inFlight: runner.parallelism });
    let tokens: (ReturnType<typeof tokenJson> & { readouts?: Record<string, ReturnType<typeof readoutJson>> })[];
    if (at !== undefined) {
      const r = await analyzer.analyzeAt(text, at, ablation);
      tokens = r ? [{ ...tokenJson(r.token, top), readouts: Object.fromEntries(Object.entries(r.readouts).map(([k, v]) => [k, readoutJson(v)])) }] : [];
    } else {
      const r = await analyzer.analyze(text, ablation, { nextTokens: true });
      tokens = r.status === 'done' ? r.tokens.map((t) => tokenJson(t, top)) : [];
    }
    if (opts.has('--json')) {
      process.stdout.write(JSON.stringify({ model: bundle.name, tokens }) + '\n');
      return;
    }
    for (const t of tokens) {
      const fired = Object.entries(t.circuits).filter(([, c]) => c.fires).map(([k, c]) => `${k}=${c.value}`);
      const next = t.next.map((n) => `${JSON.stringify(n.text)} ${(100 * n.p).toFixed(0)}%`).join(', ');
      process.stdout.write(`${String(t.start).padStart(6)} ${JSON.stringify(t.text).padEnd(14)} → ${next}${fired.length ? '   [' + fired.join(' ') + ']' : ''}\n`);
      for (const [task, r] of Object.entries(t.readouts ?? {})) process.stdout.write(`       ${task}: P(${bundle.circuits.find((c) => c.task === task)?.classes.map((c) => c.label).join(', ')}) = ${r.p?.join(', ')}; logit diff ${r.logit_diff}\n`);
    }
  } finally {
    await runner.dispose();
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.opts.has('--help') || args.command === '' || args.command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.command === 'analyze') {
    await analyze(args);
    return 0;
  }
  if (args.command === 'bench') {
    await bench(args);
    return 0;
  }
  throw new UsageError(`unknown command ${args.command}`);
}

if (require.main === module || process.argv[1]?.endsWith('circuit-inspector.js') || process.argv[1]?.endsWith('circuit-inspector')) {
  // `circuit-inspector analyze big.py | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0];
      process.stderr.write(`circuit-inspector: ${msg}${err instanceof UsageError ? ' (see circuit-inspector --help)' : ''}\n`);
      process.exitCode = 2;
    },
  );
}
