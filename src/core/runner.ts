// Runs the bundle's graph in worker threads (./runnerWorker), each holding its own onnxruntime
// session (./ortSession), so that a forward pass never holds the caller's thread.
//
// On the CPU two sessions run side by side, each with min(cores, 4) threads for one op: together
// they beat one session, and a single re-run (the panel's ablation) keeps all the threads. Spinning
// is on only when the sessions' threads fit the cores, since idle threads spin on the cores the
// other session needs (figures: docs/BENCHMARKS.md, "What each optimisation bought", session 4).
// With CUDA one session runs batches of windows instead.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { type Cone, type GraphCone, kernelCones } from './cone';
import type { Tail } from './tails';
import type { FromWorker, Kernels, ToWorker, WorkerSetup } from './runnerWorker';
import { type ForwardSpec, forwardProblem } from './wasmForward';
import { checkRunInput, firstLine, type ProviderChoice, type RunInput, type RunOutput, RunnerError } from './ortSession';

export { type ProviderChoice, type RunInput, type RunOutput, RunnerError } from './ortSession';

export interface RunnerOptions {
  readonly provider?: ProviderChoice;
  /** Threads for one op in each session; default min(cores, 4) — more only adds contention on this small model. */
  readonly threads?: number;
  /** Sessions that run side by side on the CPU; default min(cores, 2). CUDA always uses one. */
  readonly workers?: number;
  /** The bundle's cone graphs (./cone bundleCones), for runs that name one (RunInput.cone). */
  readonly cones?: readonly GraphCone[];
  /** The bundle's tail graphs (./tails bundleTails), for runs that name one (RunInput.tail). */
  readonly tails?: readonly Tail[];
  /**
   * The bundle's shape, for our own WebAssembly kernels (./wasmForward), which then run on the CPU every
   * pass of one mask row and no tail (the editor's and the CLI's); onnxruntime keeps the rest ("Why this
   * token?"'s batches of ablations) and everything on CUDA. Absent, or a bundle they cannot run: onnxruntime alone.
   */
  readonly forward?: ForwardSpec;
}

// next to this file: dist/ for the bundled extension and CLI, out/src/core/ for the compiled tests
const WORKER_FILE = path.join(__dirname, 'runnerWorker.js');

interface Job {
  readonly input: RunInput;
  readonly resolve: (out: RunOutput) => void;
  readonly reject: (e: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  /** The runs posted to this worker, by id, oldest (the one it is doing) first. */
  readonly jobs: (Job & { readonly id: number })[];
  exited?: boolean;
}

/**
 * Runs posted to a worker ahead of its results: one running and one waiting in the worker, so that
 * it starts its next run as soon as one ends instead of waiting for this thread to hear of the end
 * and post the next (a busy caller — the CLI writing a window's tokens — left each worker idle a
 * quarter of the time; docs/BENCHMARKS.md, "The CLI on any input").
 */
const QUEUED_PER_WORKER = 2;

type Ready = Extract<FromWorker, { kind: 'ready' }>;

/** Starts one worker and waits until its session exists (or says why it cannot). */
function startWorker(setup: WorkerSetup): Promise<{ worker: Worker; ready: Ready }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_FILE, { workerData: setup });
    // these listeners speak for the start only; once it is settled the Runner's own ones take over
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      reject(new RunnerError(why));
    };
    worker.once('message', (m: FromWorker) => {
      if (m.kind !== 'ready') return fail(m.kind === 'failed' ? m.message : `unexpected ${m.kind} from the model worker`);
      settled = true;
      resolve({ worker, ready: m });
    });
    worker.once('error', (e) => fail(`the model worker could not start (${firstLine(e)})`));
    worker.once('exit', (code) => fail(`the model worker exited with code ${code} before its session was ready`));
  });
}

export class Runner {
  private readonly waiting: Job[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private nextId = 0;
  private disposed = false;
  /** Why runs can no longer be made (a worker died); set once. */
  private broken: string | undefined;

  private constructor(
    private readonly slots: Slot[],
    /** The cones a run may name, smallest first: the bundle's graphs (RunnerOptions.cones), and with our kernels one at every node location (./cone kernelCones); ./cone coneFor picks one for a run. */
    readonly cones: readonly Cone[],
    /** The bundle's tails, by start (RunnerOptions.tails): ./discoverRoute sends ablation rows through them. */
    readonly tails: readonly Tail[],
    /** The provider in use. */
    readonly provider: 'cuda' | 'cpu',
    /** What runs the single-row passes: our WebAssembly kernels (RunnerOptions.forward, on the CPU) or onnxruntime. */
    readonly kernels: Kernels,
    /** Why onnxruntime runs them although our kernels were offered the bundle (RunnerOptions.forward) on the CPU; for the log. */
    readonly kernelsWhy: string | undefined,
    /** Why CUDA is not in use although it was asked for (auto or cuda); shown once. */
    readonly notice: string | undefined,
    /** Time to start the workers and their sessions, ms. */
    readonly loadMs: number,
  ) {
    for (const slot of slots) {
      slot.worker.on('message', (m: FromWorker) => this.settle(slot, m));
      slot.worker.on('error', (e) => this.fail(`the model worker failed (${firstLine(e)})`));
      slot.worker.on('exit', (code) => {
        slot.exited = true;
        if (!this.disposed) this.fail(`the model worker exited with code ${code}`);
      });
    }
  }

  static async create(onnxPath: string, options: RunnerOptions = {}): Promise<Runner> {
    const started = performance.now();
    if (!fs.existsSync(WORKER_FILE)) throw new RunnerError(`${WORKER_FILE} is missing; rebuild Circuit Inspector (npm run build).`);
    const cores = os.availableParallelism();
    const threads = Math.max(1, options.threads ?? Math.min(cores, 4));
    const workers = Math.max(1, options.workers ?? Math.min(cores, 2));
    const spinning = workers * threads <= cores;
    // The first session settles the provider. Its siblings start at the same time on the CPU (the
    // case they are for), and are stopped again, unused, if the first one got CUDA.
    const graphs = options.cones ?? [];
    const cones = Object.fromEntries(graphs.map((c) => [c.upto, c.onnxPath]));
    const tails = Object.fromEntries((options.tails ?? []).map((t) => [t.from, t.onnxPath]));
    const forward = options.forward && !forwardProblem(options.forward) ? options.forward : undefined;
    // how many workers are in a run: a worker's kernels take a second thread only while a core is spare (./runnerWorker)
    const busy = new SharedArrayBuffer(4);
    const setup = (provider: ProviderChoice | undefined): WorkerSetup => ({ onnxPath, cones, tails, forward, busy, options: { provider, threads, spinning } });
    const starts = [startWorker(setup(options.provider)), ...Array.from({ length: workers - 1 }, () => startWorker(setup('cpu')))];
    const settled = await Promise.allSettled(starts);
    const up = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = settled.find((r) => r.status === 'rejected');
    const keep = failed ? [] : up[0].ready.provider === 'cuda' ? [up[0]] : up;
    await Promise.all(up.filter((w) => !keep.includes(w)).map((w) => w.worker.terminate())); // idle: safe to stop
    if (failed) throw failed.reason;
    const { provider, kernels, kernelsWhy, notice } = up[0].ready;
    const runnable = kernels === 'webassembly' && forward ? kernelCones(forward.layout, graphs) : graphs;
    return new Runner(keep.map(({ worker }) => ({ worker, jobs: [] })), runnable, options.tails ?? [], provider, kernels, options.forward ? (forwardProblem(options.forward) ?? kernelsWhy) : undefined, notice, performance.now() - started);
  }

  /**
   * Windows per run that suit this provider. On the CPU, 1: batching buys nothing there
   * (docs/BENCHMARKS.md, "one window per run on the CPU") and a single window lets a hover's run
   * slip in between. A GPU gains from batches.
   */
  get preferredBatch(): number {
    return this.provider === 'cuda' ? 8 : 1;
  }

  /**
   * What an analyzer of this runner's model should know of it (./analysis AnalyzerOptions): the batch and
   * parallelism that suit it, the bundle's cones, and whether a cone's run may compute only the positions
   * it reads (our kernels give those the bits of a whole run; onnxruntime computes every position).
   */
  get analyzerOptions(): { readonly batch: number; readonly inFlight: number; readonly cones: readonly Cone[]; readonly neededOnly: boolean } {
    return { batch: this.preferredBatch, inFlight: this.parallelism, cones: this.cones, neededOnly: this.kernels === 'webassembly' };
  }

  /** Worker threads, each with its own session: runs that execute side by side. */
  get workers(): number {
    return this.slots.length;
  }

  /** Runs a caller with more work keeps in flight so that every worker always has its next run (QUEUED_PER_WORKER each). */
  get parallelism(): number {
    return this.slots.length * QUEUED_PER_WORKER;
  }

  /** One forward pass; runs are queued in order and each goes to the next free worker (a tail's: to its own, ownerOf). */
  run(input: RunInput): Promise<RunOutput> {
    if (this.disposed) return Promise.reject(new RunnerError('the model session was closed'));
    if (this.broken) return Promise.reject(new RunnerError(this.broken));
    try {
      checkRunInput(input);
      const cone = input.cone === undefined ? undefined : this.cones.find((c) => c.upto === input.cone);
      if (input.cone !== undefined && !cone) throw new RunnerError(`run: this bundle has no cone up to ${input.cone}`);
      // without a graph only our kernels run it, and they run one mask row (the worker sends the rest to onnxruntime)
      if (cone && cone.onnxPath === undefined && (input.maskRows ?? 1) !== 1) throw new RunnerError(`run: the cone up to ${input.cone} has no graph of its own, so it runs one mask row at a time`);
      if (input.tail !== undefined && !this.tails.some((t) => t.from === input.tail)) throw new RunnerError(`run: this bundle has no tail from ${input.tail}`);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const job = new Promise<RunOutput>((resolve, reject) => this.waiting.push({ input, resolve, reject }));
    const tracked = job.catch(() => undefined).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    this.pump();
    return job;
  }

  /**
   * The worker a run must go to: a tail's runs go to one worker (the tails, by start, dealt to the workers
   * in turn, so that the costly layer-0 tails land in different ones), which alone opens its session and
   * keeps its memory (~65 ms of CPU and an arena each; docs/BENCHMARKS.md, "Session 12"); others: any.
   */
  private ownerOf({ tail }: RunInput): number | undefined {
    return tail === undefined ? undefined : this.tails.findIndex((t) => t.from === tail) % this.slots.length;
  }

  /** Posts waiting runs, oldest first, to the workers with the fewest posted that may run them, up to QUEUED_PER_WORKER each. */
  private pump(): void {
    for (let depth = 0; depth < QUEUED_PER_WORKER; depth++) {
      for (const [s, slot] of this.slots.entries()) {
        if (slot.jobs.length > depth) continue;
        const i = this.waiting.findIndex((w) => (this.ownerOf(w.input) ?? s) === s);
        if (i < 0) continue;
        const [job] = this.waiting.splice(i, 1);
        const posted = { ...job, id: ++this.nextId };
        slot.jobs.push(posted);
        slot.worker.postMessage({ kind: 'run', id: posted.id, input: job.input } satisfies ToWorker);
      }
    }
  }

  private settle(slot: Slot, m: FromWorker): void {
    const job = slot.jobs[0]; // a worker answers its runs in the order they were posted
    if (!job || (m.kind !== 'done' && m.kind !== 'error') || m.id !== job.id) return;
    slot.jobs.shift();
    if (m.kind === 'done') job.resolve(m.output);
    else job.reject(new RunnerError(m.message));
    this.pump();
  }

  /** A worker died: its run and every queued run fail with the reason, and so does every later run. */
  private fail(why: string): void {
    this.broken ??= `${why}; reload the model (Circuit Inspector: Reload model bundle)`;
    const error = new RunnerError(this.broken);
    for (const slot of this.slots) slot.jobs.splice(0).forEach((job) => job.reject(error));
    this.waiting.splice(0).forEach((job) => job.reject(error));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true; // later runs are refused; those already queued finish first
    await Promise.all([...this.pending]);
    await Promise.all(
      this.slots.filter((slot) => !slot.exited).map((slot) => {
        // never terminate(): stopping a worker inside onnxruntime's run aborts the whole process
        // (a native exception escapes); 'close' is handled after the run in progress
        const exited = new Promise((resolve) => slot.worker.once('exit', resolve));
        slot.worker.postMessage({ kind: 'close' } satisfies ToWorker);
        return exited;
      }),
    );
  }
}
