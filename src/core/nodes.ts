// Node ids (`{layer}.{attn|mlp}.{site}.{index}`, as in openai/circuit_sparsity) ↔ flat indices of
// the model's node vector [N], through the bundle's node layout (docs/bundle-format.md): the flat
// index of `L.kind.site.i` is `layout[name == "L.kind.site"].offset + i`.

export interface LayoutEntry {
  /** Node location `{layer}.{attn|mlp}.{site}`, e.g. `0.attn.v`. */
  readonly name: string;
  readonly offset: number;
  readonly length: number;
}

export interface NodeIdParts {
  readonly layer: number;
  readonly kind: 'attn' | 'mlp';
  /** e.g. `v`, `post_act`, `resid_delta`. */
  readonly site: string;
  readonly index: number;
}

const NODE_ID = /^(0|[1-9]\d*)\.(attn|mlp)\.([a-z][a-z_]*)\.(0|[1-9]\d*)$/;
const LOCATION = /^(0|[1-9]\d*)\.(attn|mlp)\.([a-z][a-z_]*)$/;

/** Parts of a node id, or undefined when it is not of the form `{layer}.{attn|mlp}.{site}.{index}`. */
export function parseNodeId(id: string): NodeIdParts | undefined {
  const m = NODE_ID.exec(id);
  return m ? { layer: Number(m[1]), kind: m[2] as 'attn' | 'mlp', site: m[3], index: Number(m[4]) } : undefined;
}

export function formatNodeId(p: NodeIdParts): string {
  return `${p.layer}.${p.kind}.${p.site}.${p.index}`;
}

/** Whether a layout name is a node location `{layer}.{attn|mlp}.{site}`. */
export function isLocationName(name: string): boolean {
  return LOCATION.test(name);
}

export class NodeLayout {
  /** N: one past the last flat index. */
  readonly count: number;
  private readonly byName: Map<string, LayoutEntry>;

  constructor(readonly entries: readonly LayoutEntry[]) {
    this.byName = new Map(entries.map((e) => [e.name, e]));
    const last = entries[entries.length - 1];
    this.count = last ? last.offset + last.length : 0;
  }

  /** Flat index of a node id, or undefined when the layout has no such node. */
  flat(id: string): number | undefined {
    const dot = id.lastIndexOf('.');
    if (dot < 0) return undefined;
    const entry = this.byName.get(id.slice(0, dot));
    const tail = id.slice(dot + 1);
    const index = /^(0|[1-9]\d*)$/.test(tail) ? Number(tail) : -1;
    if (!entry || index < 0 || index >= entry.length) return undefined;
    return entry.offset + index;
  }

  /** Node id of a flat index (entries are contiguous and sorted, so a binary search finds it). */
  id(flat: number): string {
    let lo = 0;
    let hi = this.entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const e = this.entries[mid];
      if (flat < e.offset) hi = mid - 1;
      else if (flat >= e.offset + e.length) lo = mid + 1;
      else return `${e.name}.${flat - e.offset}`;
    }
    throw new RangeError(`flat node index ${flat} is outside the layout (0…${this.count - 1})`);
  }

  /** The layout entry of a location name such as `0.attn.v`. */
  location(name: string): LayoutEntry | undefined {
    return this.byName.get(name);
  }

  /** What is wrong with the layout itself (bad names, gaps, overlaps, a total other than `count`), or undefined. */
  problems(count: number): string | undefined {
    let next = 0;
    const seen = new Set<string>();
    for (const e of this.entries) {
      if (typeof e?.name !== 'string' || !isLocationName(e.name)) return `entry ${JSON.stringify(e?.name)} is not a node location like "0.attn.v"`;
      if (seen.has(e.name)) return `location ${e.name} appears twice`;
      seen.add(e.name);
      if (!Number.isInteger(e.length) || e.length <= 0) return `location ${e.name} has length ${e.length}`;
      if (e.offset !== next) return `location ${e.name} starts at ${e.offset}, expected ${next}`;
      next += e.length;
    }
    return next === count ? undefined : `the layout covers ${next} nodes but nodes.count is ${count}`;
  }
}
