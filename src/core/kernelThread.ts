// A second thread for one model worker's kernels (./wasmForward): a worker thread with its own instance
// of the kernels on the same shared memory, which takes parts of a kernel call while the caller takes
// the others. Why: on a large model a window on one thread leaves the other core idle — a hover's
// window, the editor's first screen of one window (docs/BENCHMARKS.md, "Session 31").
//
// The parts are taken from a shared counter, not dealt in halves: on a loaded machine (the editor
// opening a file) a thread waits for a core now and then, and the caller then takes the parts the
// other has not started instead of waiting for it (halves made first screens slower under load).
// The threads meet in a control block of shared memory rather than through messages: the caller is
// inside a synchronous forward pass, and a hand-over must cost microseconds against calls of 0.1–9 ms.
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'node:worker_threads';

/** The kernels whose calls may be shared (their names in kernels/forward.ts), by their index in the control block. */
export const SPLIT_KERNELS = ['spmm', 'absTopK', 'gelu', 'rmsNorm', 'attention', 'addBias', 'readLogits', 'logSumExp', 'topValues'] as const;
export type SplitKernel = (typeof SPLIT_KERNELS)[number];

/** The most parts of one call, and the most arguments of one part's kernel. */
export const MAX_PARTS = 16;
export const MAX_ARGS = 16;

/**
 * The control block: Int32 slots, then f64 arguments [MAX_PARTS][2 threads][MAX_ARGS]. JOB counts the
 * calls posted (−1: close); NEXT is JOB·1024 + the next part to take, so that a thread still in an
 * earlier call takes nothing of a later one; DONE counts the parts finished.
 */
export const SLOT = { job: 0, kernel: 1, parts: 2, next: 3, done: 4, failed: 5, ready: 6 } as const;
const SLOTS = 8;
export const ARGS_AT = 4 * SLOTS;
const CONTROL_BYTES = ARGS_AT + 8 * MAX_PARTS * 2 * MAX_ARGS;

/** Loads of the control block a thread makes before it sleeps: the next call of a run comes within microseconds, and waking a sleeping thread took ~0.15 ms here. */
export const SPIN = 2_000;

/**
 * Takes the next part of job `job` (of `parts`), or −1 when none is left or a later job was posted.
 * A compare-exchange, so that the job and the part are read and claimed as one.
 */
export function takePart(control: Int32Array, job: number, parts: number): number {
  for (;;) {
    const v = Atomics.load(control, SLOT.next);
    if (v >>> 10 !== (job & 0x3fffff) || (v & 1023) >= parts) return -1;
    if (Atomics.compareExchange(control, SLOT.next, v, v + 1) === v) return v & 1023;
  }
}

/** The imports an instance of the kernels is made with: the shared memory, and abort() (an AssemblyScript assertion) as an error. */
export function kernelImports(memory: object): object {
  return { env: { memory, abort: () => { throw new Error('the WebAssembly forward aborted'); } } };
}

/** What the thread's worker is given (./kernelThreadWorker). */
export interface KernelThreadSetup {
  readonly module: object;
  readonly memory: object;
  readonly control: SharedArrayBuffer;
}

// next to this file: dist/ for the bundled extension and CLI, out/src/core/ for the compiled tests
const WORKER_FILE = path.join(__dirname, 'kernelThreadWorker.js');
/** How long a start may take before the forward goes on without the thread (a loaded machine starts a worker in ~0.1 s). */
const START_MS = 10_000;
/** How long the caller waits for a part the thread has taken before it counts the thread as lost (the longest call measured: ~10 ms). */
const PART_MS = 120_000;

export class KernelThread {
  private readonly control: Int32Array;
  private readonly args: Float64Array;
  private job = 0;

  private constructor(
    private readonly worker: Worker,
    buffer: SharedArrayBuffer,
  ) {
    this.control = new Int32Array(buffer, 0, SLOTS);
    this.args = new Float64Array(buffer, ARGS_AT, MAX_PARTS * 2 * MAX_ARGS);
  }

  /**
   * Starts the thread on the kernels' module and shared memory and waits until it holds its instance,
   * or returns why it could not. The wait blocks on purpose: instantiating re-runs the module's start,
   * which rewrites its tables in the shared memory, and must be over before any kernel runs.
   */
  static start(module: object, memory: object): KernelThread | string {
    if (!fs.existsSync(WORKER_FILE)) return `${WORKER_FILE} is missing`;
    const buffer = new SharedArrayBuffer(CONTROL_BYTES);
    const control = new Int32Array(buffer, 0, SLOTS);
    const worker = new Worker(WORKER_FILE, { workerData: { module, memory, control: buffer } satisfies KernelThreadSetup });
    worker.unref(); // an idle thread keeps no process alive
    Atomics.wait(control, SLOT.ready, 0, START_MS);
    if (Atomics.load(control, SLOT.ready) !== 1) {
      void worker.terminate();
      return 'the second thread did not start';
    }
    return new KernelThread(worker, buffer);
  }

  /**
   * Kernel `name` over `parts` parts: this thread calls `call` with args(part, 0) and the second thread
   * its own instance's kernel with args(part, 1) (its own work buffers), each taking the next part not
   * yet taken, until none is left; returns when every part is done. Throws when a part failed on the
   * second thread or it stopped answering.
   */
  share(name: SplitKernel, parts: number, args: (part: number, thread: 0 | 1) => readonly number[], call: (...a: number[]) => void): void {
    if (parts > MAX_PARTS) throw new Error(`share: ${parts} parts are more than ${MAX_PARTS}`);
    const c = this.control;
    for (let p = 0; p < parts; p++) for (const t of [0, 1] as const) this.args.set(args(p, t), (2 * p + t) * MAX_ARGS);
    this.job = (this.job + 1) & 0x3fffff;
    c[SLOT.kernel] = SPLIT_KERNELS.indexOf(name);
    c[SLOT.parts] = parts;
    Atomics.store(c, SLOT.done, 0);
    Atomics.store(c, SLOT.failed, 0);
    Atomics.store(c, SLOT.next, this.job << 10);
    Atomics.store(c, SLOT.job, this.job);
    Atomics.notify(c, SLOT.job);
    for (let p = takePart(c, this.job, parts); p >= 0; p = takePart(c, this.job, parts)) {
      call(...args(p, 0));
      Atomics.add(c, SLOT.done, 1);
    }
    // only a part the second thread has started is left
    const since = Date.now();
    let done = Atomics.load(c, SLOT.done);
    for (let spin = 0; spin < SPIN && done < parts; spin++) done = Atomics.load(c, SLOT.done);
    while (done < parts) {
      Atomics.wait(c, SLOT.done, done, 1000);
      done = Atomics.load(c, SLOT.done);
      if (done < parts && Date.now() - since > PART_MS) throw new Error('the kernels\u2019 second thread stopped answering');
    }
    if (Atomics.load(c, SLOT.failed)) throw new Error('a kernel failed on the second thread');
  }

  close(): void {
    Atomics.store(this.control, SLOT.job, -1);
    Atomics.notify(this.control, SLOT.job);
    void this.worker.terminate();
  }
}
