// `circuit-inspector` command line: the same core as the extension, without VS Code.
import * as fs from 'fs';
import * as path from 'path';
import { Analyzer, type AblationSpec } from './core/analyzer';
import { loadBundle } from './core/modelBundle';
import { OnnxRunner, type ProviderChoice } from './core/onnxRunner';

const USAGE = `Usage: circuit-inspector <command> [options]

Commands:
  analyze FILE      per token: text, UTF-16 range, circuits that fire, top next tokens
    --json              machine-readable output
    --top K             next-token candidates per token (default 3)
    --ablate ID,ID,...  ablate these nodes (e.g. 0.attn.v.17)
    --mode mean|zero    value an ablated node takes (default mean)
    --at LINE:COL       only the token at this 1-based position, with each circuit's readout
    --bundle DIR        model bundle (default: the one shipped in models/)
    --provider auto|cuda|cpu
  bench             the performance table (not implemented yet)
  --help            this text
`;

class UsageError extends Error {}

function parseArgs(argv: string[]): { command: string; file?: string; opts: Map<string, string | true> } {
  const opts = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json' || a === '--help' || a === '-h') opts.set(a === '-h' ? '--help' : a, true);
    else if (a.startsWith('--')) {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      opts.set(a, v);
    } else positional.push(a);
  }
  return { command: positional[0] ?? '', file: positional[1], opts };
}

/** The first bundle under <package root>/models/ (resolved from this file, not the working directory). */
function defaultBundle(): string {
  const models = path.resolve(__dirname, '..', 'models');
  const found = fs.existsSync(models) ? fs.readdirSync(models).sort().find((d) => fs.existsSync(path.join(models, d, 'manifest.json'))) : undefined;
  return found ? path.join(models, found) : models;
}

async function analyze(file: string | undefined, opts: Map<string, string | true>): Promise<void> {
  if (!file) throw new UsageError('analyze needs a FILE');
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UsageError(`${file}: no such file`);
  const raw = fs.readFileSync(file);
  if (raw.includes(0)) throw new UsageError(`${file} looks binary (it contains NUL bytes); only text files can be analysed`);
  const text = raw.toString('utf8');
  const bundle = loadBundle(String(opts.get('--bundle') ?? defaultBundle()));
  const runner = await OnnxRunner.open(bundle.onnxPath, (opts.get('--provider') ?? 'auto') as ProviderChoice);
  if (runner.notice) process.stderr.write(`note: ${runner.notice}\n`);
  const analyzer = new Analyzer(bundle, runner);
  const mode = String(opts.get('--mode') ?? 'mean');
  if (mode !== 'mean' && mode !== 'zero') throw new UsageError('--mode must be mean or zero');
  const ablate = opts.has('--ablate') ? String(opts.get('--ablate')).split(',').filter(Boolean) : [];
  for (const id of ablate) if (bundle.layout.flat(id) === undefined) throw new UsageError(`--ablate: ${id} is not a node of ${bundle.name}`);
  const spec: AblationSpec = { nodes: new Set(ablate), mode };
  const top = Number(opts.get('--top') ?? 3);
  const tok = bundle.tokenizer;
  const circuitsAt = (firing: Record<string, number>) =>
    Object.fromEntries(bundle.circuits.map((c) => [c.task, { fires: Math.abs(firing[c.task] ?? 0) >= (c.firing?.threshold ?? Infinity), value: round(firing[c.task] ?? 0) }]));
  let tokens;
  if (opts.has('--at')) {
    const [line, col] = String(opts.get('--at')).split(':').map(Number);
    const lines = text.split('\n');
    if (!(line >= 1 && line <= lines.length && col >= 1)) throw new UsageError('--at must be LINE:COL inside the file (1-based)');
    const offset = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + col - 1;
    const r = await analyzer.at(text, offset, spec);
    tokens = r ? [{ ...r.token, readouts: r.token.readout }] : [];
  } else {
    tokens = (await analyzer.analyze('cli', text, spec))?.tokens ?? [];
  }
  const out = tokens.map((t) => ({
    text: t.text,
    start: t.start,
    end: t.end,
    next: t.next.slice(0, top).map((n) => ({ text: tok.tokenText(n.id), p: round(n.p) })),
    circuits: circuitsAt(t.firing),
    ...('readouts' in t ? { readout: t.readouts } : {}),
  }));
  if (opts.has('--json')) {
    process.stdout.write(JSON.stringify({ model: bundle.name, tokens: out }) + '\n');
  } else {
    for (const t of out) {
      const fired = Object.entries(t.circuits).filter(([, c]) => c.fires).map(([k, c]) => `${k}=${c.value}`);
      const next = t.next.map((n) => `${JSON.stringify(n.text)} ${(100 * n.p).toFixed(0)}%`).join(', ');
      process.stdout.write(`${String(t.start).padStart(6)} ${JSON.stringify(t.text).padEnd(14)} → ${next}${fired.length ? '   [' + fired.join(' ') + ']' : ''}\n`);
    }
  }
  await runner.dispose();
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

// `circuit-inspector analyze big.py | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

async function main(): Promise<number> {
  const { command, file, opts } = parseArgs(process.argv.slice(2));
  if (opts.has('--help') || command === '' || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command === 'analyze') {
    await analyze(file, opts);
    return 0;
  }
  if (command === 'bench') {
    process.stderr.write('bench: not implemented yet\n');
    return 2;
  }
  throw new UsageError(`unknown command ${command}`);
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`circuit-inspector: ${err instanceof Error ? err.message : String(err)}\n`);
    if (err instanceof UsageError) process.stderr.write('Run circuit-inspector --help for usage.\n');
    process.exitCode = 2;
  },
);
