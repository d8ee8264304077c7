// The cones of a bundle (manifest "cones", training/export.py write_cones): graphs that compute the
// model only up to one node location and return only the watched nodes, no logits. A pass that needs
// nothing after that location — the highlights of a circuit whose firing rule reads early nodes —
// runs the smallest cone that covers its watched nodes instead of the whole model (docs/BENCHMARKS.md,
// "What the cone bought"). A bundle without cones runs the full graph, as before.
// Our own kernels (./wasmForward) need no graph: they stop after any node location (kernelCones).
import { coneList } from '../schemas/cones';
import type { Bundle } from './bundle';
import { listedGraphs } from './bundleGraphs';
import type { LayoutEntry } from './nodes';

export interface Cone {
  /** The last node location it computes (a manifest node layout name). */
  readonly upto: string;
  /** Its graph (manifest "cones"); none for a cone only our kernels run (kernelCones). */
  readonly onnxPath?: string;
  /** One past the last flat node index it computes: it covers the nodes below this. */
  readonly end: number;
}

/** A cone with a graph of its own, which onnxruntime runs too. */
export interface GraphCone extends Cone {
  readonly onnxPath: string;
}

/** The bundle's cones, smallest first; none for a bundle exported before them. */
export function bundleCones(bundle: Bundle): GraphCone[] {
  const cones = listedGraphs(bundle, 'cones', coneList, (c) => c.upto, 'a cone up to').map(({ entry, loc, onnxPath }) => ({ upto: entry.upto, onnxPath, end: loc.offset + loc.length }));
  return cones.sort((a, b) => a.end - b.end);
}

/**
 * The cones our kernels run: one at every node location of `layout`, smallest first, each the bundle's
 * graph where `graphs` (bundleCones) has one there. A converted OpenAI model has no cone graphs, so its
 * highlights ran all twelve layers and the logits for firing nodes at layer 7 or before; a cone stops
 * there with the same bits (docs/BENCHMARKS.md, "Session 27").
 */
export function kernelCones(layout: readonly LayoutEntry[], graphs: readonly GraphCone[]): Cone[] {
  return layout.map((e) => graphs.find((g) => g.upto === e.name) ?? { upto: e.name, end: e.offset + e.length }).sort((a, b) => a.end - b.end);
}

/** The smallest cone that computes every node of `watch` (flat indices), or undefined: the full graph. */
export function coneFor(cones: readonly Cone[], watch: readonly number[]): Cone | undefined {
  const last = watch.reduce((m, f) => Math.max(m, f), -1);
  return cones.find((c) => c.end > last);
}
