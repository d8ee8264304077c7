// The worker thread behind ./runner: one ModelSession, serving runs one at a time.
//
// onnxruntime-node's run holds its calling thread for the whole pass (~13 ms for a 256-token
// window on 2 cores). Here that thread is this worker, so the editor's thread (the extension host,
// shared with every other extension) never waits on the model.
import * as os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from './errors';
import { firstLine, type GraphKind, missingCuda, ModelSession, type RunInput, type RunOutput, type SessionOptions } from './ortSession';
import { type ForwardSpec, WasmForward } from './wasmForward';

export interface WorkerSetup {
  readonly onnxPath: string;
  /** The bundle's cone graphs by the node location they end at (./cone): a session each, opened at its first run. */
  readonly cones: Readonly<Record<string, string>>;
  /** The bundle's tail graphs by the node location they start at (./tails): a session each, opened at its first run. */
  readonly tails: Readonly<Record<string, string>>;
  readonly options: SessionOptions;
  /** Run on the CPU with our own kernels (./wasmForward) what they can run: one mask row, no tail. Absent: onnxruntime runs everything. */
  readonly forward?: ForwardSpec;
  /** Int32 [1] shared by the runner's workers: how many are in a run. */
  readonly busy: SharedArrayBuffer;
}

/** What runs a worker's single-row passes: our WebAssembly kernels or onnxruntime. */
export type Kernels = 'webassembly' | 'onnxruntime';

export type ToWorker = { readonly kind: 'run'; readonly id: number; readonly input: RunInput } | { readonly kind: 'close' };

export type FromWorker =
  | { readonly kind: 'ready'; readonly provider: 'cuda' | 'cpu'; readonly kernels: Kernels; readonly kernelsWhy: string | undefined; readonly notice: string | undefined; readonly loadMs: number }
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'done'; readonly id: number; readonly output: RunOutput }
  | { readonly kind: 'error'; readonly id: number; readonly message: string };

async function serve(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('runnerWorker runs only as a worker thread');
  const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  const { onnxPath, cones, tails, options, forward, busy } = workerData as WorkerSetup;
  const inRun = new Int32Array(busy);
  const cores = os.availableParallelism();
  const started = performance.now();
  // Where there is no CUDA to try, our kernels serve first and onnxruntime's session opens only when a
  // run needs it ("Why this token?"'s batches and tails): ~35 MB and ~0.2 s a worker that the editor's
  // passes never use. Where the kernels cannot read the weights (an untrained export whose equal norm
  // weights the exporter merged into one initializer), onnxruntime runs everything.
  let ours: WasmForward | undefined;
  let kernelsWhy: string | undefined;
  const startKernels = (spec: ForwardSpec) => {
    try {
      ours = WasmForward.create(onnxPath, spec);
      // a second thread for a large model's kernel calls while there is a core for it: each worker in a run
      // has two threads' worth (on 2 cores: while the other worker is idle — the editor's first screen of one
      // window, the end of a shorter window beside a longer one, a hover)
      // (not started for a small model; where it cannot start, the runs take one thread as before)
      ours.startSecondThread({ spareCore: () => 2 * Atomics.load(inRun, 0) <= cores });
    } catch (e) {
      kernelsWhy = firstLine(e);
    }
  };
  const cudaNotice = options.provider === 'cpu' ? undefined : missingCuda();
  if (forward && (options.provider === 'cpu' || cudaNotice)) startKernels(forward);
  let opening: Promise<ModelSession> | undefined;
  const full = (): Promise<ModelSession> => (opening ??= ModelSession.create(onnxPath, { ...options, provider: ours ? 'cpu' : options.provider }));
  let provider: 'cuda' | 'cpu' = 'cpu';
  let notice = cudaNotice;
  if (!ours) {
    try {
      const session = await full();
      ({ provider, notice } = session);
      if (forward && provider === 'cpu') startKernels(forward);
    } catch (e) {
      post({ kind: 'failed', message: errorMessage(e) });
      port.close();
      return;
    }
  }
  post({ kind: 'ready', provider, kernels: ours ? 'webassembly' : 'onnxruntime', kernelsWhy, notice, loadMs: performance.now() - started });
  // a cone or tail runs on the provider the full graph got: no second CUDA attempt, no second notice
  const opened = new Map<string, Promise<ModelSession>>();
  const graphs: Readonly<Record<Exclude<GraphKind, 'model'>, { readonly files: Readonly<Record<string, string>>; readonly what: string }>> = {
    cone: { files: cones, what: 'cone up to' },
    tail: { files: tails, what: 'tail from' },
  };
  const sessionFor = ({ cone, tail }: RunInput): Promise<ModelSession> => {
    const kind = cone !== undefined ? 'cone' : tail !== undefined ? 'tail' : undefined;
    if (kind === undefined) return full();
    const at = (cone ?? tail) as string;
    const key = `${kind} ${at}`;
    let s = opened.get(key);
    if (!s) {
      const { files, what } = graphs[kind];
      if (!(at in files)) return Promise.reject(new Error(`this bundle has no ${what} ${at}`));
      s = ModelSession.create(files[at], { ...options, provider }, kind);
      opened.set(key, s);
    }
    return s;
  };
  // messages are handled in order; a run is awaited before the next message is looked at
  let chain = Promise.resolve();
  port.on('message', (m: ToWorker) => {
    chain = chain.then(async () => {
      if (m.kind === 'close') {
        const sessions = await Promise.allSettled([...(opening ? [opening] : []), ...opened.values()]);
        await Promise.all(sessions.flatMap((r) => (r.status === 'fulfilled' ? [r.value.release()] : [])));
        ours?.close();
        port.close();
        return;
      }
      Atomics.add(inRun, 0, 1);
      try {
        const output = ours && (m.input.maskRows ?? 1) === 1 && m.input.tail === undefined ? ours.run(m.input) : await (await sessionFor(m.input)).run(m.input);
        // handed over, not copied: a window's logits with next-token lists are [P, V], ~1.5 MB
        const next = output.next ? [output.next.lse.buffer, output.next.values.buffer, output.next.ids.buffer] : [];
        post({ kind: 'done', id: m.id, output }, [...new Set([output.logits.buffer, output.watched.buffer, ...next])] as ArrayBuffer[]);
      } catch (e) {
        post({ kind: 'error', id: m.id, message: firstLine(e) });
      } finally {
        Atomics.sub(inRun, 0, 1);
      }
    });
  });
}

void serve();
