// One onnxruntime-node session of the bundle's graph (docs/bundle-format.md, "model.onnx"), run in
// the thread that creates it. ./runner keeps these in worker threads; this module is what runs there.
//
// Provider choice: onnxruntime does not fall back by itself — InferenceSession.create throws when
// the CUDA provider's libraries cannot load. So `auto` and `cuda` both try ['cuda'] once, and on
// that error retry with ['cpu'] and report why in a one-time notice; an explicit `cuda` on a
// machine without it is a notice too, never an error loop. onnxruntime-node is required lazily so
// that loading the core (tokenizer, bundle checks) never pulls in the native binding.
import * as fs from 'fs';
import type * as Ort from 'onnxruntime-node';
import * as path from 'path';
import { errorMessage } from './errors';

export type ProviderChoice = 'auto' | 'cuda' | 'cpu';

/** One forward pass over a batch of B rows of T tokens. */
export interface RunInput {
  /** Token ids [B·T], row-major. */
  readonly ids: BigInt64Array;
  readonly B: number;
  readonly T: number;
  /**
   * The ablation [M·N], M rows of N: x ← mask·x + (1 − mask)·fill at every node. One row applies to
   * every batch row; M = B rows give batch row b the ablation of row b; B = 1 runs the one row of
   * tokens under each of the M ablations (outputs then have M rows). M > 1 needs a graph with mask rows
   * (manifest "mask_rows", training/export.py).
   */
  readonly mask: Float32Array;
  readonly fill: Float32Array;
  /** M, the mask rows in mask and fill (default 1). */
  readonly maskRows?: number;
  /** Flat indices of the nodes whose activations to return [K]. */
  readonly watch: readonly number[];
  /** Outputs cover positions scoreFrom..T−1 only (P = T − scoreFrom): the rest is left context. */
  readonly scoreFrom: number;
  /** Vocabulary entries whose logits to return [R]: all V for next-token lists, a few for a class readout. */
  readonly readIds: BigInt64Array;
  /**
   * Run the bundle's cone that ends at this node location (./cone) instead of the whole model: the
   * watched nodes only, no logits (RunOutput.logits is empty). Every watched node must lie in the cone.
   */
  readonly cone?: string;
  /**
   * With a cone: per batch row, which scored positions' watched nodes the caller reads [B·P] (1: read).
   * A runner may compute the cone's last layer past its keys and values at those positions only (our
   * kernels do; onnxruntime computes all), so the others' values mean nothing.
   */
  readonly needed?: Uint8Array;
  /**
   * Run the bundle's tail from this node location (./tails) instead of the whole model: every mask row must
   * equal row 0 on the nodes before it, nothing is watched, and the logits lack the bigram table's term.
   */
  readonly tail?: string;
}

export interface RunOutput {
  /** Logits of the read ids at the scored positions [max(B, M), P, R], row-major (empty from a cone). */
  readonly logits: Float32Array;
  /** Activations of the watched nodes (after AbsTopK and ablation) [max(B, M), P, K], row-major. */
  readonly watched: Float32Array;
  /** From a model.onnx that ranks next tokens itself (NEXT_OUTPUTS; absent from older and imported graphs, cones and tails). */
  readonly next?: NextOutput;
}

/** What next-token lists need, computed over the read logits inside the graph (docs/bundle-format.md, "model.onnx"). */
export interface NextOutput {
  /** log Σ exp over the R read logits, in float64 [max(B, M), P]. */
  readonly lse: Float64Array;
  /** The k largest read logits, largest first, equal ones in read order [max(B, M), P, k]; -Infinity past R. */
  readonly values: Float32Array;
  /** Their vocabulary ids [max(B, M), P, k]; -1 past R. */
  readonly ids: BigInt64Array;
  /** Entries ranked per position: the graph's NEXT_TOP_K. */
  readonly k: number;
}

export interface SessionOptions {
  readonly provider?: ProviderChoice;
  /** Threads for one op (onnxruntime's intra-op pool). */
  readonly threads: number;
  /**
   * Whether idle pool threads spin. Right when the session has its cores to itself; where several
   * sessions share the cores, spinning threads steal them from the session that has work.
   */
  readonly spinning: boolean;
}

/** The graph's interface, in order, as the exporter writes it. */
export const ONNX_INPUTS = ['input_ids', 'node_mask', 'node_fill', 'watch', 'score_from', 'read_ids'] as const;
export const ONNX_OUTPUTS = ['logits', 'watched'] as const;
/** Outputs model.onnx has after ONNX_OUTPUTS when it was exported with them (training/export.py NextTokenInterface). */
export const NEXT_OUTPUTS = ['logsumexp', 'top_values', 'top_ids'] as const;
/** A cone's interface (training/export.py ConeInterface): no read ids in, the watched nodes alone out. */
export const CONE_INPUTS = ONNX_INPUTS.slice(0, 5);
export const CONE_OUTPUTS = ['watched'] as const;
/** A tail's interface (training/export.py TailInterface): no watched nodes in or out. */
export const TAIL_INPUTS = ['input_ids', 'node_mask', 'node_fill', 'score_from', 'read_ids'] as const;
export const TAIL_OUTPUTS = ['logits'] as const;

/** Which of the bundle's graphs a session runs: model.onnx, a cone (./cone) or a tail (./tails). */
export type GraphKind = 'model' | 'cone' | 'tail';

const INTERFACES: Readonly<Record<GraphKind, readonly [readonly string[], readonly string[]]>> = {
  model: [ONNX_INPUTS, ONNX_OUTPUTS],
  cone: [CONE_INPUTS, CONE_OUTPUTS],
  tail: [TAIL_INPUTS, TAIL_OUTPUTS],
};

/**
 * Why onnxruntime-node cannot have CUDA here, as the notice a CUDA fallback gives, or undefined when its CUDA
 * provider library is installed (then only loading it tells). The library sits beside the binding, where
 * `npm run install:cuda` (onnxruntime-node's installer) puts it; macOS builds have none.
 */
export function missingCuda(): string | undefined {
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  if (process.platform !== 'darwin') {
    try {
      const dir = path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
      if (fs.existsSync(path.join(dir, lib))) return undefined;
    } catch {
      // onnxruntime-node itself is missing: loading it will say so
    }
  }
  return `CUDA is not available (onnxruntime-node has no ${lib}; npm run install:cuda adds it); running on the CPU.`;
}

export class RunnerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunnerError';
  }
}

let ortModule: typeof Ort | undefined;
function loadOrt(): typeof Ort {
  if (!ortModule) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ortModule = require('onnxruntime-node') as typeof Ort;
    // Errors reach the user as one sentence (a thrown RunnerError or the CUDA notice); onnxruntime's
    // own multi-line log of the same failure would only clutter stderr. It reads the level once, when
    // the process's first session starts, so it is set before any session, whatever the provider.
    ortModule.env.logLevel = 'fatal';
  }
  return ortModule;
}

export function firstLine(e: unknown): string {
  return errorMessage(e).split('\n')[0].trim().slice(0, 200);
}

/** Checks a run's shapes before it is queued: a bad one is rejected without reaching onnxruntime. */
export function checkRunInput({ ids, B, T, mask, fill, maskRows = 1, watch, scoreFrom, readIds, cone, tail, needed }: RunInput): void {
  if (!(B >= 1 && T >= 1 && ids.length === B * T)) throw new RunnerError(`run: ${ids.length} ids do not make a [${B}, ${T}] batch`);
  if (mask.length !== fill.length) throw new RunnerError(`run: node_mask has ${mask.length} values but node_fill ${fill.length}`);
  if (!(Number.isInteger(maskRows) && maskRows >= 1 && mask.length % maskRows === 0)) throw new RunnerError(`run: ${mask.length} mask values do not make ${maskRows} rows`);
  if (maskRows > 1 && B > 1 && maskRows !== B) throw new RunnerError(`run: ${maskRows} mask rows for ${B} batch rows (give 1, ${B}, or one batch row)`);
  if (!(Number.isInteger(scoreFrom) && scoreFrom >= 0 && scoreFrom < T)) throw new RunnerError(`run: scoreFrom ${scoreFrom} is not a position of a ${T}-token row`);
  if (readIds.length === 0) throw new RunnerError('run: no vocabulary entries to read');
  if (tail !== undefined && (cone !== undefined || watch.length > 0 || B > 1)) throw new RunnerError('run: a tail runs one row of tokens, watches nothing and is no cone');
  if (needed && (cone === undefined || maskRows > 1 || needed.length !== B * (T - scoreFrom))) throw new RunnerError(`run: the positions to read (${needed.length}) need a cone's run of one mask row and B·P = ${B * (T - scoreFrom)} of them`);
}

export class ModelSession {
  private constructor(
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
    /** The provider in use. */
    readonly provider: 'cuda' | 'cpu',
    /** Why CUDA is not in use although it was asked for (auto or cuda); shown once. */
    readonly notice: string | undefined,
    /** Time to create the session, ms. */
    readonly loadMs: number,
    /** Whether the graph takes mask rows [M, N] (else one mask [N], a bundle exported before them). */
    readonly maskRows: boolean,
    /** Which graph: a cone's takes no read ids and gives no logits, a tail's takes no watch and gives no watched nodes. */
    private readonly kind: GraphKind,
    /** The next tokens the graph ranks per position (RunOutput.next), 0 for a graph without NEXT_OUTPUTS. */
    readonly nextTopK: number,
  ) {}

  /** A session of the full graph, a cone graph (./cone) or a tail graph (./tails). */
  static async create(onnxPath: string, options: SessionOptions, kind: GraphKind = 'model'): Promise<ModelSession> {
    const started = performance.now();
    const ort = loadOrt();
    const choice = options.provider ?? 'auto';
    const base: Ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: Math.max(1, options.threads),
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      // A memory pattern is planned and kept per input shape, and windows come in many lengths: with
      // it the CLI on a 10 MB file held 389–421 MB, without it 373–392, at the same speed per window
      // (docs/BENCHMARKS.md, "Session 11: the CLI's memory").
      enableMemPattern: false,
      extra: { session: { intra_op: { allow_spinning: options.spinning ? '1' : '0' } } },
    };
    let session: Ort.InferenceSession | undefined;
    let notice: string | undefined;
    let provider: 'cuda' | 'cpu' = 'cpu';
    if (choice !== 'cpu') {
      try {
        session = await ort.InferenceSession.create(onnxPath, { ...base, executionProviders: ['cuda'] });
        provider = 'cuda';
      } catch (e) {
        notice = `CUDA is not available (${firstLine(e)}); running on the CPU.`;
      }
    }
    if (!session) {
      try {
        session = await ort.InferenceSession.create(onnxPath, { ...base, executionProviders: ['cpu'] });
      } catch (e) {
        throw new RunnerError(`${onnxPath} could not be loaded by onnxruntime (${firstLine(e)}); re-export the bundle with training/export.py.`);
      }
    }
    const s = session;
    const same = (got: readonly string[], want: readonly string[]) => got.length === want.length && want.every((n, i) => got[i] === n);
    const [inputs, outputs] = INTERFACES[kind];
    const ranks = kind === 'model' && same(s.outputNames, [...outputs, ...NEXT_OUTPUTS]);
    if (!same(s.inputNames, inputs) || !(ranks || same(s.outputNames, outputs))) {
      await s.release();
      throw new RunnerError(`${onnxPath} has the interface (${s.inputNames.join(', ')}) → (${s.outputNames.join(', ')}) but Circuit Inspector needs (${inputs.join(', ')}) → (${outputs.join(', ')}); re-export the bundle with training/export.py.`);
    }
    // the graph's own shape of node_mask says which interface it has: [M, N] or, exported before mask rows, [N]
    const maskInput = s.inputMetadata[ONNX_INPUTS.indexOf('node_mask')];
    const maskRows = maskInput.isTensor && maskInput.shape.length === 2;
    const top = s.outputMetadata[ONNX_OUTPUTS.length + NEXT_OUTPUTS.indexOf('top_values')];
    const nextTopK = ranks && top.isTensor && typeof top.shape[2] === 'number' ? top.shape[2] : 0;
    return new ModelSession(ort, s, provider, notice, performance.now() - started, maskRows, kind, nextTopK);
  }

  /** One forward pass (the caller serialises: onnxruntime-node's run holds this thread throughout). */
  async run({ ids, B, T, mask, fill, maskRows = 1, watch, scoreFrom, readIds }: RunInput): Promise<RunOutput> {
    const { Tensor } = this.ort;
    if (maskRows > 1 && !this.maskRows) throw new RunnerError('this bundle\'s graph takes one ablation per run; re-export it with training/export.py for several');
    const dims = this.maskRows ? [maskRows, mask.length / maskRows] : [mask.length];
    // the graph needs K ≥ 1: with nothing to watch, watch node 0 and drop it again
    const w = BigInt64Array.from((watch.length ? watch : [0]).map((i) => BigInt(i)));
    const out = await this.session.run({
      input_ids: new Tensor('int64', ids, [B, T]),
      node_mask: new Tensor('float32', mask, dims),
      node_fill: new Tensor('float32', fill, dims),
      ...(this.kind === 'tail' ? {} : { watch: new Tensor('int64', w, [w.length]) }),
      score_from: new Tensor('int64', BigInt64Array.of(BigInt(scoreFrom)), [1]),
      ...(this.kind === 'cone' ? {} : { read_ids: new Tensor('int64', readIds, [readIds.length]) }),
    });
    const logits = this.kind === 'cone' ? new Float32Array(0) : (out.logits.data as Float32Array);
    const watched = watch.length && this.kind !== 'tail' ? (out.watched.data as Float32Array) : new Float32Array(0);
    if (!this.nextTopK) return { logits, watched };
    const next = { lse: out.logsumexp.data as Float64Array, values: out.top_values.data as Float32Array, ids: out.top_ids.data as BigInt64Array, k: this.nextTopK };
    return { logits, watched, next };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
