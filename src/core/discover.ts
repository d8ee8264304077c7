// "Why this token?" (issue 19): the circuit behind one prediction, found by ablation. For a window
// of tokens ending at the position and a contrast (target vs alternative token), every node is
// ablated alone — hundreds per onnxruntime call through the graph's mask rows — and its attribution
// is how much the target-vs-alternative logit difference falls. Nodes are then grown in order of
// |attribution| until the circuit alone (every other node ablated) keeps `keep` of the full model's
// difference and ablating the circuit costs `cost` of it, and pruned greedily while both still hold
// (training/prune.py's goal, at one position). Where no circuit passes the second test — where the
// model's mean alone already leans to the target, say — the first decides.
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
  /** Share of it that ablating the circuit should cost (default 0.5), where some circuit does. */
  readonly cost?: number;
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
  const cost = options.cost ?? 0.5;
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
  const kept = (d: number) => d / full;
  // rows 2k, 2k + 1 of a batch: the set alone, and the model without the set
  const both = (set: readonly number[], r: number, mask: Float32Array) => {
    mask.fill(r % 2);
    for (const f of set) mask[f] = 1 - (r % 2);
  };
  const pairs = async (sets: readonly (readonly number[])[]) => {
    const d = await evaluate(2 * sets.length, (r, mask) => both(sets[r >> 1], r, mask));
    return sets.map((_, k) => ({ only: d[2 * k], without: d[2 * k + 1] }));
  };
  const enough = (x: { only: number }) => kept(x.only) >= keep;
  const costly = (x: { only: number; without: number }) => enough(x) && kept(x.without) <= 1 - cost;

  // grow: the smallest prefix of `order` that keeps enough alone and whose removal costs enough; if
  // none does (the rest of the model can stand in for it), the smallest that keeps enough (all N do)
  const sizes = growthSizes(N);
  const grown = await pairs(sizes.map((k) => order.slice(0, k)));
  const good = grown.some(costly) ? costly : enough;
  let circuit = order.slice(0, sizes[grown.findIndex(good)]);

  // prune: drop first the nodes whose removal alone costs the circuit least, as many as still pass
  for (let round = 0; round < 4 && circuit.length > 1; round++) {
    const set = circuit;
    const minusOne = await evaluate(set.length, (r, mask) => both(set.filter((_, i) => i !== r), 0, mask)); // alone, less node r
    const dropOrder = set.map((_, i) => i).sort((a, b) => minusOne[b] - minusOne[a]);
    const counts = growthSizes(set.length - 1);
    const smaller = counts.map((j) => {
      const dropped = new Set(dropOrder.slice(0, j));
      return set.filter((_, i) => !dropped.has(i));
    });
    const tried = await pairs(smaller);
    let j = tried.length;
    while (j > 0 && !good(tried[j - 1])) j--;
    if (j === 0) break;
    circuit = smaller[j - 1];
  }

  const [last] = await pairs([circuit]);
  const circuitOnly = last.only;
  const withoutCircuit = last.without;
  return { full, attribution, nodes: circuit, circuitOnly, withoutCircuit, rows: evaluate.rows };
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
