// A content-addressed cache of per-window results. The key is a hash of the window's token ids
// plus whatever else changes its result (ablation state, scored part), never its position in the
// document: after an edit, every window whose tokens did not change is found again, even if the
// document around it moved. Least-recently-used entries go first when it is full.
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
