// A firing rule (docs/bundle-format.md `firing`) for a circuit found by "Why this token?", so that
// the saved circuit highlights the code where its nodes act as they did at the position it was
// found at. Each node active there weighs in with its attribution per unit of its activation
// there: at the found position the value is the sum of those nodes' attributions (the part of the
// logit difference they carry, to first order), pointing to the target; the rule fires wherever
// the value reaches three quarters of that (at half, a one-node circuit of the shipped model lit
// 68 of the ~110 tokens of a 13-line file: too many to read as "places like this one").
import type { CircuitFile } from '../schemas/circuit';
import type { Discovery } from './discoverAt';

type Firing = NonNullable<CircuitFile['firing']>;

/** The share of the value at the found position where the rule fires. */
const REACH = 0.75;

/** Activations below this are treated as silent (a node the position does not use). */
const SILENT = 1e-6;

/**
 * `activations`: each circuit node's activation at the found position (node id → value). Undefined
 * when no node with an attribution is active there (nothing to recognise the pattern by).
 */
export function foundFiring(found: Pick<Discovery, 'nodes'>, activations: Readonly<Record<string, number>>): Firing | undefined {
  const terms: { node: string; coef: number }[] = [];
  let here = 0;
  for (const n of found.nodes) {
    const a = activations[n.id];
    if (a === undefined || Math.abs(a) < SILENT || n.attribution === 0) continue;
    terms.push({ node: n.id, coef: n.attribution / a });
    here += n.attribution;
  }
  if (terms.length === 0 || here === 0) return undefined;
  // value > 0 points to positive_class: here the value must point to the target (class 0)
  return { terms, threshold: Math.abs(here) * REACH, positive_class: here > 0 ? 0 : 1 };
}
