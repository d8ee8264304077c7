// The cones of a bundle (manifest "cones", training/export.py write_cones): graphs that compute the
// model only up to one node location and return only the watched nodes, no logits. A pass that needs
// nothing after that location — the highlights of a circuit whose firing rule reads early nodes —
// runs the smallest cone that covers its watched nodes instead of the whole model (docs/BENCHMARKS.md,
// "What the cone bought"). A bundle without cones runs the full graph, as before.
import * as fs from 'fs';
import * as path from 'path';
import { coneList } from '../schemas/cones';
import { ValidationError, parse } from '../schemas/validate';
import { type Bundle, BundleError } from './bundle';

export interface Cone {
  /** The last node location it computes (a manifest node layout name). */
  readonly upto: string;
  readonly onnxPath: string;
  /** One past the last flat node index it computes: it covers the nodes below this. */
  readonly end: number;
}

const REEXPORT = 're-export the bundle with training/export.py';

/** The bundle's cones, smallest first; none for a bundle exported before them. */
export function bundleCones(bundle: Bundle): Cone[] {
  const raw = bundle.manifest.cones;
  if (raw === undefined) return [];
  let entries;
  try {
    entries = parse(coneList, raw, 'cones');
  } catch (e) {
    throw new BundleError(`Bundle ${bundle.dir}: manifest.json ${(e as ValidationError).message}; ${REEXPORT}.`);
  }
  const cones = entries.map(({ upto, onnx }) => {
    const loc = bundle.layout.location(upto);
    if (!loc) throw new BundleError(`Bundle ${bundle.dir}: manifest.json names a cone up to ${upto}, which is not in its node layout; ${REEXPORT}.`);
    if (path.isAbsolute(onnx) || onnx.split(/[\\/]/).includes('..')) throw new BundleError(`Bundle ${bundle.dir}: manifest.json cone ${upto} must name a file inside the bundle; ${REEXPORT}.`);
    const onnxPath = path.join(bundle.dir, onnx);
    if (!fs.existsSync(onnxPath)) throw new BundleError(`Bundle ${bundle.dir}: ${onnx} (named by manifest.json cones) is missing; ${REEXPORT}.`);
    return { upto, onnxPath, end: loc.offset + loc.length };
  });
  return cones.sort((a, b) => a.end - b.end);
}

/** The smallest cone that computes every node of `watch` (flat indices), or undefined: the full graph. */
export function coneFor(cones: readonly Cone[], watch: readonly number[]): Cone | undefined {
  const last = watch.reduce((m, f) => Math.max(m, f), -1);
  return cones.find((c) => c.end > last);
}
