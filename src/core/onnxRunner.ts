// Runs the bundle's ONNX graph with onnxruntime-node. Provider choice: onnxruntime throws (rather
// than falling back) when the CUDA provider cannot load, so `auto` and `cuda` try CUDA, catch, and
// retry on the CPU, reporting why in a one-time notice.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type * as Ort from 'onnxruntime-node';

export type ProviderChoice = 'auto' | 'cuda' | 'cpu';

export interface RunOutput {
  /** [B, T, V] */
  readonly logits: Float32Array;
  /** [B, T, K] */
  readonly watched: Float32Array;
}

const INPUTS = ['input_ids', 'node_mask', 'node_fill', 'watch'];
const OUTPUTS = ['logits', 'watched'];

export class OnnxRunner {
  private constructor(
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
    /** The provider actually in use. */
    readonly provider: 'cuda' | 'cpu',
    /** Why the requested provider is not in use, when it is not. */
    readonly notice: string | undefined,
    readonly loadMs: number,
  ) {}

  static async open(onnxPath: string, choice: ProviderChoice): Promise<OnnxRunner> {
    const started = performance.now();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ort = require('onnxruntime-node') as typeof Ort;
    const base: Ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: Math.max(1, Math.min(os.cpus().length, 4)),
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    };
    let session: Ort.InferenceSession | undefined;
    let notice: string | undefined;
    let provider: 'cuda' | 'cpu' = 'cpu';
    if (choice === 'auto' && !cudaProviderInstalled()) {
      // Asking for CUDA without its provider library only produces a load error (and a noisy log).
      notice = 'onnxruntime\'s CUDA provider is not installed (see the README, "GPU"); running on the CPU.';
    } else if (choice !== 'cpu') {
      try {
        session = await ort.InferenceSession.create(onnxPath, { ...base, executionProviders: ['cuda'] });
        provider = 'cuda';
      } catch (e) {
        const why = (e instanceof Error ? e.message : String(e)).split('\n')[0];
        notice = `CUDA is not available (${why.slice(0, 160)}); running on the CPU.`;
      }
    }
    session ??= await ort.InferenceSession.create(onnxPath, { ...base, executionProviders: ['cpu'] });
    if (INPUTS.some((n, i) => session.inputNames[i] !== n) || OUTPUTS.some((n, i) => session.outputNames[i] !== n)) {
      const got = `${session.inputNames.join(', ')} → ${session.outputNames.join(', ')}`;
      await session.release();
      throw new Error(`${onnxPath}: the graph's interface is ${got}, expected ${INPUTS.join(', ')} → ${OUTPUTS.join(', ')}. Re-export the bundle with training/export.py.`);
    }
    return new OnnxRunner(ort, session, provider, provider === 'cuda' ? undefined : notice, performance.now() - started);
  }

  /** ids [B*T] (row-major), mask and fill [N], watch [K ≥ 1] flat node indices. */
  async run(ids: BigInt64Array, B: number, T: number, mask: Float32Array, fill: Float32Array, watch: readonly number[]): Promise<RunOutput> {
    const { Tensor } = this.ort;
    const w = BigInt64Array.from((watch.length ? watch : [0]).map((i) => BigInt(i)));
    const out = await this.session.run({
      input_ids: new Tensor('int64', ids, [B, T]),
      node_mask: new Tensor('float32', mask, [mask.length]),
      node_fill: new Tensor('float32', fill, [fill.length]),
      watch: new Tensor('int64', w, [w.length]),
    });
    return { logits: out.logits.data as Float32Array, watched: out.watched.data as Float32Array };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** Whether onnxruntime-node's CUDA provider library sits next to its runtime, where ORT looks for it. */
export function cudaProviderInstalled(): boolean {
  try {
    const root = path.dirname(require.resolve('onnxruntime-node/package.json'));
    return fs.existsSync(path.join(root, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}
