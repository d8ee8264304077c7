// `circuit-inspector` command line: the same core as the extension, without VS Code.
import { once } from 'events';
import * as fs from 'fs';
import * as path from 'path';
import * as v8 from 'v8';
import { type Ablation, DocumentAnalyzer, isAblating, MIN_WINDOW_TOKENS, NO_ABLATION, type Readout, type TokenResult } from './core/analysis';
import type { Bundle } from './core/bundle';
import { openModel } from './core/openModel';
import { describeChange, describeCircuitPrediction } from './core/readoutText';
import { documentScope } from './core/tasks';
import type { ProviderChoice } from './core/runner';
import { runBench } from './bench';
import { formatBench } from './benchFormat';
import { discover } from './cliDiscover';
import { IMPORT_USAGE, importOpenai } from './cliImport';
import { bundleDirFor, cliBundleFolders, FOLDERS_ENV, modelsText } from './cliModels';
import { type NodeFile, readNodeFile } from './core/nodeList';
import type { CircuitFile } from './schemas/circuit';
import { errorMessage } from './core/errors';

const USAGE = `Usage: circuit-inspector <command> [options]

Commands:
  analyze FILE        per token: LINE:COL, text, UTF-16 range, top next tokens, circuits that fire;
                      the human form ends with a summary line
    --json              one JSON object {"model", "tokens": [...]}, written as the analysis goes
    --jsonl             one JSON object per token per line (the objects of --json's "tokens"),
                        in document order as windows complete; memory stays flat on large files
    --top K             next-token candidates per token (default 3); 0: none, which is faster
                        (only the circuits' class tokens are read from the output layer)
    --circuit NAME      only this circuit (a task name, e.g. single_double_quote, or a part of
                        one, e.g. quote; repeatable as NAME,NAME)
    --firing            only tokens where a (chosen) circuit fires
    --ablate ID,ID,...  ablate these nodes (e.g. 0.attn.v.17); @FILE: the nodes of a circuit file,
                        a panel JSON export or discover's --json output
    --only @FILE        keep only that file's nodes (every other node ablated); when FILE is a
                        circuit that discover --save wrote, its contrast is read too (a readout
                        named after it: the target − alternative logit difference)
    --mode mean|zero    value an ablated node takes (default mean)
    --at LINE:COL       only the token at this position (1-based; COL in UTF-16 units), with
                        the same numbers as the whole-file output (the same window)
    --max-bytes N       refuse files over N bytes (default 4M; K, M, G = ×1024; 0: no limit)
    --window-tokens N   tokens per analysis window (default 256; at most the model's context, at
                        least 128): every token is read with ≥ 64 before it; longer windows give many
                        tokens more, at a cost growing with the square (the editor's windowTokens)
    --progress          progress on stderr (tokens done / total, ETA) whatever stderr is; by
                        default it shows only on a terminal, once a run takes over a second
    --no-progress       never show progress
    --bundle DIR|NAME   model bundle: a folder, or the name of one that \`models\` lists
                        (default: the first one in the package's models/)
    --provider auto|cuda|cpu   where the model runs (default auto)
    --kernels wasm|onnxruntime   what runs the passes on the CPU: our WebAssembly kernels (default,
                        for bundles of our model's shape) or onnxruntime for every pass
  discover FILE --at LINE:COL   "why this token?": the circuit behind the prediction after the token
                      at LINE:COL, found by pruning the model's nodes — runs of 64, 16, 4, then
                      single nodes — while the rest alone keeps --keep of the target-vs-alternative
                      logit difference and ablating it costs half; reports it, what ablating it
                      costs, its nodes and edges
    --target TEXT       the token to explain (default: the code's next token if among the top 5,
                        else the top one)
    --alt TEXT          the token to contrast it with (default: the runner-up)
    --mode mean|zero    value an ablated node takes (default mean)
    --keep SHARE        share of the full model's logit difference the circuit alone keeps
                        (default 0.8)
    --average           average over every place in FILE where the token at LINE:COL is followed
                        by the target (at most 16, the cursor's first); says how many
    --every-node        also ablate every node alone (~2,400 more forward passes): each node's
                        attribution, in the JSON as "every_node" (the 10 largest outside the
                        circuit in words)
    --json              one JSON object {"position", "target", "alt", "full", "nodes", "edges",
                        "all_ablated", "circuit_only", "without_circuit", "ms", ...}
    --save FILE         also write the circuit as a circuit file (bundle format), for the panel
                        and for analyze --ablate/--only @FILE
    --max-bytes N, --window-tokens N, --bundle DIR|NAME, --provider auto|cuda|cpu   as for analyze
  bench               timings on 100-, 1,000- and 5,000-line files against the PyTorch reference,
                      and tokenizer/window scaling on long lines and a 10 MB file
    --json              machine-readable output
    --runs N            repetitions per measurement, medians reported (default 5)
    --cli               also time this CLI end to end (--jsonl) on a 1 MB line and a 10 MB file
                        (several minutes)
    --bundle DIR|NAME, --provider auto|cuda|cpu   as for analyze
  models              the bundles --bundle NAME can name: the package's models/, then the folders
                      of $${FOLDERS_ENV} (separated by ${path.delimiter}); per bundle its size, shape,
                      circuits and the first paragraph of its model card, or why it cannot be loaded
${IMPORT_USAGE}  --help              this text

Exit status:
  0  done
  1  the analysis failed while running (onnxruntime error, out of memory, a bug)
  2  bad command line (unknown command or option, bad value)
  3  input refused: no such file, not a file, binary, or larger than --max-bytes
  4  the model bundle cannot be loaded (missing or broken; the message says which file)
  5  discover: no circuit of at most 2,000 nodes keeps --keep of the difference there
`;

/** A problem with what the user asked for: one line on stderr, exit status 2. */
export class UsageError extends Error {}
/** A problem with the input file: one line on stderr, exit status 3. */
class InputError extends Error {}
/** The bundle cannot be opened: one line on stderr, exit status 4. */
export class ModelError extends Error {}
/** discover found no circuit small enough to show: one line on stderr, exit status 5. */
export class NoCircuitError extends Error {}

export const EXIT = { ok: 0, failed: 1, usage: 2, input: 3, model: 4, noCircuit: 5 } as const;

const FLAGS = new Set(['--json', '--jsonl', '--help', '--firing', '--progress', '--no-progress', '--cli', '--average', '--every-node']);
const OPTIONS = new Set(['--top', '--ablate', '--only', '--mode', '--at', '--bundle', '--provider', '--kernels', '--runs', '--max-bytes', '--window-tokens', '--circuit', '--target', '--alt', '--keep', '--save']);

/** The default of --max-bytes: 4 MiB, about 80,000 lines of ordinary Python. */
export const DEFAULT_MAX_BYTES = 4 * 2 ** 20;

/** Inputs longer than this (UTF-16 units) run with a young generation that does not grow. */
const SMALL_HEAP_FROM = 2 * 2 ** 20;

export interface Args {
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

/** Bytes of a --max-bytes value: an integer with an optional K, M or G (×1024); 0 means no limit. */
export function parseBytes(v: string): number {
  const m = /^(\d+)\s*([kmg]i?b?)?$/i.exec(v.trim());
  if (!m) throw new UsageError(`--max-bytes must be a number of bytes such as 4000000, 512K or 20M, not ${v}`);
  const unit = (m[2] ?? '').toLowerCase()[0];
  return Number(m[1]) * (unit === 'k' ? 2 ** 10 : unit === 'm' ? 2 ** 20 : unit === 'g' ? 2 ** 30 : 1);
}

/** The package root: the nearest folder above this file with our package.json (dist/cli.js → ..). */
function packageRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj) && (JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string }).name === 'circuit-inspector') return dir;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '..');
  }
}

/**
 * The file's text (less a leading byte-order mark), or a one-sentence refusal (InputError) when it is missing, larger than
 * `maxBytes` (0: no limit) or binary. The size is checked from the file system before anything is
 * read, so a refusal takes no longer than starting Node.
 */
export function readSource(file: string, maxBytes: number): string {
  if (!fs.existsSync(file)) throw new InputError(`${file}: no such file`);
  const size = fs.statSync(file);
  if (!size.isFile()) throw new InputError(`${file} is not a file`);
  const tooBig = (bytes: number) => new InputError(`${file} is ${bytes.toLocaleString('en-US')} bytes, over the limit of ${maxBytes.toLocaleString('en-US')}; raise it with --max-bytes ${Math.ceil(bytes / 2 ** 20)}M (or --max-bytes 0 for no limit)`);
  if (maxBytes > 0 && size.size > maxBytes) throw tooBig(size.size);
  const raw = fs.readFileSync(file);
  if (maxBytes > 0 && raw.length > maxBytes) throw tooBig(raw.length); // it grew since
  const why = binaryReason(raw);
  if (why) throw new InputError(`${file} looks binary (${why}); only text files can be analysed`);
  const text = raw.toString('utf8');
  const undecodable = undecodableNote(raw, text);
  if (undecodable) process.stderr.write(`note: ${file} ${undecodable}\n`);
  // VS Code hands the extension a document without its byte-order mark (and Python ignores one): read
  // without it here too, the file has the editor's tokens, values and LINE:COL
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * What to tell about bytes that are not UTF-8, or undefined when all are. They are read as U+FFFD, as VS Code
 * shows such a file with its default encoding, so the CLI's tokens are the editor's; the note says so, and
 * names the encoding a PEP 263 coding line declares (Python decodes the file with that one).
 */
function undecodableNote(raw: Buffer, text: string): string | undefined {
  const first = text.indexOf('\ufffd');
  if (first < 0) return undefined; // most files: no second pass over the bytes
  const replaced = text.split('\ufffd').length - 1 - (raw.toString('latin1').split('\xef\xbf\xbd').length - 1); // less the U+FFFD the file itself holds
  if (replaced <= 0) return undefined;
  const line = text.slice(0, first).split('\n').length;
  const declared = /^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)/mu.exec(text.split('\n', 2).join('\n'))?.[1];
  const encoding = declared ? `; its coding line says ${declared}, which VS Code reads with "Reopen with Encoding"` : '';
  return `is not UTF-8: ${replaced.toLocaleString('en-US')} byte sequence${replaced === 1 ? '' : 's'} (the first on line ${line}) read as \ufffd, as VS Code shows them by default${encoding}`;
}

/** Why these bytes are not text, or undefined: a NUL byte anywhere, or over 10 % control characters in the first 64 KB. */
export function binaryReason(raw: Uint8Array): string | undefined {
  const nul = raw.indexOf(0);
  if (nul >= 0) return `a NUL byte at offset ${nul}`;
  const head = raw.subarray(0, 65536);
  let control = 0;
  for (const b of head) if (b < 8 || (b > 13 && b < 32 && b !== 27) || b === 127) control++;
  return head.length && control > head.length / 10 ? `${Math.round((100 * control) / head.length)} % of its first ${head.length.toLocaleString('en-US')} bytes are control characters` : undefined;
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

/**
 * The nodes --ablate names (a list, or @FILE) and every node outside --only @FILE, with the --mode
 * analyze() has already checked; and the contrast of the circuit file --only (else --ablate) names
 * when it is a found circuit. Each file is read and parsed once.
 */
function ablationOf(bundle: Bundle, opts: ReadonlyMap<string, string | true>): { ablation: Ablation; contrast: CircuitFile | undefined } {
  const mode = String(opts.get('--mode') ?? 'mean') as Ablation['mode'];
  const fromFile = (option: string, v: string): NodeFile => {
    if (!v.startsWith('@')) throw new UsageError(`${option} takes @FILE, not ${v}`);
    try {
      return readNodeFile(v.slice(1), bundle);
    } catch (e) {
      throw new UsageError(`${option}: ${errorMessage(e)}`);
    }
  };
  const ablate = opts.has('--ablate') ? String(opts.get('--ablate')) : '';
  const ablateFile = ablate.startsWith('@') ? fromFile('--ablate', ablate) : undefined;
  const nodes = ablateFile ? [...ablateFile.ids] : ablate.split(',').map((s) => s.trim()).filter(Boolean);
  for (const id of nodes) if (bundle.layout.flat(id) === undefined) throw new UsageError(`--ablate: ${id} is not a node of ${bundle.name}`);
  const onlyFile = opts.has('--only') ? fromFile('--only', String(opts.get('--only'))) : undefined;
  if (onlyFile) {
    const kept = new Set(onlyFile.ids);
    for (let f = 0; f < bundle.layout.count; f++) if (!kept.has(bundle.layout.id(f))) nodes.push(bundle.layout.id(f));
  }
  return { ablation: { nodes: new Set(nodes), mode }, contrast: (onlyFile ?? ablateFile)?.contrast };
}

export function providerOf(opts: ReadonlyMap<string, string | true>): ProviderChoice {
  const provider = String(opts.get('--provider') ?? 'auto');
  if (provider !== 'auto' && provider !== 'cuda' && provider !== 'cpu') throw new UsageError('--provider must be auto, cuda or cpu');
  return provider;
}

/** Whether our WebAssembly kernels may run the CPU's passes (--kernels). */
export function ourKernelsOf(opts: ReadonlyMap<string, string | true>): boolean {
  const kernels = String(opts.get('--kernels') ?? 'wasm');
  if (kernels !== 'wasm' && kernels !== 'onnxruntime') throw new UsageError('--kernels must be wasm or onnxruntime');
  return kernels === 'wasm';
}

export const bundleDirOf = (opts: ReadonlyMap<string, string | true>): string => bundleDirFor(opts.get('--bundle') as string | undefined, cliBundleFolders(packageRoot()));

async function bench(args: Args): Promise<void> {
  const { opts } = args;
  if (args.positional.length) throw new UsageError('bench takes no FILE');
  const runs = Number(opts.get('--runs') ?? 5);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new UsageError('--runs must be an integer from 1 to 50');
  const json = opts.has('--json');
  const cli = path.join(packageRoot(), 'bin', 'circuit-inspector.js');
  const report = await runBench({ root: packageRoot(), bundleDir: bundleDirOf(opts), provider: providerOf(opts), runs, cli, cliRuns: opts.has('--cli'), log: json ? undefined : (l) => process.stderr.write(l + '\n') });
  process.stdout.write((json ? JSON.stringify(report) : formatBench(report)) + '\n');
}

/**
 * 1-based LINE:COL (COL in UTF-16 units, lines ended by \n) of offsets asked for in increasing
 * order, in time linear in the text over all calls: each call scans only from the previous offset.
 * (Searching for the next \n from each token instead would scan to the end of a long line once
 * per token: quadratic on a one-line file.)
 */
export class Positions {
  private offset = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly text: string) {}

  at(offset: number): { line: number; col: number } {
    if (offset < this.offset) [this.offset, this.line, this.lineStart] = [0, 1, 0]; // backwards: start over
    for (let k = this.offset; k < offset; k++) {
      if (this.text.charCodeAt(k) === 10) {
        this.line++;
        this.lineStart = k + 1;
      }
    }
    this.offset = offset;
    return { line: this.line, col: offset - this.lineStart + 1 };
  }
}

/** Where progress goes (stderr): anything with write and isTTY. */
export interface ProgressSink {
  write(s: string): unknown;
  readonly isTTY?: boolean;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor(s / 60) % 60).padStart(2, '0')} min`;
}

/**
 * Tokens done / total with the elapsed time and an ETA, on stderr. 'auto': only when stderr is a
 * terminal and stdout is not (a terminal showing the output needs no progress), and only once a
 * run has taken a second; redrawn in place at most 10 times a second. 'always' (--progress): from
 * the first window whatever stderr is — on a pipe or file one line at most once a second — and a
 * final line with the time and peak memory. Nothing is ever written to stdout.
 */
export class Progress {
  private total = 0;
  private readonly started: number;
  private lastDraw = -Infinity;
  private drawn = false;
  private pending = false; // an in-place line without its newline

  constructor(
    private readonly sink: ProgressSink,
    private readonly mode: 'auto' | 'always' | 'never',
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
  }

  private get on(): boolean {
    return this.mode === 'always' || (this.mode === 'auto' && this.sink.isTTY === true);
  }

  start(total: number): void {
    this.total = total;
  }

  update(done: number): void {
    const t = this.now();
    const elapsed = t - this.started;
    if (!this.on || (this.mode === 'auto' && elapsed < 1000) || t - this.lastDraw < (this.sink.isTTY ? 100 : 1000)) return;
    this.lastDraw = t;
    const pct = this.total ? Math.floor((100 * done) / this.total) : 100;
    const eta = done > 0 && done < this.total ? `, ETA ${duration((elapsed / done) * (this.total - done))}` : '';
    this.draw(`${int(done)} / ${int(this.total)} tokens (${pct} %), ${duration(elapsed)}${eta}`, false);
  }

  /** The last line: the totals when the run succeeded and progress was shown; else just end an open line. */
  end(done: number, ok: boolean): void {
    if (!this.on || (!this.drawn && this.mode === 'auto') || !ok) {
      if (this.pending) this.sink.write('\n');
      this.pending = false;
      return;
    }
    const elapsed = this.now() - this.started;
    const rate = elapsed > 0 ? `, ${int((1000 * done) / elapsed)} tokens/s` : '';
    this.draw(`${int(done)} / ${int(this.total)} tokens (100 %) in ${duration(elapsed)}${rate}; peak memory ${int(process.resourceUsage().maxRSS / 1024)} MB`, true);
  }

  private draw(line: string, final: boolean): void {
    const text = `circuit-inspector: ${line}`;
    if (this.sink.isTTY) this.sink.write(`\r${text}\x1b[K${final ? '\n' : ''}`);
    else this.sink.write(text + '\n');
    this.pending = this.sink.isTTY === true && !final;
    this.drawn = true;
  }
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;

/**
 * A token as --json, --jsonl and --at write it, with the chosen circuits only: per circuit whether
 * its task applies here (it fires only where it does), and the readouts of those that apply. The
 * whole-file pass and --at compute a token in the same window, so both write the same numbers.
 */
function tokenJson(t: TokenResult, top: number, tasks: readonly string[]): TokenJson {
  const readouts = tasks.filter((task) => t.readouts?.[task]).map((task) => [task, readoutJson((t.readouts as Record<string, Readout>)[task])]);
  return {
    text: t.text,
    start: t.start,
    end: t.end,
    next: t.next.slice(0, top).map((n) => ({ text: n.text, p: round(n.p) })),
    circuits: Object.fromEntries(tasks.map((task) => [task, { fires: t.circuits[task].fires, value: round(t.circuits[task].value), applies: t.circuits[task].applies }])),
    ...(readouts.length ? { readouts: Object.fromEntries(readouts) } : {}),
  };
}

interface TokenJson {
  text: string;
  start: number;
  end: number;
  next: { text: string; p: number }[];
  circuits: Record<string, { fires: boolean; value: number; applies: boolean }>;
  readouts?: Record<string, ReturnType<typeof readoutJson>>;
}

function readoutJson(r: Readout) {
  return { p: r.p?.map(round), logit_diff: round(r.logitDiff) };
}

/**
 * The circuits --circuit names, in bundle order; all without it. A name is a task name, or a part of
 * one: of exactly one, or of several that all begin with the shortest of them, which is meant
 * (`quote`: single_double_quote, not its paper form single_double_quote_paper).
 */
function circuitsOf(bundle: Bundle, opts: ReadonlyMap<string, string | true>): string[] {
  const all = bundle.circuits.map((c) => c.task);
  if (!opts.has('--circuit')) return all;
  const chosen = new Set<string>();
  for (const name of String(opts.get('--circuit')).split(',').map((s) => s.trim()).filter(Boolean)) {
    const repeat = bundle.repeats.find((r) => r.task === name);
    if (repeat) throw new UsageError(`--circuit ${name}: ${bundle.name}'s ${name} has the prediction and the nodes of ${repeat.sameAs}, which stands for it; name that one`);
    const parts = all.filter((t) => t.includes(name));
    const shortest = parts.reduce<string | undefined>((a, t) => (a === undefined || t.length < a.length ? t : a), undefined);
    const matches = all.includes(name) ? [name] : shortest !== undefined && parts.every((t) => t.startsWith(shortest)) ? [shortest] : parts;
    if (matches.length !== 1) throw new UsageError(`--circuit ${name} ${matches.length ? 'is ambiguous' : 'matches no circuit'}: ${bundle.name} has ${all.join(', ') || 'none'}`);
    chosen.add(matches[0]);
  }
  return all.filter((t) => chosen.has(t));
}

/** Write to stdout, waiting when the reader is slower than the analysis (memory stays flat). */
export async function emit(s: string): Promise<void> {
  if (s && !process.stdout.write(s)) await once(process.stdout, 'drain');
}

/** One token as a line of the human form (--at adds its predictions in words: predictionWords). */
function humanLine(t: TokenJson, pos: { line: number; col: number }): string {
  const fired = Object.entries(t.circuits).filter(([, c]) => c.fires).map(([k, c]) => `${k}=${c.value}`);
  const next = t.next.map((n) => `${JSON.stringify(n.text)} ${(100 * n.p).toFixed(0)}%`).join(', ');
  return `${`${pos.line}:${pos.col}`.padStart(9)}  ${JSON.stringify(t.text).padEnd(14)}${next ? ` → ${next}` : ''}${fired.length ? '   [' + fired.join(' ') + ']' : ''}\n`;
}

/**
 * --at's human form, per circuit whose task applies: the prediction in words (core/readoutText, the
 * sentence the hover shows) and, with an ablation, how it moved from the full model's.
 */
async function predictionWords(analyzer: DocumentAnalyzer, circuits: readonly CircuitFile[], text: string, at: number, token: TokenResult, tasks: readonly string[], ablation: Ablation): Promise<string> {
  const full = isAblating(ablation) ? (await analyzer.analyzeAt(text, at, NO_ABLATION))?.token : token;
  const scope = documentScope(text);
  let out = '';
  for (const task of tasks) {
    const r = token.readouts?.[task];
    const circuit = circuits.find((c) => c.task === task);
    if (!r || !circuit) continue;
    const words = describeCircuitPrediction(circuit, r.logitDiff, r.p, scope.truth(circuit, token.start, token.end), scope.point(circuit, token.start, token.end)?.pending);
    out += `           ${task}: ${words.sentence.replace(/\*\*/g, '')}\n`;
    const before = full?.readouts?.[task];
    const labels: [string, string] = [circuit.classes[0].label, circuit.classes[1].label];
    if (isAblating(ablation) && before) out += `           ${task}, ablated: ${describeChange(labels, before.logitDiff, r.logitDiff)}\n`;
  }
  return out;
}

type Format = 'human' | 'json' | 'jsonl';

/** What `analyze` was asked for, checked before anything is read or loaded. */
interface AnalyzeRequest {
  readonly file: string;
  readonly top: number;
  readonly format: Format;
  readonly maxBytes: number;
  readonly provider: ProviderChoice;
  readonly progress: 'auto' | 'always' | 'never';
  readonly firingOnly: boolean;
  readonly windowTokens: number | undefined;
}

function analyzeRequest(args: Args): AnalyzeRequest {
  const { positional, opts } = args;
  if (positional.length !== 1) throw new UsageError('analyze needs exactly one FILE');
  const top = Number(opts.get('--top') ?? 3);
  if (!Number.isInteger(top) || top < 0 || top > 50) throw new UsageError('--top must be an integer from 0 to 50');
  if (opts.has('--json') && opts.has('--jsonl')) throw new UsageError('choose one of --json and --jsonl');
  if (opts.has('--progress') && opts.has('--no-progress')) throw new UsageError('choose one of --progress and --no-progress');
  if (!['mean', 'zero'].includes(String(opts.get('--mode') ?? 'mean'))) throw new UsageError('--mode must be mean or zero');
  return {
    file: positional[0],
    top,
    format: opts.has('--jsonl') ? 'jsonl' : opts.has('--json') ? 'json' : 'human',
    provider: providerOf(opts),
    maxBytes: opts.has('--max-bytes') ? parseBytes(String(opts.get('--max-bytes'))) : DEFAULT_MAX_BYTES,
    progress: opts.has('--no-progress') ? 'never' : opts.has('--progress') ? 'always' : process.stdout.isTTY ? 'never' : 'auto',
    firingOnly: opts.has('--firing'),
    windowTokens: windowTokensOf(opts),
  };
}

/** --window-tokens (undefined: the analyzer's default), checked before anything is read or loaded. */
export function windowTokensOf(opts: ReadonlyMap<string, string | true>): number | undefined {
  if (!opts.has('--window-tokens')) return undefined;
  const n = Number(opts.get('--window-tokens'));
  if (!Number.isInteger(n) || n < MIN_WINDOW_TOKENS) throw new UsageError(`--window-tokens must be an integer of at least ${MIN_WINDOW_TOKENS}`);
  return n;
}

/** One analysis of a file with an open model, as the output functions need it. */
interface AnalyzeRun {
  readonly request: AnalyzeRequest;
  readonly bundle: Bundle;
  /** The bundle's circuits, and a found circuit's contrast named by --only/--ablate @FILE. */
  readonly circuits: readonly CircuitFile[];
  readonly analyzer: DocumentAnalyzer;
  readonly text: string;
  readonly tasks: readonly string[];
  readonly ablation: Ablation;
  readonly positions: Positions;
}

/** The bundle the options name, opened: a failure is the model's (exit code), a CUDA fallback a note on stderr. */
export async function openCliModel(opts: Args['opts'], provider: ReturnType<typeof providerOf>): Promise<Awaited<ReturnType<typeof openModel>>> {
  let model: Awaited<ReturnType<typeof openModel>>;
  const ourKernels = ourKernelsOf(opts);
  try {
    model = await openModel(bundleDirOf(opts), provider, ourKernels);
  } catch (e) {
    throw new ModelError(errorMessage(e));
  }
  if (model.runner.notice) process.stderr.write(`note: ${model.runner.notice}\n`);
  return model;
}

async function analyze(args: Args): Promise<void> {
  const request = analyzeRequest(args);
  const { opts } = args;
  const text = readSource(request.file, request.maxBytes);
  const at = opts.has('--at') ? offsetOf(text, String(opts.get('--at'))) : undefined;
  const { bundle, runner } = await openCliModel(opts, request.provider);
  // A large input's analysis runs for minutes holding its tokens and scope (~110 MB for 10 MB); V8's
  // young generation, left to grow to 2 × 16 MB, adds ~30 MB of garbage above that. Kept at its
  // first size it costs a few % of CPU, paid only where memory is the limit (docs/BENCHMARKS.md).
  // Set once the model's workers exist: creating an isolate resets the flag to its least value, 2.
  // The old generation's limit is then 1.5 × its live size, not a factor V8 picks from its GC speed:
  // the 10 MB file's peak 400–407 → 364–370 MiB at the same CPU per token (docs/BENCHMARKS.md).
  if (text.length > SMALL_HEAP_FROM) for (const flag of ['--semi-space-growth-factor=1', '--heap-growing-percent=50']) v8.setFlagsFromString(flag);
  try {
    const { ablation, contrast: found } = ablationOf(bundle, opts);
    const circuits = found ? [...bundle.circuits, found] : bundle.circuits;
    const tasks = [...circuitsOf(bundle, opts), ...(found ? [found.task] : [])];
    // it prints each circuit's firing value and readouts, never another node: it watches the firing-rule nodes alone
    const base = new DocumentAnalyzer(bundle, runner, { topK: Math.max(1, request.top), batch: runner.preferredBatch, inFlight: runner.parallelism, watchFiringOnly: true, windowTokens: request.windowTokens });
    const analyzer = found ? base.withCircuits(circuits) : base;
    const run: AnalyzeRun = { request, bundle, circuits, analyzer, text, tasks, ablation, positions: new Positions(text) };
    await (at === undefined ? writeFile(run) : writeTokenAt(run, at));
  } finally {
    await runner.dispose();
  }
}

/** --at: the one token at `at`, with the same numbers as the whole-file output (the same window). */
async function writeTokenAt(run: AnalyzeRun, at: number): Promise<void> {
  const { format } = run.request;
  const r = await run.analyzer.analyzeAt(run.text, at, run.ablation);
  const tokens: TokenJson[] = r ? [tokenJson(r.token, run.request.top, run.tasks)] : [];
  if (format === 'json') await emit(JSON.stringify({ model: run.bundle.name, tokens }) + '\n');
  else if (format === 'jsonl') await emit(tokens.map((t) => JSON.stringify(t) + '\n').join(''));
  else await emit(tokens.map((t) => humanLine(t, run.positions.at(t.start))).join('') + (r ? await predictionWords(run.analyzer, run.circuits, run.text, at, r.token, run.tasks, run.ablation) : ''));
}

/** Tokens analysed and written so far, and where each chosen circuit fired. */
interface Counts {
  done: number;
  shown: number;
  readonly fires: Map<string, number>;
}

/** The whole file, written window by window as the analysis streams, then (human form) a summary line. */
async function writeFile(run: AnalyzeRun): Promise<void> {
  const { format, top } = run.request;
  const progress = new Progress(process.stderr, run.request.progress);
  const counts: Counts = { done: 0, shown: 0, fires: new Map(run.tasks.map((t) => [t, 0])) };
  let ok = false;
  const started = performance.now();
  if (format === 'json') await emit(`{"model":${JSON.stringify(run.bundle.name)},"tokens":[`);
  try {
    for await (const chunk of run.analyzer.stream(run.text, run.ablation, { nextTokens: top > 0, onTokenized: (n) => progress.start(n) })) {
      await emit(chunkOutput(run, chunk, counts));
      progress.update(counts.done);
    }
    ok = true;
  } finally {
    progress.end(counts.done, ok);
  }
  if (format === 'json') await emit(']}\n');
  if (format === 'human') await emit(summaryLine(run, counts, performance.now() - started));
}

/** A chunk's tokens in the chosen format (with --firing, only those where a chosen circuit fires), counted into `counts`. */
function chunkOutput(run: AnalyzeRun, chunk: readonly TokenResult[], counts: Counts): string {
  const { format, top, firingOnly } = run.request;
  let out = '';
  for (const t of chunk) {
    const firing = run.tasks.filter((task) => t.circuits[task].fires);
    for (const task of firing) counts.fires.set(task, (counts.fires.get(task) ?? 0) + 1);
    if (firingOnly && !firing.length) continue;
    const j = tokenJson(t, top, run.tasks);
    if (format === 'human') out += humanLine(j, run.positions.at(t.start));
    else out += (format === 'json' && counts.shown ? ',' : '') + JSON.stringify(j) + (format === 'jsonl' ? '\n' : '');
    counts.shown++;
  }
  counts.done += chunk.length;
  return out;
}

/** The human form's last line: tokens, lines, time, and how often each chosen circuit fired. */
function summaryLine(run: AnalyzeRun, { done, shown, fires }: Counts, ms: number): string {
  const { text, tasks } = run;
  const lines = text.length ? run.positions.at(text.length).line - (text.endsWith('\n') ? 1 : 0) : 0;
  const pct = (n: number) => (done ? `${((100 * n) / done).toFixed(1)} %` : '0 %');
  const perCircuit = tasks.map((task) => `${task} fires at ${int(fires.get(task) ?? 0)} (${pct(fires.get(task) ?? 0)})`);
  return `summary: ${int(done)} tokens on ${int(lines)} lines in ${duration(ms)}${perCircuit.length ? '; ' + perCircuit.join(', ') : ''}${run.request.firingOnly ? `; ${int(shown)} tokens shown (--firing)` : ''}\n`;
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'import-openai') return importOpenai(argv.slice(1), packageRoot());
  const args = parseArgs(argv);
  if (args.opts.has('--help') || args.command === '' || args.command === 'help') {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  if (args.command === 'analyze') {
    await analyze(args);
    return EXIT.ok;
  }
  if (args.command === 'bench') {
    await bench(args);
    return EXIT.ok;
  }
  if (args.command === 'discover') {
    await discover(args);
    return EXIT.ok;
  }
  if (args.command === 'models') {
    process.stdout.write(modelsText(args, cliBundleFolders(packageRoot())));
    return EXIT.ok;
  }
  throw new UsageError(`unknown command ${args.command}`);
}

/** The exit status of a failure (see USAGE). */
function exitStatus(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof InputError) return EXIT.input;
  if (err instanceof ModelError) return EXIT.model;
  if (err instanceof NoCircuitError) return EXIT.noCircuit;
  return EXIT.failed;
}

if (require.main === module || process.argv[1]?.endsWith('circuit-inspector.js') || process.argv[1]?.endsWith('circuit-inspector')) {
  // `circuit-inspector analyze big.py | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.ok);
    throw e;
  });
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      const msg = errorMessage(err).split('\n')[0];
      process.stderr.write(`circuit-inspector: ${msg}${err instanceof UsageError ? ' (see circuit-inspector --help)' : ''}\n`);
      process.exitCode = exitStatus(err);
    },
  );
}
