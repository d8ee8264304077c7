// The cones of a bundle (manifest "cones", training/export.py write_cones): graphs that compute the
// model only up to one node location and return only the watched nodes, no logits. A pass that needs
// nothing after that location — the highlights of a circuit whose firing rule reads early nodes —
// runs the smallest cone that covers its watched nodes instead of the whole model (docs/BENCHMARKS.md,
// "What the cone bought"). A bundle without cones runs the full graph, as before.
import { coneList } from '../schemas/cones';
import type { Bundle } from './bundle';
import { listedGraphs } from './bundleGraphs';

export interface Cone {
  /** The last node location it computes (a manifest node layout name). */
  readonly upto: string;
  readonly onnxPath: string;
  /** One past the last flat node index it computes: it covers the nodes below this. */
  readonly end: number;
}

/** The bundle's cones, smallest first; none for a bundle exported before them. */
export function bundleCones(bundle: Bundle): Cone[] {
  const cones = listedGraphs(bundle, 'cones', coneList, (c) => c.upto, 'a cone up to').map(({ entry, loc, onnxPath }) => ({ upto: entry.upto, onnxPath, end: loc.offset + loc.length }));
  return cones.sort((a, b) => a.end - b.end);
}

/** The smallest cone that computes every node of `watch` (flat indices), or undefined: the full graph. */
export function coneFor(cones: readonly Cone[], watch: readonly number[]): Cone | undefined {
  const last = watch.reduce((m, f) => Math.max(m, f), -1);
  return cones.find((c) => c.end > last);
}
