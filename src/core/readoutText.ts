// The model's prediction at a task point, said in words: which side it expects, how sure it is
// within the task's two-way contrast (the number that decides the task), how likely the side's
// tokens are among all next tokens (why the raw figure can be small while the contrast is sure),
// and whether the document agrees. Shared by every view that shows a readout, so one prediction
// reads the same everywhere. Pure: no `vscode` import.
import type { CircuitFile } from '../schemas/circuit';
import type { ScopeKind } from './taskScope';

export interface PredictionFacts {
  /** The two sides' labels, class 0 first ("double", "single"). */
  readonly labels: readonly [string, string];
  /** A token text that stands for each side ('")', "')"), shown as code. */
  readonly tokens: readonly [string, string];
  /** logsumexp(class-0 logits) − logsumexp(class-1 logits) at the prediction. */
  readonly logitDiff: number;
  /** P(class 0), P(class 1) as next tokens over the whole vocabulary, when known. */
  readonly raw?: readonly [number, number];
  /** The side the document itself has at this point, when it has one of them. */
  readonly truth?: 0 | 1;
  /** The document does not go on at this point yet (the user is typing there): no answer to check. */
  readonly pending?: boolean;
}

export interface PredictionWords {
  /** The side the model prefers. */
  readonly expected: 0 | 1;
  /** P(expected) within the two-way contrast: sigmoid(|logitDiff|). */
  readonly contrastP: number;
  /** undefined where the document has neither side here, or not yet. */
  readonly correct: boolean | undefined;
  /** One sentence, markdown: the side as **label** with its token as code. */
  readonly sentence: string;
}

/**
 * A circuit's prediction in words: its classes' labels and first tokens, the readout, the code's side
 * (`pending`: the code has not written it yet, the task point's `pending`).
 */
export function describeCircuitPrediction(circuit: Pick<CircuitFile, 'classes'>, logitDiff: number, raw: readonly [number, number] | undefined, truth: 0 | 1 | undefined, pending = false): PredictionWords {
  const [a, b] = circuit.classes;
  return describePrediction({ labels: [a.label, b.label], tokens: [a.tokens[0]?.text ?? '', b.tokens[0]?.text ?? ''], logitDiff, raw, truth, pending });
}

export function describePrediction(f: PredictionFacts): PredictionWords {
  const expected: 0 | 1 = f.logitDiff >= 0 ? 0 : 1;
  const contrastP = 1 / (1 + Math.exp(-Math.abs(f.logitDiff)));
  const side = (k: 0 | 1): string => `**${f.labels[k]}** (${tokenCode(f.tokens[k])})`;
  const raw = f.raw ? `; as the next token among all ${percent(f.raw[expected])}` : '';
  const correct = f.truth === undefined ? undefined : f.truth === expected;
  const verdict =
    correct !== undefined
      ? correct
        ? ' Correct here.'
        : ` Wrong here: the code has ${side(f.truth as 0 | 1)}.`
      : f.pending
        ? ' Nothing follows here in the code yet, so the prediction is neither right nor wrong.'
        : ' The code here has neither side, so there is no right answer to check.';
  const sentence = `The model expects ${side(expected)}: ${percent(contrastP)} against ${f.labels[1 - expected]} within the contrast${raw}.${verdict}`;
  return { expected, contrastP, correct, sentence };
}

/** How an ablation moved the preference, from what to what, and whether it flipped. */
export function describeChange(labels: readonly [string, string], before: number, after: number): string {
  const side = (d: number): string => labels[d >= 0 ? 0 : 1];
  const flipped = Math.sign(before) !== Math.sign(after) && after !== 0;
  return `Preference for ${labels[0]} over ${labels[1]} (logit difference) went from ${signed(before)} to ${signed(after)} nats: ${flipped ? `flipped to ${side(after)}` : `still ${side(after)}`}.`;
}

/**
 * Where a task's prediction is read, said before the readout ("At the closing quote on line 3"):
 * `construct` is the text the point closes or follows (the name before ` ==`, `while True`).
 */
export function describePlace(kind: ScopeKind, line: number, construct: string): string {
  if (kind === 'string-close') return `At the closing quote on line ${line}`;
  if (kind === 'list-close') return `At the \`]\` on line ${line}`;
  if (kind === 'anywhere') return `On line ${line}`;
  return `After ${tokenCode(construct)} on line ${line}`;
}

export interface FiringFacts {
  /** The rule's value at the token: a weighted sum of key-node activations (several terms: a log-odds of `labels[positive]`). */
  readonly value: number;
  readonly fires: boolean;
  /** The threshold on |value| in force (the file's, times the threshold scale setting). */
  readonly threshold: number;
  /** How many key nodes the rule reads. */
  readonly terms: number;
  readonly labels: readonly [string, string];
  /** The class a positive value points to. */
  readonly positive: 0 | 1;
  /** Whether the circuit's highlights are drawn (the highlights settings); a rule can fire where nothing is marked. */
  readonly shown: boolean;
}

/**
 * A circuit's firing rule at one token in words, markdown: whether it fires, to which side, what
 * its value is and the threshold it is compared with. Follows "**Title** circuit".
 */
export function describeFiring(f: FiringFacts): string {
  const pos = f.labels[f.positive];
  const neg = f.labels[1 - f.positive];
  const side = f.value > 0 ? pos : neg; // as core/analysis colours it: 0 counts for the other class
  const what =
    f.terms > 1
      ? `its firing rule (the log-odds of ${pos} against ${neg} that ${f.terms} of its key nodes give; below 0 points to ${neg})`
      : `its firing rule (its key node's activation, weighted; above 0 points to ${pos}, below to ${neg})`;
  const threshold = `±${f.threshold.toFixed(2)}`;
  if (!f.fires) return ` is quiet here: ${what} reads ${signed(f.value)}, within ${threshold}, so the token is not marked.`;
  const unmarked = f.shown ? '' : ' Its highlights are off (setting `circuitInspector.highlights.circuits`), so the token is not marked.';
  return ` fires here, pointing to **${side}**: ${what} reads ${signed(f.value)}, beyond ${threshold}.${unmarked}`;
}

/**
 * Where a rule that fires and the model's own prediction at the same token point to different classes
 * (`logitDiff`: class 0 − class 1 there), markdown: the rule reads a few key nodes, and the rest of the
 * model outweighs them, so the mark's side is not the prediction. Undefined where they agree or the rule is quiet.
 */
export function describeRuleAgainstModel(f: FiringFacts, logitDiff: number): string | undefined {
  if (!f.fires) return undefined;
  const byRule = f.value > 0 ? f.positive : 1 - f.positive;
  const byModel = logitDiff >= 0 ? 0 : 1;
  if (byRule === byModel) return undefined;
  const nodes = f.terms === 1 ? 'key node points' : `${f.terms} key nodes point`;
  return `Here the rule and the model part ways: its ${nodes} to **${f.labels[byRule]}**, the whole model to **${f.labels[byModel]}**: the rest of the model outweighs ${f.terms === 1 ? 'it' : 'them'} at this token, so the mark's side is not the model's prediction.`;
}

function percent(p: number): string {
  return `${(100 * p).toFixed(p < 0.01 ? 2 : 1)} %`;
}

function signed(x: number): string {
  return `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;
}

/**
 * A token's text as the product shows it: inline code (markdown, read as-is where none is rendered)
 * that survives backticks, with line breaks and tabs written \n and \t.
 */
export function tokenCode(text: string): string {
  const shown = text.replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  return shown.includes('`') ? `\`\` ${shown} \`\`` : `\`${shown}\``;
}
