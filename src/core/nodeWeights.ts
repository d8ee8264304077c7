// The bundle's node_weights.bin (docs/bundle-format.md): the nonzero weights joining node
// locations, and the unembedding. A circuit found in the editor gets its edges from here the way
// training/evidence.py's circuit_edges gets a pruned circuit's from the PyTorch weights.
import * as fs from 'fs';
import * as path from 'path';
import type { Bundle } from './bundle';

export interface Edge {
  readonly source: string;
  readonly target: string;
  readonly weight: number;
}

/** The output node of a found circuit's graph (it is not a node of the model). */
export const OUTPUT_NODE = 'output';

interface Matrix {
  /** Location names, e.g. `0.attn.act_in` → `0.attn.q`; the unembedding is `resid` → `logits`. */
  readonly source: string;
  readonly target: string;
  /** Source index, target index, weight per nonzero entry. */
  readonly src: Int32Array;
  readonly dst: Int32Array;
  readonly w: Float32Array;
}

export class NodeWeights {
  private constructor(private readonly matrices: readonly Matrix[]) {}

  /** The bundle's weights file, or a one-sentence Error saying why there is none. */
  static load(bundle: Bundle): NodeWeights {
    const entry = bundle.manifest.weights as { file?: unknown; matrices?: unknown } | undefined;
    const list = entry?.matrices;
    if (typeof entry?.file !== 'string' || !Array.isArray(list)) throw new Error(`the bundle ${bundle.name} has no node_weights.bin (needed for a circuit's edges); re-export it with training/export.py`);
    const file = path.join(bundle.dir, entry.file);
    const raw = fs.readFileSync(file);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const matrices: Matrix[] = [];
    let at = 0;
    for (const m of list as { source: string; target: string; count: number }[]) {
      if (at + 12 * m.count > raw.byteLength) throw new Error(`${file} is shorter than manifest.json's weights say; re-export the bundle with training/export.py`);
      const [src, dst, w] = [new Int32Array(m.count), new Int32Array(m.count), new Float32Array(m.count)];
      for (let i = 0; i < m.count; i++, at += 12) {
        src[i] = view.getInt32(at, true);
        dst[i] = view.getInt32(at + 4, true);
        w[i] = view.getFloat32(at + 8, true);
      }
      matrices.push({ source: m.source, target: m.target, src, dst, w });
    }
    return new NodeWeights(matrices);
  }

  /**
   * The nonzero weights between nodes of the set (ids `{location}.{index}`), and into the output
   * node: from every kept residual write (`resid_delta`) channel c whose unembedding differs between
   * the target and alternative tokens, weight W_U[target, c] − W_U[alt, c] (final norm's gain folded in).
   */
  edges(nodes: readonly string[], target: number, alt: number): Edge[] {
    const byLocation = new Map<string, Map<number, string>>();
    for (const id of nodes) {
      const dot = id.lastIndexOf('.');
      const loc = id.slice(0, dot);
      if (!byLocation.has(loc)) byLocation.set(loc, new Map());
      byLocation.get(loc)?.set(Number(id.slice(dot + 1)), id);
    }
    const edges: Edge[] = [];
    const toOutput = new Map<number, number>(); // residual channel → W_U[target, c] − W_U[alt, c]
    for (const m of this.matrices) {
      if (m.target === 'logits') {
        for (let i = 0; i < m.w.length; i++) if (m.dst[i] === target || m.dst[i] === alt) toOutput.set(m.src[i], (toOutput.get(m.src[i]) ?? 0) + (m.dst[i] === target ? m.w[i] : -m.w[i]));
        continue;
      }
      const from = byLocation.get(m.source);
      const to = byLocation.get(m.target);
      if (!from || !to) continue;
      for (let i = 0; i < m.w.length; i++) {
        const s = from.get(m.src[i]);
        const t = to.get(m.dst[i]);
        if (s !== undefined && t !== undefined) edges.push({ source: s, target: t, weight: round(m.w[i]) });
      }
    }
    for (const [loc, ids] of byLocation) {
      if (!loc.endsWith('resid_delta')) continue;
      for (const [c, id] of ids) {
        const w = toOutput.get(c) ?? 0;
        if (w !== 0) edges.push({ source: id, target: OUTPUT_NODE, weight: round(w) });
      }
    }
    return edges;
  }
}

const round = (x: number): number => Math.round(x * 1e5) / 1e5;
