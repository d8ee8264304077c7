// The PyTorch reference the bench times beside onnxruntime on the same batches
// (training/bench_torch.py in a child process), and the Python that runs it.
import { type ChildProcessWithoutNullStreams, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import type { Bundle } from './core/bundle';
import type { RunInput } from './core/runner';

/**
 * training/bench_torch.py in a child process, holding the same batches: time() runs one PyTorch
 * pass over them, so the benchmark can alternate it with the onnxruntime pass.
 */
export class TorchReference {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: AsyncIterator<string>,
    readonly version: string,
  ) {}

  /** The reference, or why it cannot run (no Python, no PyTorch, a bad bundle). */
  static async start(python: string, root: string, request: object): Promise<TorchReference | string> {
    const child = spawn(python, ['-m', 'training.bench_torch'], { cwd: root });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const failed = new Promise<string>((resolve) => {
      child.on('error', (e) => resolve(e.message));
      child.on('close', (code) => resolve(stderr.trim().split('\n').at(-1) ?? `exit ${code}`));
    });
    const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stdin.on('error', () => undefined); // a child that died early: `failed` says why
    child.stdin.write(JSON.stringify(request) + '\n');
    const first = await Promise.race([lines.next(), failed]);
    if (typeof first === 'string' || first.done) {
      child.kill();
      return typeof first === 'string' ? first : await failed;
    }
    const hello = JSON.parse(first.value) as { torch: string; threads: number };
    return new TorchReference(child, lines, `torch ${hello.torch}, ${hello.threads} threads (${python})`);
  }

  async time(): Promise<number> {
    this.child.stdin.write('\n');
    const line = await this.lines.next();
    if (line.done) throw new Error('bench: the PyTorch reference stopped');
    return (JSON.parse(line.value) as { ms: number }).ms;
  }

  close(): void {
    this.child.stdin.end();
  }
}

export function torchRequest(b: Bundle, watch: readonly number[], batches: readonly RunInput[]): object {
  return {
    bundle: path.resolve(b.dir),
    threads: Math.min(os.cpus().length, 4),
    watch,
    batches: batches.map((x) => ({
      ids: Array.from({ length: x.B }, (_, i) => Array.from(x.ids.subarray(i * x.T, (i + 1) * x.T), Number)),
      score_from: x.scoreFrom,
      read_ids: Array.from(x.readIds, Number),
    })),
  };
}

export function pythonFor(root: string): string {
  const venv = path.join(root, '.venv', 'bin', 'python');
  return process.env.CIRCUIT_INSPECTOR_PYTHON ?? (fs.existsSync(venv) ? venv : 'python3');
}

