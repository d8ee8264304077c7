// The sparsity limit of the benchmark (docs/BENCHMARKS.md, "The limit"): for a forward pass of the
// shipped graph, the multiply-adds it does densely, and the multiply-adds a perfect sparse kernel
// would need — the nonzero weights times the activations AbsTopK keeps — and the time the latter
// would take at this machine's measured dense throughput. Nonzero counts are read from the bundle's
// model.onnx each time, so they follow whatever model is shipped.
import * as fs from 'fs';
import * as os from 'os';
import type { Bundle } from './core/bundle';
import type { RunInput } from './core/runner';
import { matMulModel, readWeights, type Weight } from './core/onnxProto';

/** Multiply-adds of some forward passes. */
export interface MacCount {
  /** What the exported graph computes (dense MatMuls, the full attention square). */
  readonly dense: number;
  /** Nonzero weights × kept input activations, attention over the causal half at the kept q and v entries. */
  readonly nonzero: number;
}

/** The sizes the counts need, from manifest.json's model. */
interface Shape {
  readonly d: number;
  /** Query (and key, value) width: n_head · d_head. */
  readonly hd: number;
  readonly dm: number;
  /** AbsTopK's kept fraction (none: everything kept). */
  readonly afrac: number | undefined;
  /** The node locations AbsTopK applies at (manifest model.topk_sites; absent: all of them). */
  readonly sites: ReadonlySet<string> | undefined;
}

interface Layer {
  /** Nonzero weights of c_attn's query rows, and of its key and value rows. */
  readonly q: number;
  readonly kv: number;
  readonly attnProj: number;
  readonly fc: number;
  readonly mlpProj: number;
}

/** The fraction of a node location of this width that AbsTopK keeps (training/model.py k_for). */
function kept(width: number, { afrac, sites }: Shape, site: string): number {
  return afrac && (!sites || sites.has(site)) ? Math.max(1, Math.floor(width * afrac)) / width : 1;
}

const sum = (xs: Int32Array, from: number, to: number): number => xs.subarray(from, to).reduce((a, b) => a + b, 0);

/**
 * The multiply-adds of runs of one bundle's graph. The graph (training/export.py) runs every layer
 * at all T positions except the last, which computes queries, attention output and MLP only at
 * the P = T − score_from scored positions (keys and values at all T), and the unembedding only at
 * those positions and for the R read ids; embeddings and the bigram table are gathers.
 */
export class ForwardCost {
  private constructor(
    private readonly shape: Shape,
    private readonly layers: readonly Layer[],
    /** Nonzero weights per vocabulary row of the unembedding [V]. */
    private readonly unembedRows: Int32Array,
  ) {}

  /** The bundle's weights, or why they cannot be read (a graph without the expected initializers). */
  static fromBundle(bundle: Bundle): ForwardCost | string {
    const m = bundle.model;
    const num = (k: string) => (typeof m[k] === 'number' ? (m[k] as number) : NaN);
    const hd = num('n_head') * num('d_head');
    const sites = Array.isArray(m.topk_sites) ? new Set(m.topk_sites.map(String)) : undefined;
    const shape: Shape = { d: m.d_model, hd, dm: num('d_mlp'), afrac: typeof m.afrac === 'number' ? m.afrac : undefined, sites };
    if (!(hd > 0 && shape.dm > 0)) return 'manifest.json gives no n_head, d_head and d_mlp';
    const weights = readWeights(fs.readFileSync(bundle.onnxPath));
    const missing: string[] = [];
    const get = (...names: string[]): Weight => {
      const w = names.map((n) => weights.get(n)).find((x) => x);
      if (!w) missing.push(names[0]);
      return w ?? { dims: [], nonzero: 0, rowNonzero: new Int32Array(0) };
    };
    const layers = Array.from({ length: m.n_layer }, (_, l) => {
      const p = `gpt.transformer.h.${l}`;
      const attn = get(`${p}.attn.c_attn.weight`); // [3·hd, d]: q, k, v rows
      return { q: sum(attn.rowNonzero, 0, hd), kv: sum(attn.rowNonzero, hd, 3 * hd), attnProj: get(`${p}.attn.c_proj.weight`).nonzero, fc: get(`${p}.mlp.c_fc.weight`).nonzero, mlpProj: get(`${p}.mlp.c_proj.weight`).nonzero };
    });
    const unembed = get('gpt.lm_head.weight', 'gpt.transformer.wte.weight'); // tied: the embedding's rows
    if (missing.length) return `${bundle.onnxPath} has no initializer ${missing.slice(0, 3).join(', ')}`;
    return new ForwardCost(shape, layers, unembed.rowNonzero);
  }

  /**
   * Multiply-adds of one run: B rows of T tokens, outputs from score_from on, R read ids. A run of a
   * cone (RunInput.cone, training/export.py ConeInterface) stops after that node location: its layer
   * is the one scored at P positions, its MLP counts only if the cone reaches the MLP's neurons
   * (c_fc) or its write (c_proj), and there is no unembedding.
   */
  ofRun({ B, T, scoreFrom, readIds, cone }: Pick<RunInput, 'B' | 'T' | 'scoreFrom' | 'readIds' | 'cone'>): MacCount {
    const { d, hd, dm } = this.shape;
    const P = T - scoreFrom;
    const keep = (width: number, site: string) => kept(width, this.shape, site);
    const [keepAttnIn, keepQ, keepV, keepMlpIn, keepAct] = [keep(d, 'attn.act_in'), keep(hd, 'attn.q'), keep(hd, 'attn.v'), keep(d, 'mlp.act_in'), keep(dm, 'mlp.post_act')];
    const lastLayer = cone === undefined ? this.layers.length - 1 : Number(cone.split('.')[0]);
    // in the cone's layer: whether it reaches the MLP's neurons (c_fc), and its write (c_proj)
    const [fc, proj] = cone === undefined ? [1, 1] : [Number(/\.mlp\.(post_act|resid_delta)$/.test(cone)), Number(cone.endsWith('.mlp.resid_delta'))];
    let dense = 0;
    let nonzero = 0;
    this.layers.slice(0, lastLayer + 1).forEach((w, l) => {
      const last = l === lastLayer;
      const Q = last ? P : T; // query positions
      const first = T - Q;
      const causal = (Q * (first + 1 + T)) / 2; // Σ over queries of the keys up to and including each
      const [withFc, withProj] = last ? [fc, proj] : [1, 1];
      dense += T * 2 * hd * d + Q * hd * d; // k, v at all positions; q at the query positions
      dense += 2 * Q * T * hd; // scores and mix over the full square (the causal mask is added after)
      dense += Q * (hd * d + (withFc + withProj) * d * dm); // attention projection, MLP
      nonzero += (T * w.kv + Q * w.q) * keepAttnIn; // c_attn reads attn.act_in
      nonzero += causal * hd * (keepQ + keepV); // q·k at q's kept entries, probs·v at v's kept entries
      nonzero += Q * (w.attnProj + withFc * w.fc * keepMlpIn + withProj * w.mlpProj * keepAct); // the attention mix is dense
    });
    if (cone !== undefined) return { dense: B * dense, nonzero: B * nonzero };
    dense += P * d * readIds.length;
    let unembed = 0;
    for (const id of readIds) unembed += this.unembedRows[Number(id)] ?? 0;
    nonzero += P * unembed; // the final norm's output is dense
    return { dense: B * dense, nonzero: B * nonzero };
  }
}

/**
 * This machine's dense throughput: onnxruntime's MatMul of [256, 128] by [128, 512] (an MLP's shape over a
 * window) with every core, one session warmed up once and timed on demand, so that ./benchLimit can time it
 * beside each replay of the passes it is compared with: on these machines one timing swings between ~20
 * and ~70 G multiply-adds/s from one second to the next, and a single probe at the start of a process
 * read the low end every time (docs/BENCHMARKS.md, session 34).
 */
export class DenseProbe {
  private static readonly SHAPE = [256, 128, 512] as const;
  /** Products per timing: ~5–15 ms, short beside a replay. */
  private static readonly PRODUCTS = 20;

  private constructor(
    private readonly session: import('onnxruntime-node').InferenceSession,
    private readonly feeds: Record<string, import('onnxruntime-node').Tensor>,
  ) {}

  static async open(): Promise<DenseProbe> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
    const [M, K, N] = DenseProbe.SHAPE;
    const session = await ort.InferenceSession.create(matMulModel(M, K, N), { intraOpNumThreads: os.availableParallelism(), interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    const feeds = { A: new ort.Tensor('float32', Float32Array.from({ length: M * K }, (_, i) => Math.sin(i)), [M, K]), B: new ort.Tensor('float32', Float32Array.from({ length: K * N }, (_, i) => Math.cos(i)), [K, N]) };
    const probe = new DenseProbe(session, feeds);
    await probe.measure(); // warm-up
    return probe;
  }

  /** Multiply-adds per ms over one timing of PRODUCTS products. */
  async measure(): Promise<number> {
    const [M, K, N] = DenseProbe.SHAPE;
    const started = performance.now();
    for (let i = 0; i < DenseProbe.PRODUCTS; i++) await this.session.run(this.feeds);
    return (DenseProbe.PRODUCTS * M * K * N) / (performance.now() - started);
  }

  close(): Promise<void> {
    return this.session.release();
  }
}
