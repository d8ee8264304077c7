// Which graph each ablation row of "Why this token?" (./discover) runs through. A row that ablates one node
// changes nothing before that node's location, and a batch of rows that agree on every node before a
// location can share the model up to there: the bundle's tail from that location (./tails) computes it
// once and only the rest per row — for a last-layer node, one position's work instead of a whole window's
// (docs/BENCHMARKS.md, "tail graphs"). Rows are grouped by the latest tail before which they agree with
// at least one other row; the others run through model.onnx. Grouping never changes a row's result.

/** What routing needs of a tail (./tails Tail). */
export interface TailStart {
  /** Its first node location (RunInput.tail). */
  readonly from: string;
  /** The flat index of from's first node: a group's rows agree on every node below it. */
  readonly start: number;
  /** Whether from lies in the last layer, where a row costs little. */
  readonly lastLayer: boolean;
}

export interface RowGroup {
  /** The tail its rows run through; none: model.onnx. */
  readonly tail?: TailStart;
  /** Indices of its rows, ascending. */
  readonly rows: readonly number[];
}

/**
 * Groups the `rows` mask rows of `masks` [rows, N] by tail: for each tail, latest first, rows not yet in a
 * group whose values before its start are the same as at least one other's form a group (all of them
 * equal). Rows left over form the one group without a tail. `tails` is sorted by start.
 */
export function routeRows(masks: Float32Array, rows: number, N: number, tails: readonly TailStart[]): RowGroup[] {
  const bits = new Uint32Array(masks.buffer, masks.byteOffset, rows * N); // exact equality of the float values
  const K = tails.length;
  const hashes = prefixHashes(bits, rows, N, tails); // [rows, K]
  const samePrefix = (a: number, b: number, end: number) => {
    for (let j = 0; j < end; j++) if (bits[a * N + j] !== bits[b * N + j]) return false;
    return true;
  };
  const grouped = new Uint8Array(rows);
  const groups: RowGroup[] = [];
  for (let k = K - 1; k >= 0; k--) {
    const byHash = new Map<number, number[]>();
    for (let r = 0; r < rows; r++) {
      if (grouped[r]) continue;
      const h = hashes[r * K + k];
      const bucket = byHash.get(h);
      if (bucket) bucket.push(r);
      else byHash.set(h, [r]);
    }
    for (const bucket of byHash.values()) {
      // a hash collision leaves a row out of its bucket's group, never in a wrong one
      const members = bucket.filter((r) => samePrefix(bucket[0], r, tails[k].start));
      if (members.length < 2) continue;
      for (const r of members) grouped[r] = 1;
      groups.push({ tail: tails[k], rows: members });
    }
  }
  const rest = Array.from({ length: rows }, (_, r) => r).filter((r) => !grouped[r]);
  if (rest.length) groups.push({ rows: rest });
  return groups;
}

/** Per row, a 32-bit FNV-1a hash of its values before each tail's start [rows, K]. */
function prefixHashes(bits: Uint32Array, rows: number, N: number, tails: readonly TailStart[]): Uint32Array {
  const K = tails.length;
  const out = new Uint32Array(rows * K);
  for (let r = 0; r < rows; r++) {
    let h = 0x811c9dc5;
    let j = r * N;
    for (let k = 0; k < K; k++) {
      const end = r * N + tails[k].start;
      for (; j < end; j++) h = Math.imul(h ^ bits[j], 0x01000193);
      out[r * K + k] = h >>> 0;
    }
  }
  return out;
}
