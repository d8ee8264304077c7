// The line under the panel's faithfulness meter: what the share is, and where it misleads (a near-tie,
// a circuit that alone overshoots the model or gives no more than every node ablated), by the thresholds
// the host's words use (src/schemas/shares).
import type { AblationMode } from '../schemas/messages';
import { ADDS_LITTLE, NEAR_TIE, OVERSHOOT } from '../schemas/shares';
import { formatRatio } from './format';

/**
 * The panel's line under its faithfulness meter: what the share is; why it means little at a near-tie or
 * where every node ablated gives as much (`allAblated`, the same kind of share); what a share past
 * OVERSHOOT means. `fullDiff`: the full model's target − alternative; `mode`: the value ablated nodes take.
 */
export function faithfulnessWords(fullDiff: number, faithfulness: number | null, allAblated: number | null, mode: AblationMode): string {
  const what = 'Faithfulness: the logit difference with only the circuit kept (every other node ablated), as a share of the full model’s; 100 % = the circuit alone does what the model does.';
  if (Math.abs(fullDiff) < NEAR_TIE) return `${what} Here the full model barely prefers either side (|logit diff| < ${NEAR_TIE}), so the ratio says little.`;
  if (faithfulness !== null && allAblated !== null && Math.abs(faithfulness - allAblated) < ADDS_LITTLE) {
    return `${what} Here every node ablated gives as much (${formatRatio(allAblated)}): the nodes at ${mode === 'mean' ? 'their means' : 'zero'} alone lean this way, so keeping the circuit adds little and the share says nothing of it; ablating its nodes shows what they carry.`;
  }
  if (faithfulness !== null && faithfulness >= OVERSHOOT) {
    return `${what} Here the circuit alone overshoots: its difference is ${faithfulness.toFixed(1)} times the full model’s, because the nodes outside it pull toward the ${fullDiff > 0 ? 'alternative' : 'target'}.`;
  }
  return what;
}
