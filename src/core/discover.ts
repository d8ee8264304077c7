// "Why this token?" (issue 19): the circuit behind one prediction, found by ablation. For a window
// of tokens ending at the position and a contrast (target vs alternative token), every node is
// ablated alone — hundreds per onnxruntime call through the graph's mask rows — and its attribution
// is how much the target-vs-alternative logit difference falls. Nodes are then grown in order of
// |attribution| until the circuit alone (every other node ablated) keeps `keep` of the full model's
// difference, and pruned greedily while it still does (training/prune.py's goal, at one position).
import type { RunInput, RunOutput } from './ortSession';

/** What discovery needs of a runner (./runner's Runner, or one ./ortSession ModelSession). */
export interface MaskRunner {
  run(input: RunInput): Promise<RunOutput>;
  /** Runs that execute at the same time (default 1). */
  readonly parallelism?: number;
}

export interface Contrast {
  readonly target: number;
  readonly alt: number;
}

export interface FindOptions {
  /** Each node's mean [N]: the value an ablated node takes in mean mode. */
  readonly means: Float32Array;
  readonly mode?: 'mean' | 'zero';
  /** Share of the full model's logit difference the circuit alone must keep (default 0.8). */
  readonly keep?: number;
  /** Mask rows per run (default 32): bounds memory (each row is a whole forward pass). */
  readonly chunk?: number;
}

export interface FoundCircuit {
  /** Target − alternative logit of the full model. */
  readonly full: number;
  /** Per node [N]: full − the difference with that node alone ablated (> 0: it supports the target). */
  readonly attribution: Float32Array;
  /** Flat indices of the circuit's nodes, by |attribution|, largest first. */
  readonly nodes: readonly number[];
  /** The difference with every node outside the circuit ablated. */
  readonly circuitOnly: number;
  /** The difference with the circuit's nodes ablated. */
  readonly withoutCircuit: number;
  /** Mask rows run (forward passes). */
  readonly rows: number;
}

/** Circuit sizes tried while growing: every size to 16, then 25 % steps, and finally all nodes. */
export function growthSizes(n: number): number[] {
  const sizes: number[] = [];
  for (let k = 1; k <= n; k = k < 16 ? k + 1 : Math.ceil(k * 1.25)) sizes.push(k);
  if (sizes[sizes.length - 1] !== n) sizes.push(n);
  return sizes;
}

/**
 * The circuit behind the prediction after the last of `ids` (one window: the position's left
 * context as the analysis runs it), for the contrast.
 */
export async function findCircuit(runner: MaskRunner, ids: ArrayLike<number>, contrast: Contrast, options: FindOptions): Promise<FoundCircuit> {
  const N = options.means.length;
  const keep = options.keep ?? 0.8;
  const fill = options.mode === 'zero' ? new Float32Array(N) : options.means;
  const evaluate = diffEvaluator(runner, ids, contrast, fill, options.chunk ?? 32);

  // row 0: the full model; row 1 + f: node f alone ablated
  const single = await evaluate(N + 1, (r, mask) => {
    mask.fill(1);
    if (r > 0) mask[r - 1] = 0;
  });
  const full = single[0];
  if (full === 0) throw new Error('the model gives the target and the alternative the same logit here, so there is no difference to explain; choose another pair');
  const attribution = Float32Array.from({ length: N }, (_, f) => full - single[f + 1]);
  const order = Array.from({ length: N }, (_, f) => f).sort((a, b) => Math.abs(attribution[b]) - Math.abs(attribution[a]));
  const enough = (d: number) => d / full >= keep;
  const only = (set: readonly number[], mask: Float32Array) => {
    mask.fill(0);
    for (const f of set) mask[f] = 1;
  };

  // grow: the smallest prefix of `order` that keeps enough (all N keep everything, so one does)
  const sizes = growthSizes(N);
  const grown = await evaluate(sizes.length, (r, mask) => only(order.slice(0, sizes[r]), mask));
  const first = grown.findIndex(enough);
  let circuit = order.slice(0, first >= 0 ? sizes[first] : N);

  // prune: drop first the nodes whose removal alone costs least, as many as still keep enough
  for (let round = 0; round < 4 && circuit.length > 1; round++) {
    const set = circuit;
    const without = await evaluate(set.length, (r, mask) => only(set.filter((_, i) => i !== r), mask));
    const dropOrder = set.map((_, i) => i).sort((a, b) => without[b] - without[a]);
    const prefixes = await evaluate(set.length - 1, (r, mask) => {
      const dropped = new Set(dropOrder.slice(0, r + 1));
      only(set.filter((_, i) => !dropped.has(i)), mask);
    });
    let j = prefixes.length;
    while (j > 0 && !enough(prefixes[j - 1])) j--;
    if (j === 0) break;
    const dropped = new Set(dropOrder.slice(0, j));
    circuit = set.filter((_, i) => !dropped.has(i));
  }

  const last = circuit;
  const [circuitOnly, withoutCircuit] = await evaluate(2, (r, mask) => {
    if (r === 0) return only(last, mask);
    mask.fill(1);
    for (const f of last) mask[f] = 0;
  });
  return { full, attribution, nodes: last, circuitOnly, withoutCircuit, rows: evaluate.rows };
}

type Evaluate = ((rows: number, row: (r: number, mask: Float32Array) => void) => Promise<Float64Array>) & { readonly rows: number };

/**
 * Target − alternative logit at the last position of `ids` under each of `rows` masks, `row(r, mask)`
 * writing mask r [N]; chunks of rows run as one call each, `runner.parallelism` calls at a time.
 */
function diffEvaluator(runner: MaskRunner, ids: ArrayLike<number>, { target, alt }: Contrast, fill: Float32Array, chunk: number): Evaluate {
  const N = fill.length;
  const T = ids.length;
  const tokens = BigInt64Array.from(Array.from(ids, (id) => BigInt(id)));
  const readIds = BigInt64Array.of(BigInt(target), BigInt(alt));
  let total = 0;
  const evaluate = async (rows: number, row: (r: number, mask: Float32Array) => void): Promise<Float64Array> => {
    const out = new Float64Array(rows);
    const runChunk = async (from: number): Promise<void> => {
      const M = Math.min(chunk, rows - from);
      const mask = new Float32Array(M * N); // [M, N]
      const fills = new Float32Array(M * N);
      for (let m = 0; m < M; m++) {
        row(from + m, mask.subarray(m * N, (m + 1) * N));
        fills.set(fill, m * N);
      }
      const { logits } = await runner.run({ ids: tokens, B: 1, T, mask, fill: fills, maskRows: M, watch: [], scoreFrom: T - 1, readIds }); // [M, 1, 2]
      for (let m = 0; m < M; m++) out[from + m] = logits[2 * m] - logits[2 * m + 1];
    };
    const starts = Array.from({ length: Math.ceil(rows / chunk) }, (_, c) => c * chunk);
    const lanes = Math.max(1, runner.parallelism ?? 1);
    let next = 0;
    await Promise.all(Array.from({ length: lanes }, async () => {
      while (next < starts.length) await runChunk(starts[next++]);
    }));
    total += rows;
    return out;
  };
  return Object.defineProperty(evaluate, 'rows', { get: () => total }) as Evaluate;
}
