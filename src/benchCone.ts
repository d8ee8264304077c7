// The bench's cone rows (issue 21, docs/BENCHMARKS.md "What the cone bought"): the forward passes of a
// cold whole-file analysis, run for the highlights of the circuits the editor shows by default
// (package.json circuitInspector.highlights.circuits) through the smallest cone that covers their
// firing nodes (core/cone) instead of the whole model.
import * as fs from 'fs';
import * as path from 'path';
import type { Bundle } from './core/bundle';
import type { CircuitFile } from './schemas/circuit';
import { coneFor } from './core/cone';
import type { RunInput, Runner } from './core/runner';

export interface ConePasses {
  /** The node location the cone ends at. */
  readonly cone: string;
  /** The recorded passes watching only the circuit's firing nodes, through the full graph: what watching fewer nodes buys alone. */
  readonly firing: RunInput[];
  /** The same through the cone: what the cone buys on top. */
  readonly cone_: RunInput[];
}

interface PackageJson {
  readonly contributes: { readonly configuration: { readonly properties: Record<string, { readonly default?: unknown }> } };
}

/** The circuits whose highlights the editor shows by default (circuitInspector.highlights.circuits in the package.json at `root`); the bundle's first when it names none of them. */
export function shownByDefault(b: Bundle, root: string): CircuitFile[] {
  const pj = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as PackageJson;
  const shown = (pj.contributes.configuration.properties['circuitInspector.highlights.circuits']?.default ?? {}) as Record<string, unknown>;
  const circuits = b.circuits.filter((c) => shown[c.task] === true);
  return circuits.length ? circuits : b.circuits.slice(0, 1);
}

/** The recorded passes watching only the firing nodes of `shown` (shownByDefault), through the full graph and through their cone; none when the bundle has no cone that covers them. */
export function conePasses(b: Bundle, shown: readonly CircuitFile[], r: Runner, batches: readonly RunInput[]): ConePasses | undefined {
  const flats = shown.flatMap((c) => (c.firing?.terms ?? []).map((t) => b.layout.flat(t.node) as number));
  const watch = [...new Set(flats)].sort((x, y) => x - y);
  const cone = watch.length ? coneFor(r.cones, watch) : undefined;
  if (!cone) return undefined;
  const firing = batches.map((x) => ({ ...x, watch }));
  return { cone: cone.upto, firing, cone_: firing.map((x) => ({ ...x, cone: cone.upto })) };
}
