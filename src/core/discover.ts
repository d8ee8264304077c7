// "Why this token?" (issue 19): the circuit behind one prediction, found by ablation. For a window
// of tokens ending at the position and a contrast (target vs alternative token), nodes are ranked by
// how much ablating them makes the target-vs-alternative logit difference fall — many ablations per
// onnxruntime call through the graph's mask rows. Ranking every node alone costs N + 1 forward passes
// (~2,800: 97 % of a search whose circuit is small), so groups of nodes are ablated first and only the
// groups that move the difference most are split, down to single nodes (screen, below). Nodes are then
// grown in order of |attribution| until the circuit alone (every other node ablated) keeps `keep` of the
// full model's difference and ablating the circuit costs `cost` of it, and pruned greedily while both
// still hold (training/prune.py's goal, at one position). Where no circuit passes the second test —
// where the model's mean alone already leans to the target, say — the first decides. Where no prefix of
// the screened ranking passes the second test, every node not yet measured is ablated alone and the
// growth runs again, so screening never fails the removal test where the full ranking passes. Both
// tests are run on the final circuit; its nodes' attributions are always measured alone. A set's
// removal is run only where it keeps enough alone and the removal test decides, and only until the
// set growing or pruning looks for is found: the circuits are the ones running every row would give.
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
  /** Per node [N]: 1 where ablating it changes nothing in the window (./deadNodes), so its attribution is 0 without a run. */
  readonly dead?: Uint8Array;
}

export interface FoundCircuit {
  /** Target − alternative logit of the full model. */
  readonly full: number;
  /**
   * Per node [N]: full − the difference with that node alone ablated (> 0: it supports the target) for
   * every circuit node and every node ablated alone while screening; for a node of a group that screening did not split, the group's effect shared evenly.
   */
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

  const [full] = await evaluate(1, (_, mask) => mask.fill(1));
  if (full === 0) throw new Error('the model gives the target and the alternative the same logit here, so there is no difference to explain; choose another pair');
  const dead = options.dead ?? new Uint8Array(N);
  const search: Search = { evaluate, full, dead, ...(await screen(evaluate, dead, full)) };
  const tests: Tests = { enough: (only) => only / full >= keep, costs: (without) => without / full <= 1 - cost };
  const grown = await grow(search, tests);
  const pruned = await prune(search, grown, tests);

  // the circuit's nodes are reported with their own attributions: measure any that screening left in a group
  await measureAlone(search, pruned.set.filter((f) => !search.measured[f]));
  const circuit = byAttribution(search.attribution, pruned.set);
  const without = pruned.without ?? (await withoutEach(evaluate, [pruned.set]))[0];
  return { full, attribution: search.attribution, nodes: circuit, circuitOnly: pruned.only, withoutCircuit: without, rows: evaluate.rows };
}

/** What growing and pruning share: the evaluator, the full model's difference, the attributions so far. */
interface Search {
  readonly evaluate: Evaluate;
  readonly full: number;
  /** Per node [N]; measured[f] = 1 where node f was ablated alone. */
  readonly attribution: Float32Array;
  readonly measured: Uint8Array;
  /** Per node [N]: 1 where ablating it is a no-op (FindOptions.dead). */
  readonly dead: Uint8Array;
}

/**
 * A candidate circuit: its difference alone (every other node ablated) and, where it was run, with the
 * set ablated. The second is run only where the first keeps enough and the removal test decides.
 */
interface Candidate {
  readonly set: readonly number[];
  readonly only: number;
  readonly without?: number;
}

/** The two circuit tests, on the difference alone and on the difference with the set ablated. */
interface Tests {
  readonly enough: (only: number) => boolean;
  readonly costs: (without: number) => boolean;
}

/** The circuit grown, and whether it passed both tests (else only `enough`: no circuit's removal costs enough), which pruning keeps. */
interface Grown extends Candidate {
  readonly costly: boolean;
}

/** Flat node indices sorted by |attribution|, largest first. */
function byAttribution(attribution: Float32Array, nodes: readonly number[]): number[] {
  return [...nodes].sort((a, b) => Math.abs(attribution[b]) - Math.abs(attribution[a]));
}

/** Ablates each of `nodes` alone, one mask row each (none for a dead node: 0), and records its attribution as measured. */
async function measureAlone(search: Search, nodes: readonly number[]): Promise<void> {
  const live = nodes.filter((f) => !search.dead[f]);
  const d = await search.evaluate(live.length, (r, mask) => {
    mask.fill(1);
    mask[live[r]] = 0;
  });
  live.forEach((f, r) => (search.attribution[f] = search.full - d[r]));
  for (const f of nodes) {
    if (search.dead[f]) search.attribution[f] = 0;
    search.measured[f] = 1;
  }
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
 * The smallest prefix of the ranking by |attribution| that keeps enough alone and whose removal costs
 * enough; if none does (the rest of the model can stand in for it), the smallest that keeps enough (all
 * N do). `costly` says which test decided, for pruning to keep.
 */
async function grow(search: Search, tests: Tests): Promise<Grown> {
  const { attribution, measured } = search;
  const all = Array.from({ length: attribution.length }, (_, f) => f);
  const sizes = growthSizes(all.length);
  const prefixes = () => {
    const order = byAttribution(attribution, all);
    return sizes.map((k) => order.slice(0, k));
  };
  let sets = prefixes();
  let only = await onlyEach(search.evaluate, sets);
  let found = await firstCostly(search.evaluate, sets, only, tests);
  // The node whose removal costs enough may sit in a group screening did not split: then rank every node
  // alone. (Doing so also wherever the passing prefix reached into nodes ranked by group only made 5 of
  // 20 networkx positions, with pruned circuits of 22–128 nodes, cost ~400 passes more than no screening
  // at all, to shrink two keyword circuits of 1,453 and 2,272 nodes to 594 and 929: not kept.)
  if (!found && measured.includes(0)) {
    await measureAlone(search, all.filter((f) => !measured[f]));
    sets = prefixes();
    only = await onlyEach(search.evaluate, sets);
    found = await firstCostly(search.evaluate, sets, only, tests);
  }
  if (found) return { ...found, costly: true };
  const k = sets.findIndex((_, i) => tests.enough(only[i]));
  return { set: sets[k], only: only[k], costly: false };
}

/**
 * Drops first the nodes whose removal alone costs the circuit least, as many as still pass the grown
 * circuit's tests (4 rounds at most). Of the smaller sets tried, the one with the most dropped that
 * passes is kept: their differences alone are run for all, their removals (where the removal test
 * counts) from the most dropped down, and only until one passes.
 */
async function prune(search: Search, grown: Grown, tests: Tests): Promise<Candidate> {
  let circuit: Candidate = grown;
  for (let round = 0; round < 4 && circuit.set.length > 1; round++) {
    const set = circuit.set;
    const minusOne = await search.evaluate(set.length, (r, mask) => {
      mask.fill(0); // alone, less node r
      for (const f of set) mask[f] = 1;
      mask[set[r]] = 0;
    });
    const dropOrder = set.map((_, i) => i).sort((a, b) => minusOne[b] - minusOne[a]);
    const counts = growthSizes(set.length - 1);
    const smaller = counts.map((j) => {
      const dropped = new Set(dropOrder.slice(0, j));
      return set.filter((_, i) => !dropped.has(i));
    });
    const only = await onlyEach(search.evaluate, smaller);
    const mostDroppedFirst = smaller.map((_, k) => k).reverse();
    let next: Candidate | undefined;
    if (grown.costly) {
      next = await firstCostly(search.evaluate, mostDroppedFirst.map((k) => smaller[k]), Float64Array.from(mostDroppedFirst, (k) => only[k]), tests);
    } else {
      const k = mostDroppedFirst.find((i) => tests.enough(only[i]));
      next = k === undefined ? undefined : { set: smaller[k], only: only[k] };
    }
    if (!next) break;
    circuit = next;
  }
  return circuit;
}

/**
 * Screening levels: group size, and how many of the level's groups — those whose ablation moves the
 * difference most — are cut into the next level's groups. Contiguous runs of 64 nodes (inside one node
 * location when its width is a multiple of 64), then 16, 4 and single nodes: 44 + 80 + 192 + 384 = 700
 * passes for the shipped model's 2,816 nodes instead of 2,817. A threshold on the effect instead of a
 * count does not save passes: with every position of the window mean-ablated, 80–95 % of the groups of
 * 64 move a difference by over 5 % of it (measured at two networkx positions).
 */
const SCREEN: readonly { readonly size: number; readonly split: number }[] = [
  { size: 64, split: 20 },
  { size: 16, split: 48 },
  { size: 4, split: 96 },
  { size: 1, split: 0 },
];

/**
 * Attribution by levels: the groups of a level are ablated one per mask row, the `split` groups that
 * move the difference most are cut into the next level's, the others' nodes get their group's effect
 * shared evenly. A single node's effect is its attribution (measured[f] = 1). A group of dead nodes
 * only has effect 0 without a row; a dead node in a group with live ones keeps its even share, so that
 * the ranking, and the circuits grown from it, are the ones a search blind to dead nodes finds.
 */
async function screen(evaluate: Evaluate, dead: Uint8Array, full: number): Promise<{ attribution: Float32Array; measured: Uint8Array }> {
  const N = dead.length;
  const attribution = new Float32Array(N);
  const measured = new Uint8Array(N);
  const cut = (lo: number, hi: number, size: number) => Array.from({ length: Math.ceil((hi - lo) / size) }, (_, g) => [lo + g * size, Math.min(hi, lo + (g + 1) * size)] as const);
  let groups = cut(0, N, SCREEN[0].size);
  for (let level = 0; groups.length > 0; level++) {
    const batch = groups;
    const live = batch.map((_, r) => r).filter((r) => dead.subarray(batch[r][0], batch[r][1]).includes(0));
    const d = await evaluate(live.length, (k, mask) => {
      mask.fill(1);
      mask.fill(0, batch[live[k]][0], batch[live[k]][1]);
    });
    const effects = new Float64Array(batch.length); // 0 for a dead group
    live.forEach((r, k) => (effects[r] = full - d[k]));
    const effect = (r: number) => effects[r];
    const bySize = batch.map((_, r) => r).sort((a, b) => Math.abs(effect(b)) - Math.abs(effect(a)));
    const split = new Set(bySize.slice(0, SCREEN[level].split));
    groups = [];
    batch.forEach(([lo, hi], r) => {
      if (hi - lo === 1) {
        attribution[lo] = effect(r);
        measured[lo] = 1;
      } else if (split.has(r)) groups.push(...cut(lo, hi, SCREEN[level + 1].size));
      else attribution.fill(effect(r) / (hi - lo), lo, hi);
    });
  }
  return { attribution, measured };
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
    // a group smaller than lanes × chunk is spread over every lane instead of filling the first ones; a
    // last-layer tail's group only down to `chunk` rows a call, since each call repeats the shared prefix
    const byGroup = groups.map(({ tail, rows: members }) => {
      const cap = tail?.lastLayer ? chunk * LAST_LAYER_CHUNKS : chunk;
      const size = Math.max(1, Math.min(cap, Math.max(tail?.lastLayer ? chunk : 1, Math.ceil(members.length / lanes))));
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
