// The bench's cone rows (issue 21, docs/BENCHMARKS.md "What the cone bought"): the forward passes of a
// cold whole-file analysis, run for the highlights of the circuit the editor shows by default (the
// quote circuit, package.json circuitInspector.highlights.circuits) through the smallest cone that
// covers its firing nodes (core/cone) instead of the whole model.
import type { Bundle } from './core/bundle';
import type { CircuitFile } from './schemas/circuit';
import { coneFor } from './core/cone';
import type { RunInput, Runner } from './core/runner';
import { QUOTE_TASK } from './core/tasks';

export interface ConePasses {
  /** The node location the cone ends at. */
  readonly cone: string;
  /** The recorded passes watching only the circuit's firing nodes, through the full graph: what watching fewer nodes buys alone. */
  readonly firing: RunInput[];
  /** The same through the cone: what the cone buys on top. */
  readonly cone_: RunInput[];
}

/** The circuit whose highlights the editor shows by default (package.json circuitInspector.highlights.circuits), if the bundle has circuits. */
export function shownByDefault(b: Bundle): CircuitFile | undefined {
  return b.circuits.find((c) => c.task === QUOTE_TASK) ?? b.circuits[0];
}

/** The recorded passes watching only the quote circuit's firing nodes, through the full graph and through its cone; none when the bundle has no cone that covers them. */
export function conePasses(b: Bundle, r: Runner, batches: readonly RunInput[]): ConePasses | undefined {
  const circuit = shownByDefault(b);
  const watch = (circuit?.firing?.terms ?? []).map((t) => b.layout.flat(t.node) as number);
  const cone = watch.length ? coneFor(r.cones, watch) : undefined;
  if (!cone) return undefined;
  const firing = batches.map((x) => ({ ...x, watch }));
  return { cone: cone.upto, firing, cone_: firing.map((x) => ({ ...x, cone: cone.upto })) };
}
