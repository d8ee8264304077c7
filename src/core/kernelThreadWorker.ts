// The worker behind ./kernelThread: an instance of the kernels on the caller's shared memory, taking
// parts of each posted call until none is left, until it is closed.
import { workerData } from 'node:worker_threads';
import { ARGS_AT, kernelImports, type KernelThreadSetup, MAX_ARGS, MAX_PARTS, SLOT, SPIN, SPLIT_KERNELS, takePart } from './kernelThread';

declare const WebAssembly: { Instance: new (module: object, imports: object) => { readonly exports: unknown } };

type Kernel = (...args: number[]) => void;

function serve({ module, memory, control: buffer }: KernelThreadSetup): void {
  const control = new Int32Array(buffer, 0, ARGS_AT / 4);
  const args = new Float64Array(buffer, ARGS_AT, MAX_PARTS * 2 * MAX_ARGS);
  let kernels: Record<string, Kernel>;
  try {
    kernels = new WebAssembly.Instance(module, kernelImports(memory)).exports as Record<string, Kernel>;
  } catch {
    return; // the caller's start times out and goes on with one thread
  }
  Atomics.store(control, SLOT.ready, 1);
  Atomics.notify(control, SLOT.ready);
  let seen = 0;
  for (;;) {
    let job = Atomics.load(control, SLOT.job);
    for (let spin = 0; spin < SPIN && job === seen; spin++) job = Atomics.load(control, SLOT.job);
    while (job === seen) {
      Atomics.wait(control, SLOT.job, seen);
      job = Atomics.load(control, SLOT.job);
    }
    if (job < 0) return; // closed
    seen = job;
    const kernel = kernels[SPLIT_KERNELS[control[SLOT.kernel]]];
    const parts = control[SLOT.parts];
    for (let p = takePart(control, job, parts); p >= 0; p = takePart(control, job, parts)) {
      try {
        kernel(...args.subarray((2 * p + 1) * MAX_ARGS, (2 * p + 2) * MAX_ARGS)); // a kernel ignores the arguments past its own
      } catch {
        Atomics.store(control, SLOT.failed, 1);
      }
      if (Atomics.add(control, SLOT.done, 1) + 1 === parts) Atomics.notify(control, SLOT.done);
    }
  }
}

serve(workerData as KernelThreadSetup);
