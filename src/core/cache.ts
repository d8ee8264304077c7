// A content-addressed cache of per-window results. The key is a hash of the window's token ids
// plus whatever else changes its result (ablation state, scored part), never its position in the
// document: after an edit, every window whose tokens did not change is found again, even if the
// document around it moved. Least-recently-used entries go first when it is full. What a window
// keeps is held by name (Columns: node activations, class-token logits), so circuits added later
// run only for what no earlier run read.
import { createHash } from 'crypto';

export function windowKey(ids: ArrayLike<number>, extra: string): string {
  const h = createHash('sha1');
  h.update(Buffer.from(Int32Array.from(ids as ArrayLike<number>).buffer));
  h.update('\0');
  h.update(extra);
  return h.digest('base64');
}

export class WindowCache<V> {
  private readonly map = new Map<string, V>();

  constructor(readonly capacity = 2000) {}

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    // Map iterates in insertion order: re-inserting marks the entry most recently used
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: string, v: V): void {
    this.map.delete(key);
    this.map.set(key, v);
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}

/** Where one named column's values live: column `col` of a [rows, width] row-major block. */
interface Slot {
  readonly block: Float32Array;
  readonly width: number;
  readonly col: number;
}

/**
 * Named float columns over a window's scored positions (rows): node activations by flat index, or
 * logits by vocabulary id, gathered from every run made over the window. A circuit added later
 * needs a run only for the names no earlier run read (`missing`), and a circuit removed costs
 * nothing: its columns simply stay unread. Blocks are never written once added, so a block that
 * `read` returns may be held by its caller.
 */
export class Columns {
  private readonly at = new Map<number, Slot>();

  constructor(readonly rows: number) {}

  /** The names among `names` that no block holds. */
  missing(names: readonly number[]): number[] {
    return names.filter((n) => !this.at.has(n));
  }

  /** Adds a block [rows, names.length]; a name already held keeps the values it has. */
  add(names: readonly number[], block: Float32Array): void {
    names.forEach((n, col) => {
      if (!this.at.has(n)) this.at.set(n, { block, width: names.length, col });
    });
  }

  /**
   * The columns `names` (all held) as the first names.length columns of one block [rows, width].
   * When one block holds exactly them there (a block as a run added it, or one that also holds a
   * removed circuit's columns after them) it is returned as it is; otherwise they are copied into a
   * new block that from then on holds them, so the next read of the same names costs no copy, and
   * blocks that fewer than half their columns still use are compacted, so that no block is kept
   * alive by a few columns of it.
   */
  read(names: readonly number[]): { readonly block: Float32Array; readonly width: number } {
    const first = names.length ? this.at.get(names[0]) : undefined;
    if (first && names.every((n, k) => this.at.get(n)?.block === first.block && this.at.get(n)?.col === k)) return { block: first.block, width: first.width };
    const out = this.gather(names);
    this.place(names, out);
    const users = new Map<Float32Array, number[]>();
    for (const [n, s] of this.at) {
      const held = users.get(s.block);
      if (held) held.push(n);
      else users.set(s.block, [n]);
    }
    for (const held of users.values()) if (held.length * 2 < (this.at.get(held[0]) as Slot).width) this.place(held, this.gather(held));
    return { block: out, width: names.length };
  }

  /** A copy of the columns `names` [rows, names.length], row by row in runs of columns that lie side by side in one block. */
  private gather(names: readonly number[]): Float32Array {
    const K = names.length;
    const runs: { block: Float32Array; width: number; from: number; to: number; length: number }[] = [];
    names.forEach((n, k) => {
      const s = this.at.get(n);
      if (!s) throw new RangeError(`column ${n} was never added`);
      const last = runs[runs.length - 1];
      if (last && last.block === s.block && last.from + last.length === s.col) last.length++;
      else runs.push({ block: s.block, width: s.width, from: s.col, to: k, length: 1 });
    });
    const out = new Float32Array(this.rows * K);
    for (let r = 0; r < this.rows; r++) {
      for (const run of runs) out.set(run.block.subarray(r * run.width + run.from, r * run.width + run.from + run.length), r * K + run.to);
    }
    return out;
  }

  /** From now on the columns `names` are read from `block` [rows, names.length]. */
  private place(names: readonly number[], block: Float32Array): void {
    names.forEach((n, col) => this.at.set(n, { block, width: names.length, col }));
  }
}
