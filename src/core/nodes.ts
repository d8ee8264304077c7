// Node ids (`{layer}.{attn|mlp}.{site}.{index}`, as in openai/circuit_sparsity) ↔ flat indices of
// the model's node vector, through the bundle's node layout.

export interface LayoutEntry {
  /** `{layer}.{attn|mlp}.{site}`, e.g. `0.attn.v`. */
  readonly name: string;
  readonly offset: number;
  readonly length: number;
}

export class NodeLayout {
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
    const entry = this.byName.get(id.slice(0, dot));
    const index = Number(id.slice(dot + 1));
    if (!entry || !Number.isInteger(index) || index < 0 || index >= entry.length) return undefined;
    return entry.offset + index;
  }

  /** Node id of a flat index. */
  id(flat: number): string {
    for (const e of this.entries) if (flat >= e.offset && flat < e.offset + e.length) return `${e.name}.${flat - e.offset}`;
    throw new RangeError(`flat node index ${flat} is outside the layout (0…${this.count - 1})`);
  }

  /** Problems with the layout itself: gaps, overlaps, a total that disagrees with `count`. */
  problems(count: number): string | undefined {
    let next = 0;
    for (const e of this.entries) {
      if (e.offset !== next) return `location ${e.name} starts at ${e.offset}, expected ${next}`;
      if (!(e.length > 0)) return `location ${e.name} has length ${e.length}`;
      next += e.length;
    }
    return next === count ? undefined : `the layout covers ${next} nodes but nodes.count is ${count}`;
  }
}
