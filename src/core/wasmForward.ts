// The model's forward pass run by our own WebAssembly kernels (kernels/forward.ts) instead of
// onnxruntime, on the CPU, for bundles of our own model's layout: ours, and OpenAI's released models as
// import-openai converts them (biases, a logits bias, a tied unembedding, ReLU; not a graph the import
// compacted, whose weights have other shapes). `forwardProblem` says which.
//
// Why: the model keeps 1/16 of its weights and half of every activation, but onnxruntime's CPU graph
// runs dense products, a TopK (nth_element per row) at every AbsTopK site — ~43 % of a window — and
// ~380 small ops. Here AbsTopK is a bit-wise threshold search, the products skip zero weights and zero inputs,
// and each step is one call: a 256-token window in 0.55–0.65 of onnxruntime's CPU time
// (docs/BENCHMARKS.md, "Session 18"). The numbers agree with onnxruntime's to ~1e-5 (other summation
// orders) with the same AbsTopK selections, except where a threshold is a near-tie and the two roundings
// keep different units — as onnxruntime and PyTorch can (test/unit/wasmForward.test.ts, cli.test.ts).
//
// One instance serves one worker of ./runner: its memory holds the weights once, laid out for the
// kernels, and work buffers sized for the bundle's context. A large model's instance also starts a
// second thread on the same memory (./kernelThread), which takes parts of each large kernel call of a
// run that the runner lets use it (two cores' worth for a window that has the machine to itself).
import * as fs from 'fs';
import * as path from 'path';
import type { ModelConfig } from './bundle';
import type { LayoutEntry } from './nodes';
import { KernelThread, kernelImports, type SplitKernel } from './kernelThread';
import { readTensors } from './onnxProto';
import type { NextOutput, RunInput, RunOutput } from './ortSession';

/** What the forward needs of a bundle besides model.onnx: its config, node layout and context. */
export interface ForwardSpec {
  readonly model: ModelConfig;
  readonly layout: readonly LayoutEntry[];
  readonly context: number;
}

/** The sites of a layer in the order the forward computes them (the node layout's order, training/model.py). */
const SITES = ['attn.act_in', 'attn.q', 'attn.k', 'attn.v', 'attn.resid_delta', 'mlp.act_in', 'mlp.post_act', 'mlp.resid_delta'] as const;
type Site = (typeof SITES)[number];

/** Next tokens ranked per position, as model.onnx's NEXT_OUTPUTS (training/export.py NEXT_TOP_K). */
export const FORWARD_TOP_K = 8;
const RMS_EPS = 1.1920928955078125e-7; // torch.finfo(float32).eps, RMSNorm's default

// next to the code that runs: dist/ for the bundled extension and CLI, out/src/core/ for the tests
const WASM_FILE = path.join(__dirname, 'forward.wasm');

// Node's global WebAssembly, typed for what this module uses (the DOM library, which types all of it, is
// not part of the host code's build)
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: unknown };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
};

/** The kernels' memory limit in 64 KiB pages: wasm32's whole range (esbuild.config.mjs declares the same). */
const MAX_PAGES = 65536;

/** The kernels' exports (kernels/forward.ts). */
export interface Kernels {
  readonly memory: WasmMemory;
  absTopK(x: number, rows: number, n: number, k: number, scratch: number): void;
  embed(ids: number, T: number, d: number, wte: number, wpe: number, x: number): void;
  gatherWatched(x: number, n: number, src: number, dst: number, M: number, pairs: number, count: number, out: number, K: number): void;
  gatherRows(x: number, n: number, rows: number, M: number, out: number): void;
  maskFill(x: number, rows: number, n: number, mask: number, term: number): void;
  rmsNorm(x: number, out: number, rows: number, n: number, gain: number, eps: number): void;
  spmm(x: number, rows: number, nIn: number, y: number, nOut: number, start: number, outs: number, vals: number, xt: number, yt: number): void;
  gelu(x: number, count: number): void;
  relu(x: number, count: number): void;
  addBias(y: number, rows: number, n: number, bias: number): void;
  attention(q: number, k: number, v: number, y: number, Q: number, pos: number, nh: number, dh: number, scale: number, sinks: number, hasSink: number, kt: number, vt: number, s: number, h0: number, h1: number): void;
  addInto(y: number, x: number, count: number): void;
  readLogits(h: number, P: number, d: number, ids: number, R: number, start: number, cols: number, vals: number, toks: number, bias: number, bigram: number, V: number, out: number, ht: number, blk: number): void;
  logSumExp(logits: number, P: number, R: number, out: number, scratch: number): void;
  topValues(logits: number, P: number, R: number, K: number, values: number, cols: number): void;
}

let compiled: object | undefined;

/** The kernels' module, compiled once per thread. */
function kernelsModule(): object {
  return (compiled ??= new WebAssembly.Module(fs.readFileSync(WASM_FILE)));
}

/** A new instance of the kernels, with a (shared) memory of its own (the forward lays it out; the tests call kernels alone). */
export function loadKernels(): Kernels {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
  return new WebAssembly.Instance(kernelsModule(), kernelImports(memory)).exports as unknown as Kernels;
}

/** A sparse matrix in the kernels' memory: by input (products) or by row (the unembedding). */
interface Sparse {
  readonly start: number;
  readonly index: number;
  readonly vals: number;
}

/** A Linear's weights, and its bias (0: none). */
interface Linear extends Sparse {
  readonly bias: number;
}

interface Layer {
  readonly ln1: number;
  readonly ln2: number;
  readonly sinks: number;
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly proj: Linear;
  readonly fc: Linear;
  readonly mproj: Linear;
}

interface Shape {
  readonly nLayer: number;
  readonly d: number;
  readonly nHead: number;
  readonly dHead: number;
  readonly dMlp: number;
  readonly vocab: number;
  readonly afrac: number | null;
  readonly topkSites: ReadonlySet<string>;
  readonly sink: boolean;
  readonly posEmb: boolean;
  readonly bigram: boolean;
  /** OpenAI's released models' options (training/model.py GPTConfig): a bias on every Linear, one on the logits, the unembedding tied to wte, ReLU. */
  readonly bias: boolean;
  readonly logitsBias: boolean;
  readonly tied: boolean;
  readonly relu: boolean;
}

const num = (x: unknown): number | undefined => (Number.isInteger(x) && (x as number) > 0 ? (x as number) : undefined);

/** The bundle's shape if the kernels can run it, else why not (one sentence). */
function shapeOf({ model: m, layout }: ForwardSpec): Shape | string {
  const [nHead, dHead, dMlp] = [num(m.n_head), num(m.d_head), num(m.d_mlp)];
  if (!nHead || !dHead || !dMlp) return 'the manifest lacks n_head, d_head or d_mlp';
  const activation = m.activation ?? 'gelu';
  if (activation !== 'gelu' && activation !== 'relu') return `the model's activation is ${String(m.activation)}`;
  if ([m.d_model, dHead, dMlp].some((w) => w % 4 !== 0)) return 'a width is not a multiple of 4';
  const afrac = m.afrac === null || m.afrac === undefined ? null : Number(m.afrac);
  const sites = Array.isArray(m.topk_sites) ? (m.topk_sites as string[]) : [...SITES];
  const widths: Record<Site, number> = { 'attn.act_in': m.d_model, 'attn.q': nHead * dHead, 'attn.k': nHead * dHead, 'attn.v': nHead * dHead, 'attn.resid_delta': m.d_model, 'mlp.act_in': m.d_model, 'mlp.post_act': dMlp, 'mlp.resid_delta': m.d_model };
  const expected = Array.from({ length: m.n_layer }, (_, L) => SITES.map((s) => `${L}.${s}:${widths[s]}`)).flat();
  if (layout.map((e) => `${e.name}:${e.length}`).join() !== expected.join()) return 'its node layout is not the one of our model';
  return { nLayer: m.n_layer, d: m.d_model, nHead, dHead, dMlp, vocab: m.vocab_size, afrac, topkSites: new Set(sites), sink: m.sink === true, posEmb: m.pos_emb !== false, bigram: m.bigram_table === true, bias: m.bias === true, logitsBias: m.logits_bias === true, tied: m.tied_unembed === true, relu: activation === 'relu' };
}

/** Why the kernels cannot run this bundle (onnxruntime then runs it), or undefined. */
export function forwardProblem(spec: ForwardSpec): string | undefined {
  const shape = shapeOf(spec);
  return typeof shape === 'string' ? shape : undefined;
}

/** Bytes of the kernels' linear memory, handed out once, in order (the weights, then work buffers). */
class Arena {
  private top = 1 << 16; // above the module's own data
  constructor(private readonly memory: WasmMemory) {}

  alloc(bytes: number): number {
    const at = this.top;
    this.top += Math.ceil(bytes / 16) * 16; // v128 alignment
    const pages = Math.ceil(this.top / 65536) - this.memory.buffer.byteLength / 65536;
    if (pages > 0) this.memory.grow(pages);
    return at;
  }

  put(values: Float32Array | Int32Array | Uint32Array): number {
    const at = this.alloc(values.byteLength);
    new Uint8Array(this.memory.buffer, at, values.byteLength).set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return at;
  }
}

/** The work buffers a kernel call writes besides its output: each thread of a shared call has its own. */
interface Scratch {
  readonly xt: number;
  readonly yt: number;
  readonly scratch: number;
  readonly kt: number;
  readonly vt: number;
  readonly s: number;
  /** readLogits' logits of four positions [R][4], grown with the read ids (ensureReads). */
  readBlock: number;
}

/** One thread's work buffers for a model of this shape and context, from `alloc` (bytes). */
function scratchFor({ d, nHead, dHead, dMlp }: Shape, context: number, alloc: (bytes: number) => number): Scratch {
  const T8 = (context + 7) & ~7; // the attention kernel's key blocks
  const widest = Math.max(d, nHead * dHead, dMlp);
  const a = (floats: number) => alloc(floats * 4);
  return { xt: a(8 * widest), yt: a(8 * widest), scratch: a(2 * widest + 4) /* AbsTopK's keys, then the keys still open; log Σ exp's 32 exponentials */, kt: a(dHead * T8), vt: a(dHead * T8), s: a(4 * T8 + dHead) /* scores, then the live query channels */, readBlock: 0 };
}

/**
 * A kernel call is shared with the second thread only from this much work (rows × width, or an
 * attention's query–key pairs × heads): our own model's calls (up to 2 × this) gained nothing shared.
 */
const SPLIT_FROM = 1 << 16;

export class WasmForward {
  private readonly f32: () => Float32Array;
  private readonly buf: Record<'x' | 'a' | 'aq' | 'iota' | 'pos' | 'posOut' | 'q' | 'k' | 'v' | 'y' | 'delta' | 'h' | 'mask' | 'term' | 'ids' | 'toks' | 'read' | 'logits' | 'lse' | 'topv' | 'topc' | 'watched' | 'pairs', number>;
  private readonly offsets: ReadonlyMap<string, LayoutEntry>;
  private readCap = 0;
  private watchCap = 0;
  /** The locations the current run's mask ablates anywhere (the others skip maskFill). */
  private ablated = new Set<string>();
  /** This thread's work buffers, and the second thread with its own, once started (startSecondThread). */
  private readonly own: Scratch;
  private second: { readonly thread: KernelThread; readonly scratch: Scratch } | undefined;
  /** The work from which a call is split, and whether a core is spare for it now (startSecondThread). */
  private splitFrom = SPLIT_FROM;
  private spareCore: () => boolean = () => false;

  private constructor(
    private readonly kernels: Kernels,
    private readonly arena: Arena,
    private readonly shape: Shape,
    private readonly spec: ForwardSpec,
    private readonly layers: readonly Layer[],
    private readonly embeddings: { readonly wte: number; readonly wpe: number; readonly lnf: number; readonly head: Sparse; readonly logitsBias: number; readonly bigram: number },
  ) {
    const { d, nHead, dHead, dMlp } = shape;
    const T = spec.context;
    const N = spec.layout.reduce((n, e) => n + e.length, 0);
    const a = (floats: number) => arena.alloc(floats * 4);
    this.buf = {
      x: a(T * d), a: a(T * d), aq: a(T * d), iota: a(T), pos: a(T), posOut: a(T), q: a(T * nHead * dHead), k: a(T * nHead * dHead), v: a(T * nHead * dHead), y: a(T * nHead * dHead), delta: a(T * d), h: a(T * dMlp),
      mask: a(N), term: a(N), ids: a(T), toks: a(T), read: 0, logits: 0, lse: a(2 * T), topv: a(T * FORWARD_TOP_K), topc: a(T * FORWARD_TOP_K), watched: 0, pairs: 0,
    };
    this.own = scratchFor(shape, T, (bytes) => arena.alloc(bytes));
    this.f32 = () => new Float32Array(kernels.memory.buffer);
    this.offsets = new Map(spec.layout.map((e) => [e.name, e]));
    new Int32Array(kernels.memory.buffer, this.buf.iota, T).forEach((_, t, iota) => (iota[t] = t));
  }

  /**
   * Starts a second thread, with work buffers of its own, that takes parts of every call of at least
   * `splitFrom` work while `spareCore()` says a core is free for it (asked at each call: another worker may
   * start or end a run meanwhile); returns why it could not start (the forward then runs on one thread).
   * Only a model whose calls reach `splitFrom` gains from it: for a smaller one, nothing is started.
   */
  startSecondThread({ spareCore, splitFrom = SPLIT_FROM }: { readonly spareCore: () => boolean; readonly splitFrom?: number }): string | undefined {
    if (this.second) return undefined;
    [this.splitFrom, this.spareCore] = [splitFrom, spareCore];
    const { d, dMlp } = this.shape;
    const T = this.spec.context;
    // our model's largest calls (256 rows of 512) are 2 × SPLIT_FROM: shared, its windows gained nothing (docs/BENCHMARKS.md, session 31)
    if (T * Math.max(d, dMlp) < 4 * splitFrom) return 'the model is small enough for one thread';
    const thread = KernelThread.start(kernelsModule(), this.kernels.memory);
    if (typeof thread === 'string') return thread;
    const scratch = scratchFor(this.shape, T, (bytes) => this.arena.alloc(bytes));
    if (this.readCap) scratch.readBlock = this.arena.alloc(32 * this.readCap);
    this.second = { thread, scratch };
    return undefined;
  }

  /** Stops the second thread, if one was started. */
  close(): void {
    this.second?.thread.close();
    this.second = undefined;
  }

  /**
   * Kernel `name` over `count` units (rows, heads or floats) with args(from, to, scratch) for units
   * from..to−1: when the call is large enough (splitFrom) and a core is spare, in parts cut at
   * multiples of `unit` (2–8, each a quarter of splitFrom's work or more) that both threads take in
   * turn (./kernelThread). Each kernel computes a unit from its own inputs alone, so a shared call
   * gives the very bits of a whole one.
   */
  private split(name: SplitKernel, count: number, unit: number, work: number, args: (from: number, to: number, scratch: Scratch) => number[]): void {
    const call = this.kernels[name] as unknown as (...a: number[]) => void;
    const second = this.second;
    const parts = Math.min(8, Math.floor((4 * work) / this.splitFrom), Math.floor(count / unit));
    if (!second || work < this.splitFrom || parts < 2 || !this.spareCore()) return call(...args(0, count, this.own));
    const bound = (p: number) => (p === parts ? count : Math.round((p * count) / parts / unit) * unit);
    second.thread.share(name, parts, (p, thread) => args(bound(p), bound(p + 1), thread ? second.scratch : this.own), call);
  }

  /** Loads model.onnx's weights into a new instance of the kernels; throws when the bundle is not one they run (forwardProblem). */
  static create(onnxPath: string, spec: ForwardSpec): WasmForward {
    const shape = shapeOf(spec);
    if (typeof shape === 'string') throw new Error(`the WebAssembly forward cannot run this bundle: ${shape}`);
    const kernels = loadKernels();
    const arena = new Arena(kernels.memory);
    const tensors = readTensors(fs.readFileSync(onnxPath));
    const { d, nHead, dHead, dMlp, vocab } = shape;
    const hd = nHead * dHead;
    // a weight of the shape manifest.json's model says (else the kernels would read past it or misread it)
    const get = (name: string, ...dims: number[]): Float32Array => {
      const t = tensors.get(`gpt.${name}`);
      if (!t) throw new Error(`${path.basename(onnxPath)} has no weight gpt.${name}; re-export the bundle with training/export.py.`);
      const fits = t.dims.length === dims.length && t.dims.every((n, i) => (i === 0 && name.endsWith('wpe.weight') ? n >= dims[0] : n === dims[i]));
      if (!fits) throw new Error(`${path.basename(onnxPath)}'s gpt.${name} is [${t.dims.join(', ')}], but manifest.json's model needs [${dims.join(', ')}]; re-export the bundle with training/export.py.`);
      return t.values;
    };
    // a Linear's rows rowFrom..rowFrom+nOut−1 by input, with the same rows of its bias where the model has biases
    const linear = (name: string, nIn: number, rowFrom: number, nOut: number, rows = nOut): Linear => ({
      ...byInput(arena, get(`${name}.weight`, rows, nIn), nIn, rowFrom, nOut),
      bias: shape.bias ? arena.put(get(`${name}.bias`, rows).subarray(rowFrom, rowFrom + nOut)) : 0,
    });
    const layers = Array.from({ length: shape.nLayer }, (_, L): Layer => {
      const p = `transformer.h.${L}.`;
      return {
        ln1: arena.put(get(p + 'ln_1.weight', d)),
        ln2: arena.put(get(p + 'ln_2.weight', d)),
        sinks: shape.sink ? arena.put(get(p + 'attn.sink_logit', nHead)) : 0,
        q: linear(p + 'attn.c_attn', d, 0, hd, 3 * hd), // c_attn's rows: q, k, v
        k: linear(p + 'attn.c_attn', d, hd, hd, 3 * hd),
        v: linear(p + 'attn.c_attn', d, 2 * hd, hd, 3 * hd),
        proj: linear(p + 'attn.c_proj', hd, 0, d),
        fc: linear(p + 'mlp.c_fc', d, 0, dMlp),
        mproj: linear(p + 'mlp.c_proj', dMlp, 0, d),
      };
    });
    // the table as the graph holds it (fp16 since session 9); a graph exported before the schedule turned it on has none and adds none
    const bigramName = ['bigram_table_fp16', 'bigram_table'].find((n) => tensors.has(`gpt.${n}`));
    const embeddings = {
      wte: arena.put(get('transformer.wte.weight', vocab, d)),
      wpe: shape.posEmb ? arena.put(get('transformer.wpe.weight', spec.context, d)) : 0,
      lnf: arena.put(get('transformer.ln_f.weight', d)),
      head: byRow(arena, get(shape.tied ? 'transformer.wte.weight' : 'lm_head.weight', vocab, d), vocab, d),
      logitsBias: shape.logitsBias ? arena.put(get('final_logits_bias', vocab)) : 0,
      bigram: shape.bigram && bigramName ? arena.put(get(bigramName, vocab, vocab)) : 0,
    };
    return new WasmForward(kernels, arena, shape, spec, layers, embeddings);
  }

  /**
   * One forward pass of RunInput's meaning (./ortSession), for one mask row and no tail; a cone stops after
   * its location and returns the watched nodes alone.
   */
  run({ ids, B, T, mask, fill, maskRows = 1, watch, scoreFrom, readIds, cone, tail, needed }: RunInput): RunOutput {
    if (maskRows !== 1 || tail !== undefined) throw new Error('the WebAssembly forward runs one mask row and no tail');
    if (T > this.spec.context) throw new Error(`run: ${T} tokens are more than the model's context of ${this.spec.context}`);
    const P = T - scoreFrom;
    const R = readIds.length;
    const K = watch.length;
    this.ensureReads(R, K);
    this.setAblation(mask, fill);
    const pairs = this.watchPairs(watch);
    const mem = this.f32();
    const i32 = new Int32Array(this.kernels.memory.buffer);
    for (let r = 0; r < R; r++) i32[this.buf.read / 4 + r] = Number(readIds[r]);
    const watched = new Float32Array(B * P * K);
    const logits = cone === undefined ? new Float32Array(B * P * R) : new Float32Array(0);
    const next: NextOutput | undefined = cone === undefined ? { lse: new Float64Array(B * P), values: new Float32Array(B * P * FORWARD_TOP_K), ids: new BigInt64Array(B * P * FORWARD_TOP_K), k: FORWARD_TOP_K } : undefined;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) i32[this.buf.ids / 4 + t] = Number(ids[b * T + t]);
      if (K) mem.fill(0, this.buf.watched / 4, this.buf.watched / 4 + P * K); // nodes outside every location read 0
      const { count: Q, last } = this.positions(P, scoreFrom, cone === undefined ? undefined : needed?.subarray(b * P, (b + 1) * P));
      // the model is causal: nothing after the last position read enters its numbers
      const finished = Q === 0 ? -1 : this.layersOf(last + 1, scoreFrom, Q, pairs, K, cone);
      watched.set(new Float32Array(this.kernels.memory.buffer, this.buf.watched, P * K), b * P * K);
      if (!next) continue;
      this.head(finished, T, scoreFrom, R);
      logits.set(new Float32Array(this.kernels.memory.buffer, this.buf.logits, P * R), b * P * R);
      next.lse.set(new Float64Array(this.kernels.memory.buffer, this.buf.lse, P), b * P);
      next.values.set(new Float32Array(this.kernels.memory.buffer, this.buf.topv, P * FORWARD_TOP_K), b * P * FORWARD_TOP_K);
      const cols = new Int32Array(this.kernels.memory.buffer, this.buf.topc, P * FORWARD_TOP_K);
      cols.forEach((c, j) => (next.ids[b * P * FORWARD_TOP_K + j] = c < 0 ? -1n : readIds[c]));
    }
    return next ? { logits, watched, next } : { logits, watched };
  }

  /** Room for R read ids and K watched nodes at up to `context` positions (grown, never shrunk). */
  private ensureReads(R: number, K: number): void {
    const T = this.spec.context;
    if (R > this.readCap) {
      this.readCap = R;
      this.buf.read = this.arena.alloc(4 * R);
      for (const s of [this.own, this.second?.scratch]) if (s) s.readBlock = this.arena.alloc(32 * R);
      this.buf.logits = this.arena.alloc(4 * T * R);
    }
    if (K > this.watchCap) {
      this.watchCap = K;
      this.buf.watched = this.arena.alloc(4 * T * K);
      this.buf.pairs = this.arena.alloc(8 * K);
    }
  }

  /** mask and term = fill·(1 − mask) into the kernels' memory, as the graph computes it (float32). */
  private setAblation(mask: Float32Array, fill: Float32Array): void {
    const mem = this.f32();
    const m0 = this.buf.mask / 4;
    const t0 = this.buf.term / 4;
    this.ablated = new Set();
    for (const e of this.spec.layout) {
      for (let j = e.offset; j < e.offset + e.length; j++) {
        mem[m0 + j] = mask[j];
        mem[t0 + j] = Math.fround(fill[j] * Math.fround(1 - mask[j]));
        if (mask[j] !== 1) this.ablated.add(e.name);
      }
    }
  }

  /** Per location, the (column, output slot) pairs of the watched nodes it holds, written to the kernels' memory. */
  private watchPairs(watch: readonly number[]): Map<string, { at: number; count: number }> {
    const i32 = new Int32Array(this.kernels.memory.buffer);
    const byLocation = new Map<string, [number, number][]>();
    for (const e of this.spec.layout) byLocation.set(e.name, []);
    watch.forEach((flat, slot) => {
      const e = this.spec.layout.find((l) => flat >= l.offset && flat < l.offset + l.length);
      if (e) byLocation.get(e.name)?.push([flat - e.offset, slot]);
    });
    const out = new Map<string, { at: number; count: number }>();
    let next = this.buf.pairs;
    for (const [name, list] of byLocation) {
      if (!list.length) continue;
      out.set(name, { at: next, count: list.length });
      list.forEach(([col, slot], i) => {
        i32[next / 4 + 2 * i] = col;
        i32[next / 4 + 2 * i + 1] = slot;
      });
      next += 8 * list.length;
    }
    return out;
  }

  /**
   * The sequence positions the last layer computes past its keys and values, into buf.pos (ascending) and
   * their rows in the watched output into buf.posOut; returns how many and the last (−1 when none).
   * Every scored position, or with `needed` (RunInput.needed, a cone's run) those it marks: nothing at a
   * position reads another position's later layers, so each one's numbers are the same bits either way.
   */
  private positions(P: number, scoreFrom: number, needed: Uint8Array | undefined): { count: number; last: number } {
    const i32 = new Int32Array(this.kernels.memory.buffer);
    let count = 0;
    let last = -1;
    for (let p = 0; p < P; p++) {
      if (needed && !needed[p]) continue;
      last = scoreFrom + p;
      i32[this.buf.pos / 4 + count] = last;
      i32[this.buf.posOut / 4 + count++] = p;
    }
    return { count, last };
  }

  /**
   * The layers over the first T ids in buf.ids, up to the cone's layer (or all); the last computes its keys and
   * values at every position and the rest at the Q positions of buf.pos only. Returns the byte offset of
   * the final residual's Q rows (or −1 after a cone).
   */
  private layersOf(T: number, scoreFrom: number, Q: number, pairs: Map<string, { at: number; count: number }>, watchCount: number, cone: string | undefined): number {
    const K = this.kernels;
    const { d, nHead, dHead, dMlp, nLayer, sink } = this.shape;
    const hd = nHead * dHead;
    const P = T - scoreFrom;
    const b = this.buf;
    const last = cone === undefined ? nLayer - 1 : Number(cone.split('.')[0]);
    // AbsTopK, the node ablation and the watched nodes at one node location, over all T positions or (`some`)
    // the Q of buf.pos; true when a cone ends there
    const node = (name: string, site: Site, ptr: number, n: number, some = false): boolean => {
      const rows = some ? Q : T;
      const k = this.shape.afrac === null ? n : Math.max(1, Math.floor(n * this.shape.afrac));
      if (this.shape.topkSites.has(site) && k < n) this.split('absTopK', rows, 1, rows * n, (r0, r1, s) => [ptr + 4 * r0 * n, r1 - r0, n, k, s.scratch]);
      const loc = this.offsets.get(name) as LayoutEntry;
      if (this.ablated.has(name)) K.maskFill(ptr, rows, n, b.mask + 4 * loc.offset, b.term + 4 * loc.offset);
      const w = pairs.get(name);
      if (w && some) K.gatherWatched(ptr, n, b.iota, b.posOut, Q, w.at, w.count, b.watched, watchCount);
      else if (w) K.gatherWatched(ptr, n, b.iota + 4 * scoreFrom, b.iota, P, w.at, w.count, b.watched, watchCount);
      return name === cone;
    };
    // y [rows, nOut] = x [rows, nIn] · Wᵀ (+ bias)
    const product = (xIn: number, rows: number, nIn: number, y: number, nOut: number, w: Linear): void => {
      this.split('spmm', rows, 1, rows * Math.max(nIn, nOut), (r0, r1, s) => [xIn + 4 * r0 * nIn, r1 - r0, nIn, y + 4 * r0 * nOut, nOut, w.start, w.index, w.vals, s.xt, s.yt]);
      if (w.bias) this.split('addBias', rows, 1, rows * nOut, (r0, r1) => [y + 4 * r0 * nOut, r1 - r0, nOut, w.bias]);
    };
    // out [rows, d] = RMSNorm(x) · gain
    const norm = (xIn: number, out: number, rows: number, gain: number): void => this.split('rmsNorm', rows, 1, rows * d, (r0, r1) => [xIn + 4 * r0 * d, out + 4 * r0 * d, r1 - r0, d, gain, RMS_EPS]);
    K.embed(b.ids, T, d, this.embeddings.wte, this.embeddings.wpe, b.x);
    const x = b.x;
    for (let L = 0; L <= last; L++) {
      const ly = this.layers[L];
      const some = L === last;
      const rows = some ? Q : T;
      const pos = some ? b.pos : b.iota;
      norm(x, b.a, T, ly.ln1);
      if (node(`${L}.attn.act_in`, 'attn.act_in', b.a, d)) return -1;
      if (some) K.gatherRows(b.a, d, pos, Q, b.aq);
      product(some ? b.aq : b.a, rows, d, b.q, hd, ly.q);
      if (node(`${L}.attn.q`, 'attn.q', b.q, hd, some)) return -1;
      product(b.a, T, d, b.k, hd, ly.k);
      if (node(`${L}.attn.k`, 'attn.k', b.k, hd)) return -1;
      product(b.a, T, d, b.v, hd, ly.v);
      if (node(`${L}.attn.v`, 'attn.v', b.v, hd)) return -1;
      // the work: the query–key pairs (about half of rows × T) of every head
      this.split('attention', nHead, 1, (rows * T * nHead) / 2, (h0, h1, s) => [b.q, b.k, b.v, b.y, rows, pos, nHead, dHead, 1 / Math.sqrt(dHead), ly.sinks, sink ? 1 : 0, s.kt, s.vt, s.s, h0, h1]);
      product(b.y, rows, hd, b.delta, d, ly.proj);
      if (node(`${L}.attn.resid_delta`, 'attn.resid_delta', b.delta, d, some)) return -1;
      if (some) K.gatherRows(x, d, pos, Q, x);
      K.addInto(x, b.delta, rows * d);
      norm(x, b.a, rows, ly.ln2);
      if (node(`${L}.mlp.act_in`, 'mlp.act_in', b.a, d, some)) return -1;
      product(b.a, rows, d, b.h, dMlp, ly.fc);
      if (this.shape.relu) K.relu(b.h, rows * dMlp);
      else this.split('gelu', rows * dMlp, 8, rows * dMlp, (i0, i1) => [b.h + 4 * i0, i1 - i0]); // in eights: each part a multiple of 4
      if (node(`${L}.mlp.post_act`, 'mlp.post_act', b.h, dMlp, some)) return -1;
      product(b.h, rows, dMlp, b.delta, d, ly.mproj);
      if (node(`${L}.mlp.resid_delta`, 'mlp.resid_delta', b.delta, d, some)) return -1;
      K.addInto(x, b.delta, rows * d);
    }
    return x;
  }

  /** The final norm, the logits of the read ids (bigram table included) and the next-token outputs at the P scored positions. */
  private head(x: number, T: number, scoreFrom: number, R: number): void {
    const K = this.kernels;
    const b = this.buf;
    const { d, vocab } = this.shape;
    const P = T - scoreFrom;
    const e = this.embeddings;
    this.split('rmsNorm', P, 1, P * d, (p0, p1) => [x + 4 * p0 * d, b.a + 4 * p0 * d, p1 - p0, d, e.lnf, RMS_EPS]);
    new Int32Array(K.memory.buffer).copyWithin(b.toks / 4, b.ids / 4 + scoreFrom, b.ids / 4 + T); // the token at each scored position
    this.split('readLogits', P, 1, P * R, (p0, p1, s) => [b.a + 4 * p0 * d, p1 - p0, d, b.read, R, e.head.start, e.head.index, e.head.vals, b.toks + 4 * p0, e.logitsBias, e.bigram, vocab, b.logits + 4 * p0 * R, s.xt, s.readBlock]);
    this.split('logSumExp', P, 1, P * R, (p0, p1, s) => [b.logits + 4 * p0 * R, p1 - p0, R, b.lse + 8 * p0, s.scratch]);
    this.split('topValues', P, 1, P * R, (p0, p1) => [b.logits + 4 * p0 * R, p1 - p0, R, FORWARD_TOP_K, b.topv + 4 * p0 * FORWARD_TOP_K, b.topc + 4 * p0 * FORWARD_TOP_K]);
  }
}

/** Rows rowFrom..rowFrom+nOut−1 of W [·, nIn] (a Linear's weight, y = x·Wᵀ) by input: for input i, its nonzero (output·16, weight) pairs. */
function byInput(arena: Arena, w: Float32Array, nIn: number, rowFrom: number, nOut: number): Sparse {
  const start = new Int32Array(nIn + 1);
  for (let j = 0; j < nOut; j++) for (let i = 0; i < nIn; i++) if (w[(rowFrom + j) * nIn + i] !== 0) start[i + 1]++;
  for (let i = 0; i < nIn; i++) start[i + 1] += start[i];
  const index = new Uint32Array(start[nIn]);
  const vals = new Float32Array(start[nIn]);
  const next = start.slice(0, nIn);
  for (let j = 0; j < nOut; j++) {
    for (let i = 0; i < nIn; i++) {
      const v = w[(rowFrom + j) * nIn + i];
      if (v === 0) continue;
      index[next[i]] = j * 32; // byte offset of output j's eight lanes in the kernel's [nOut][8] block
      vals[next[i]++] = v;
    }
  }
  return { start: arena.put(start), index: arena.put(index), vals: arena.put(vals) };
}

/** W [rows, cols] by row: for row r, its nonzero (column·32, weight) pairs. */
function byRow(arena: Arena, w: Float32Array, rows: number, cols: number): Sparse {
  const start = new Int32Array(rows + 1);
  const index: number[] = [];
  const vals: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (w[r * cols + c] === 0) continue;
      index.push(c * 32); // byte offset of column c's eight lanes in the kernel's [cols][8] block
      vals.push(w[r * cols + c]);
    }
    start[r + 1] = index.length;
  }
  return { start: arena.put(start), index: arena.put(Uint32Array.from(index)), vals: arena.put(Float32Array.from(vals)) };
}
