// "Why this token?" (issue 19): the circuit behind one prediction, found by ablation. For a window
// of tokens ending at the position and a contrast (target vs alternative token), the search looks for a
// small node set that alone (every other node ablated) keeps `keep` of the full model's target-vs-
// alternative logit difference and whose ablation costs `cost` of it (training/prune.py's goal, at one
// position), many ablations per onnxruntime call through the graph's mask rows. It prunes the whole
// model: runs of 64 nodes whose loss the circuit-alone difference bears are dropped, as many as keep both
// tests, then runs of 16, 4 and single nodes (pruneByGroups, below). Where no set passes the second
// test — where the model's mean alone already leans to the target, say — the first decides, and any set
// that passes both is still taken when one turns up. Ranking every node by its effect alone first (N + 1
// passes, ~2,800) and growing the top of that ranking found the same kind of circuits in 2.3–12× the
// passes (docs/BENCHMARKS.md, session 17). Both tests are run on the final circuit, and its nodes'
// attributions (the fall in the difference when the node alone is ablated in the full model) are
// measured alone. A set's removal is run only where it keeps enough alone, and only until a set that
// passes is found.
import { routeRows, type TailStart } from './discoverRoute';
import type { RunInput, RunOutput } from './ortSession';

/** What discovery needs of a runner (./runner's Runner, or one ./ortSession ModelSession). */
export interface MaskRunner {
  run(input: RunInput): Promise<RunOutput>;
  /** Runs that execute at the same time (default 1). */
  readonly parallelism?: number;
  /** The bundle's tail graphs it can run (RunInput.tail), by start; none: every row runs through model.onnx. */
  readonly tails?: readonly TailStart[];
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
  /** Per node [N]: 1 where ablating it changes nothing in the window (./deadNodes): left out of the nodes the circuit is pruned from. */
  readonly dead?: Uint8Array;
  /** Also ablate every live node alone (one pass each, ~2,400 more on the shipped model) so that every node has its attribution. */
  readonly everyNode?: boolean;
}

export interface FoundCircuit {
  /** Target − alternative logit of the full model. */
  readonly full: number;
  /** Per node [N]: full − the difference with that node alone ablated (> 0: it supports the target) for every circuit node, and with `everyNode` every node (a dead one's exactly 0); 0 elsewhere (not measured). */
  readonly attribution: Float32Array;
  /** Flat indices of the circuit's nodes, by |attribution|, largest first. */
  readonly nodes: readonly number[];
  /** The difference with every node ablated (each at its mean, or zero): what the model gives with no node kept, which circuitOnly is read against. */
  readonly allAblated: number;
  /** The difference with every node outside the circuit ablated. */
  readonly circuitOnly: number;
  /** The difference with the circuit's nodes ablated. */
  readonly withoutCircuit: number;
  /** Mask rows run (forward passes). */
  readonly rows: number;
}

/** How many runs a pruning round tries dropping, of n: every count to 16, then 25 % steps, and finally all n. */
export function dropCounts(n: number): number[] {
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

  const [full] = await evaluate(1, (_, mask) => mask.fill(1));
  if (full === 0) throw new Error('the model gives the target and the alternative the same logit here, so there is no difference to explain; choose another pair');
  const tests: Tests = { enough: (only) => only / full >= keep, costs: (without) => without / full <= 1 - cost, share: (d) => d / full };
  // ablating every dead node at once computes the numbers of the unablated model: the live nodes alone keep all of it
  const dead = options.dead ?? new Uint8Array(N);
  const live = Array.from({ length: N }, (_, f) => f).filter((f) => !dead[f]);
  const [without] = await withoutEach(evaluate, [live]);
  // where the means alone already lean to the target, any set passes the first test and only the second tells
  const [allAblated] = await onlyEach(evaluate, [[]]);
  const search: Search = { evaluate, tests, full, alone: new Map() };
  let circuit: Pruned = { set: live, only: full, without, costly: tests.costs(without) };
  for (const size of RUN_SIZES) circuit = await pruneByGroups(search, circuit, size);

  const attribution = new Float32Array(N);
  const measured = options.everyNode ? live : circuit.set;
  const alone = await removals(search, measured.map((f) => [f]));
  measured.forEach((f, k) => (attribution[f] = full - alone[k]));
  const nodes = [...circuit.set].sort((a, b) => Math.abs(attribution[b]) - Math.abs(attribution[a]));
  const withoutCircuit = circuit.without ?? (await withoutEach(evaluate, [circuit.set]))[0];
  return { full, attribution, nodes, allAblated, circuitOnly: circuit.only, withoutCircuit, rows: evaluate.rows };
}

/** What pruning shares: the evaluator, the tests, the full model's difference, and the difference with each node alone ablated where it was run. */
interface Search {
  readonly evaluate: Evaluate;
  readonly tests: Tests;
  readonly full: number;
  readonly alone: Map<number, number>;
}

/** The full model's difference with each run ablated (single nodes' are run once and kept: ./discover reports them). */
async function removals(search: Search, runs: readonly (readonly number[])[]): Promise<Float64Array> {
  const todo = runs.filter((run) => run.length > 1 || !search.alone.has(run[0]));
  const d = await withoutEach(search.evaluate, todo);
  todo.forEach((run, k) => run.length === 1 && search.alone.set(run[0], d[k]));
  let k = 0;
  return Float64Array.from(runs, (run) => (run.length > 1 ? d[k++] : (search.alone.get(run[0]) as number)));
}

/**
 * A candidate circuit (flat node indices, ascending): its difference alone (every other node ablated)
 * and, where it was run, with the set ablated. The second is run only where the first keeps enough and
 * the removal test decides.
 */
interface Candidate {
  readonly set: readonly number[];
  readonly only: number;
  readonly without?: number;
}

/** The circuit tests, on the difference alone and on the difference with the set ablated; `share` is a difference as a share of the full model's. */
interface Tests {
  readonly enough: (only: number) => boolean;
  readonly costs: (without: number) => boolean;
  readonly share: (diff: number) => number;
}

/** A circuit on the way, and whether it passed both tests (else only `enough`: no circuit's removal costs enough), which every smaller one must keep. */
interface Pruned extends Candidate {
  readonly costly: boolean;
}

/** Each set's difference alone: one mask row per set, the set's nodes 1 and every other node 0. */
async function onlyEach(evaluate: Evaluate, sets: readonly (readonly number[])[]): Promise<Float64Array> {
  return evaluate(sets.length, (r, mask) => {
    mask.fill(0);
    for (const f of sets[r]) mask[f] = 1;
  });
}

/** Each set's difference with the set ablated. */
async function withoutEach(evaluate: Evaluate, sets: readonly (readonly number[])[]): Promise<Float64Array> {
  return evaluate(sets.length, (r, mask) => {
    mask.fill(1);
    for (const f of sets[r]) mask[f] = 0;
  });
}

/** Sets whose removal is run per batch while looking for the first that passes both tests: a small batch wastes few rows past it. */
const REMOVAL_BLOCK = 8;

/**
 * The first of `sets` (in the order given) that passes both tests, `only[k]` being set k's difference
 * alone: the removal is run only for sets that keep enough, REMOVAL_BLOCK at a time, stopping at the
 * first that passes — the same set a batch of every set's two rows would pick, in fewer rows.
 */
async function firstCostly(evaluate: Evaluate, sets: readonly (readonly number[])[], only: Float64Array, tests: Tests): Promise<Candidate | undefined> {
  const keeping = sets.map((_, k) => k).filter((k) => tests.enough(only[k]));
  for (let at = 0; at < keeping.length; at += REMOVAL_BLOCK) {
    const block = keeping.slice(at, at + REMOVAL_BLOCK);
    const without = await withoutEach(evaluate, block.map((k) => sets[k]));
    const hit = block.findIndex((_, i) => tests.costs(without[i]));
    if (hit >= 0) return { set: sets[block[hit]], only: only[block[hit]], without: without[hit] };
  }
  return undefined;
}

/**
 * Run sizes of the pruning levels: the circuit is cut into runs of this many of its nodes (in layout
 * order, so a run mostly lies in one node location) and whole runs are dropped, then smaller runs, down
 * to single nodes. From all 2,816 nodes of the shipped model a level costs about N / size rows a round,
 * where dropping nodes one by one from the start costs N a round. Ranking single nodes by their effect
 * in the full model and growing a prefix (the first way this was done) does not find small circuits:
 * with every other node mean-ablated the mean model's own preference dominates, and at the bench's three
 * places no prefix of 1 to 929 nodes kept 80 % (its share alone stayed between −2.5 and +0.5) while
 * pruning the whole model ended at 10 to 112 nodes (docs/BENCHMARKS.md, session 17).
 */
const RUN_SIZES = [64, 16, 4, 1] as const;

/** Rounds per level at most: each drops the most runs that still pass, so later rounds drop less. */
const ROUNDS = 4;

/**
 * One level of pruning. Each round cuts the circuit into runs of `size` nodes, runs the circuit alone
 * less each run (one row a run), and drops first the runs whose loss costs the circuit least, as many
 * as still pass the circuit's tests: their differences alone are run for each count of dropCounts,
 * their removals (where the removal test counts) from the most dropped down, and only until one passes.
 * Runs whose loss costs the circuit the same (to 4 decimals of the full difference) are dropped in order
 * of what ablating them in the full model costs, the least first: where the mean model alone already
 * keeps enough — every set passes the first test — this is all that tells runs apart (at three of 20
 * networkx places, two string closes whose circuit is 1 node came out at 17 and 10 nodes without it).
 */
async function pruneByGroups(search: Search, start: Pruned, size: number): Promise<Pruned> {
  const { evaluate, tests } = search;
  let circuit = start;
  for (let round = 0; round < ROUNDS; round++) {
    const set = circuit.set;
    const runs = Array.from({ length: Math.ceil(set.length / size) }, (_, g) => set.slice(g * size, (g + 1) * size));
    if (runs.length < 2) break;
    const less = await evaluate(runs.length, (r, mask) => {
      mask.fill(0); // alone, less run r
      for (const f of set) mask[f] = 1;
      for (const f of runs[r]) mask[f] = 0;
    });
    const need = runs.map((_, r) => Math.round(1e4 * tests.share(less[r])));
    const sharing = new Map<number, number>();
    for (const n of need) sharing.set(n, (sharing.get(n) ?? 0) + 1);
    const tied = runs.map((_, r) => r).filter((r) => (sharing.get(need[r]) as number) > 1);
    const leftWithout = new Float64Array(runs.length); // share of the full difference left with the run ablated: higher, less support
    (await removals(search, tied.map((r) => runs[r]))).forEach((d, k) => (leftWithout[tied[k]] = tests.share(d)));
    const dropOrder = runs.map((_, r) => r).sort((a, b) => need[b] - need[a] || leftWithout[b] - leftWithout[a]);
    const mostDroppedFirst = dropCounts(runs.length - 1)
      .reverse()
      .map((j) => {
        const dropped = new Set(dropOrder.slice(0, j).flatMap((r) => runs[r]));
        return set.filter((f) => !dropped.has(f));
      });
    const only = await onlyEach(evaluate, mostDroppedFirst);
    // a circuit that passes both tests is looked for even where the larger one did not pass the second:
    // ablating more of the model is not always costlier (the mean model may itself lean to the target)
    const costly = await firstCostly(evaluate, mostDroppedFirst, only, tests);
    if (costly) circuit = { ...costly, costly: true };
    else {
      if (circuit.costly) break;
      const k = mostDroppedFirst.findIndex((_, i) => tests.enough(only[i]));
      if (k < 0) break;
      circuit = { set: mostDroppedFirst[k], only: only[k], costly: false };
    }
  }
  return circuit;
}

type Evaluate = ((rows: number, row: (r: number, mask: Float32Array) => void) => Promise<Float64Array>) & { readonly rows: number };

/** Mask rows per tail run, as a multiple of `chunk`, where the tail starts in the last layer: a row costs one position's work there, so more rows share each run's prefix. */
const LAST_LAYER_CHUNKS = 8;

/**
 * Target − alternative logit at the last position of `ids` under each of `rows` masks, `row(r, mask)`
 * writing mask r [N]. Rows are grouped by the runner's tails (./discoverRoute); each group's rows run in
 * calls of up to `chunk` rows (more through a last-layer tail), `runner.parallelism` calls at a time.
 */
function diffEvaluator(runner: MaskRunner, ids: ArrayLike<number>, { target, alt }: Contrast, fill: Float32Array, chunk: number): Evaluate {
  const N = fill.length;
  const T = ids.length;
  const tokens = BigInt64Array.from(Array.from(ids, (id) => BigInt(id)));
  const readIds = BigInt64Array.of(BigInt(target), BigInt(alt));
  const tails = runner.tails ?? [];
  const lanes = Math.max(1, runner.parallelism ?? 1);
  const diffs = async (mask: Float32Array, M: number, tail?: string): Promise<Float64Array> => {
    const fills = new Float32Array(M * N); // [M, N]
    for (let m = 0; m < M; m++) fills.set(fill, m * N);
    const { logits } = await runner.run({ ids: tokens, B: 1, T, mask, fill: fills, maskRows: M, watch: [], scoreFrom: T - 1, readIds, tail }); // [M, 1, 2]
    return Float64Array.from({ length: M }, (_, m) => logits[2 * m] - logits[2 * m + 1]);
  };
  // a tail's logits lack the bigram table's term, which no mask changes: model.onnx's difference less a tail's, unablated
  let bigram: Promise<number> | undefined;
  const bigramTerm = () =>
    (bigram ??= (async () => {
      const ones = new Float32Array(N).fill(1);
      const [withIt, without] = await Promise.all([diffs(ones, 1), diffs(ones, 1, tails[tails.length - 1].from)]);
      return withIt[0] - without[0];
    })());
  let total = 0;
  const evaluate = async (rows: number, row: (r: number, mask: Float32Array) => void): Promise<Float64Array> => {
    const masks = new Float32Array(rows * N); // [rows, N]
    for (let r = 0; r < rows; r++) row(r, masks.subarray(r * N, (r + 1) * N));
    const groups = tails.length ? routeRows(masks, rows, N, tails) : [{ rows: Array.from({ length: rows }, (_, r) => r) }];
    const offset = groups.some((g) => g.tail) ? await bigramTerm() : 0;
    // a tail's group runs in as few calls as `chunk` allows (more for a last-layer tail): its calls all go to
    // the one worker that owns the tail, and each repeats the shared prefix (~8 ms of a 141-token window);
    // model.onnx's group is spread over every lane instead of filling the first ones
    const byGroup = groups.map(({ tail, rows: members }) => {
      const cap = tail?.lastLayer ? chunk * LAST_LAYER_CHUNKS : chunk;
      const size = tail ? Math.min(cap, members.length) : Math.max(1, Math.min(chunk, Math.ceil(members.length / lanes)));
      return Array.from({ length: Math.ceil(members.length / size) }, (_, c) => ({ tail, rows: members.slice(c * size, (c + 1) * size) }));
    });
    // the groups' calls in turn: each tail runs in one worker only (./runner ownerOf), so calls of one tail back to back would leave the other workers idle
    const calls = Array.from({ length: Math.max(0, ...byGroup.map((g) => g.length)) }, (_, c) => byGroup.flatMap((g) => (c < g.length ? [g[c]] : []))).flat();
    const out = new Float64Array(rows);
    const runCall = async ({ tail, rows: members }: (typeof calls)[number]): Promise<void> => {
      const mask = new Float32Array(members.length * N); // [M, N]
      members.forEach((r, m) => mask.set(masks.subarray(r * N, (r + 1) * N), m * N));
      const d = await diffs(mask, members.length, tail?.from);
      members.forEach((r, m) => (out[r] = d[m] + (tail ? offset : 0)));
    };
    let next = 0;
    // with tails, twice the runner's lanes: each worker then finds a run it may take among the waiting ones
    await Promise.all(Array.from({ length: tails.length ? 2 * lanes : lanes }, async () => {
      while (next < calls.length) await runCall(calls[next++]);
    }));
    total += rows;
    return out;
  };
  return Object.defineProperty(evaluate, 'rows', { get: () => total }) as Evaluate;
}
