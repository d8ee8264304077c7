// The lines at which a share of the full model's logit difference stops reading as "the circuit does
// N % of what the model does" (issue 19): where the host words discover's figures (src/core/shareWords)
// and where the panel words its faithfulness (src/webview/faithfulnessWords).

/**
 * Below this |full logit difference| (P 62 % against 38 % between the two tokens) the model barely
 * prefers either, and a share of it says little.
 */
export const NEAR_TIE = 0.5;

/**
 * Circuit-only shares from here on are said to overshoot: 1 / 0.8, the mirror of the 80 % a found circuit
 * must keep. Past it the rest of the model takes back more than the fifth of the preference a circuit may
 * miss by, so "keeps N %" no longer reads as "does what the model does".
 */
export const OVERSHOOT = 1.25;

/**
 * A circuit alone within this share of the full model's difference of every node ablated adds little: it
 * gives what no node at all gives (the means alone may lean to the target), so its share says nothing of
 * what the circuit does, and only what ablating its nodes costs does.
 */
export const ADDS_LITTLE = 0.1;
