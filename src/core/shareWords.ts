// What "keeps N %" means, in words (issue 19). A circuit's two figures are shares of the full model's
// target − alternative logit difference: with everything outside the circuit ablated, and with the
// circuit ablated. A bare share misleads at both ends: far above 100 % the circuit alone does more than
// the model does (the rest of the model pulls the other way), below 0 the preference flips, and where
// the model barely prefers either token every share is a ratio of two small numbers; and the circuit
// alone is read against every node ablated, which may itself lean to the target. These sentences
// say each case with the logit differences themselves; JSON keeps the numbers only.
import { ADDS_LITTLE, NEAR_TIE, OVERSHOOT } from '../schemas/shares';
import { tokenCode as q } from './readoutText';

/** A contrast's full-model difference (target − alternative) and the token texts, for the sentences. */
export interface Preference {
  readonly full: number;
  readonly target: string;
  readonly alt: string;
}

const abs = (x: number) => Math.abs(x).toFixed(2);

/** The token the sign of a difference favours, then the other one. */
function sides(p: Preference, diff: number): [string, string] {
  return diff >= 0 ? [q(p.target), q(p.alt)] : [q(p.alt), q(p.target)];
}

/** The full model's preference; where it is a near-tie, that the shares below are ratios of small numbers. */
export function fullWords(p: Preference): string {
  const [a, b] = sides(p, p.full);
  if (Math.abs(p.full) < NEAR_TIE) return `the model barely prefers ${a} over ${b} (by ${abs(p.full)}, under ${NEAR_TIE}), so every share of it below is a ratio of small numbers`;
  return `the model prefers ${a} over ${b} by ${abs(p.full)}`;
}

/** The difference with every node ablated, which a circuit alone is read against, and the value ablated nodes took. */
export interface AllAblated {
  readonly diff: number;
  readonly mode: 'mean' | 'zero';
}

/** What the difference with only the circuit kept (`only`) says against the full model's and against every node ablated. */
export function onlyWords(p: Preference, only: number, none: AllAblated): string {
  const kept = only / p.full;
  const [a, b] = sides(p, p.full);
  const [c, d] = sides(p, none.diff);
  const ablated = `with every node ablated (each at ${none.mode === 'mean' ? 'its mean' : 'zero'})`;
  const noNode = none.diff === 0 ? `${ablated} the model prefers neither` : `${ablated} the model prefers ${c} over ${d} by ${abs(none.diff)}`;
  if (Math.abs(only - none.diff) < ADDS_LITTLE * Math.abs(p.full)) {
    return `alone the circuit gives ${only >= 0 ? '+' : '−'}${abs(only)}, what the model gives with no node kept: ${noNode}, so keeping the circuit adds only ${only >= none.diff ? '+' : '−'}${abs(only - none.diff)}; what removing it costs (below) is what marks these nodes here`;
  }
  if (only === 0) return `alone the circuit prefers neither token; ${noNode}`;
  if (kept < 0) return `alone the circuit prefers ${b} over ${a} by ${abs(only)}: on its own it points the other way; ${noNode}`;
  if (kept >= OVERSHOOT) {
    return `alone the circuit prefers ${a} over ${b} by ${abs(only)}, ${kept.toFixed(1)} times the full model's ${abs(p.full)}: the rest of the model pulls toward ${b} by ${abs(only - p.full)}, so the circuit alone overshoots; ${noNode}`;
  }
  return `alone the circuit prefers ${a} over ${b} by ${abs(only)}, against the full model's ${abs(p.full)}; ${noNode}`;
}

/** What the difference with the circuit ablated (`without`) says against the full model's. */
export function withoutWords(p: Preference, without: number): string {
  const left = without / p.full;
  const [a, b] = sides(p, p.full);
  if (left < 0) return `without it the model prefers ${b} over ${a} by ${abs(without)}: removing the circuit flips the preference`;
  if (left > 1) return `without it the model prefers ${a} over ${b} more, by ${abs(without)}: taken together the circuit's nodes pull toward ${b}`;
  const cost = `${Math.round(100 * (1 - left))} %`;
  return `without it the model prefers ${a} over ${b} by ${abs(without)}: removing the circuit costs ${cost} of the preference${left > 0.5 ? ', and the rest of the model keeps the other part' : ''}`;
}

/** What the message needs of ./discoverAt's Discovery (named here, not imported: the webview reads this module and has no Node types). */
interface Found {
  readonly position: { readonly line: number; readonly col: number };
  readonly target: { readonly text: string };
  readonly alt: { readonly text: string };
  readonly full: { readonly logit_diff: number };
  readonly nodes: readonly unknown[];
  readonly mode: 'mean' | 'zero';
  readonly all_ablated: { readonly logit_diff: number };
  readonly circuit_only: { readonly logit_diff: number; readonly kept: number };
  readonly without_circuit: { readonly logit_diff: number; readonly kept: number };
  readonly rows: number;
  readonly ms: number;
  readonly averaged?: { readonly positions: readonly unknown[] };
}

/** "Why this token?"'s message: the circuit's size, then each figure with the logit differences it is made of. */
export function discoverySummary(d: Found): string {
  const pct = (x: number) => `${Math.round(100 * x)} %`;
  const where = d.averaged ? `averaged over ${d.averaged.positions.length} places` : `at ${d.position.line}:${d.position.col}`;
  const p = { full: d.full.logit_diff, target: d.target.text, alt: d.alt.text };
  const sentence = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  return [
    `${d.nodes.length} node${d.nodes.length === 1 ? ' explains' : 's explain'} ${q(d.target.text)} over ${q(d.alt.text)} ${where}; ${fullWords(p)}.`,
    `${sentence(onlyWords(p, d.circuit_only.logit_diff, { diff: d.all_ablated.logit_diff, mode: d.mode }))} (keeps ${pct(d.circuit_only.kept)}).`,
    `${sentence(withoutWords(p, d.without_circuit.logit_diff))} (leaves ${pct(d.without_circuit.kept)}).`,
    `Found in ${(d.ms / 1000).toFixed(1)} s (${d.rows.toLocaleString('en-US')} forward passes).`,
  ].join(' ');
}
