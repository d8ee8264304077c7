// Whether a circuit's own evidence says it carries its task, in words. A circuit pruned from a model
// that cannot do the task (an early bundle's bracket circuit: the model at chance, the circuit keeping
// −68 % of its logit difference) must not be shown like one that does: the hover and the panel
// warn, and its highlights stay off unless the user turns them on. The thresholds are the circuit
// file's (`evidence_thresholds`, docs/bundle-format.md); a file without them makes no claim either
// way. What the circuit alone does on real code is said beside it, whether or not it carries its
// task on its test prompts. Pure: no `vscode` import.
import type { CircuitFile } from '../schemas/circuit';

export interface TaskEvidence {
  /** false: the evidence is below the file's thresholds; undefined: the file sets none. */
  readonly carries: boolean | undefined;
  /** One sentence for a warning; empty when it carries its task or no claim is made. */
  readonly warning: string;
  /**
   * One sentence when the circuit alone does less than half of the model's work on real code (the
   * file's real_code_* metrics, training/evaluate.py): pruned on short prompts, it may leave to other
   * nodes what a file's longer context needs (the shipped bracket circuit keeps a nested close alone
   * with nothing before the line, and loses it with a docstring and two lines before). Empty otherwise.
   */
  readonly realCode: string;
}

const CHANCE = 0.5; // the real-code figures are balanced accuracies over two classes

export function taskEvidence(circuit: Pick<CircuitFile, 'metrics' | 'evidence_thresholds'>): TaskEvidence {
  const t = circuit.evidence_thresholds;
  const loss = circuit.metrics?.task_loss_model;
  const recovered = circuit.metrics?.logit_diff_recovered;
  const realCode = realCodeCaveat(circuit.metrics);
  if (!t || loss === undefined || recovered === undefined) return { carries: undefined, warning: '', realCode };
  const reasons: string[] = [];
  if (loss > t.max_task_loss_model) {
    reasons.push(`the model itself does not do the task (contrast loss ${loss.toFixed(2)}; chance is 0.69, at most ${t.max_task_loss_model.toFixed(2)} needed)`);
  }
  if (recovered < t.min_logit_diff_recovered) {
    reasons.push(`the circuit alone keeps ${Math.round(100 * recovered)} % of the model's logit difference (at least ${Math.round(100 * t.min_logit_diff_recovered)} % needed)`);
  }
  if (reasons.length === 0) return { carries: true, warning: '', realCode };
  return { carries: false, warning: `This circuit does not carry its task: ${reasons.join('; ')}. Its nodes and values are shown, but they do not explain the prediction.`, realCode };
}

function realCodeCaveat(metrics: CircuitFile['metrics']): string {
  const model = metrics?.real_code_model;
  const alone = metrics?.real_code_alone;
  if (model === undefined || alone === undefined || alone - CHANCE >= (model - CHANCE) / 2) return '';
  const pct = (x: number) => `${Math.round(100 * x)} %`;
  return (
    `On real code the model never saw, this circuit alone (every other node ablated) is right at ${pct(alone)} of its task's places, ` +
    `the whole model at ${pct(model)} (chance ${pct(CHANCE)}): it carries the task in the short prompts it was pruned on, ` +
    'but in a file nodes outside it do most of the work, so "Circuit only" can flip the prediction.'
  );
}
