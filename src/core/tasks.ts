// What the editor knows about each task it can point at in code: the task names, where in a
// string or list the model's prediction is read, which class the code itself says is right, and
// which tokens belong to the contrast. Pure (./codeContext scans the text), so it is unit-tested
// in plain Node and shared by the hover and the circuit controller.
import { listAt, stringAt } from './codeContext';

/** The closing quote of a string: `"` (class 0) vs `'` (class 1). */
export const QUOTE_TASK = 'single_double_quote';
/** Closing a list: `]]` when nested (class 0) vs `]` (class 1). */
export const BRACKET_TASK = 'bracket_counting';

/** The task whose syntax encloses `offset`: inside a string → quote, inside a list → bracket. */
export function taskAt(text: string, offset: number, has: (task: string) => boolean): string | undefined {
  if (stringAt(text, offset) && has(QUOTE_TASK)) return QUOTE_TASK;
  if (listAt(text, offset) && has(BRACKET_TASK)) return BRACKET_TASK;
  return undefined;
}

/** The offset at which the model's prediction for this string or list is read: just before its close. */
export function closingPoint(text: string, offset: number, task: string): number | undefined {
  const span = task === QUOTE_TASK ? stringAt(text, offset) : task === BRACKET_TASK ? listAt(text, offset) : undefined;
  return span && span.close > span.open ? span.close - 1 : undefined;
}

/** The class the code itself says is right: the string's quote, or whether the list is nested. */
export function groundTruth(text: string, offset: number, task: string): 0 | 1 | undefined {
  if (task === QUOTE_TASK) {
    const s = stringAt(text, offset);
    return s ? (s.quote === '"' ? 0 : 1) : undefined;
  }
  if (task === BRACKET_TASK) {
    const l = listAt(text, offset);
    return l ? (l.depth >= 2 ? 0 : 1) : undefined;
  }
  return undefined;
}

/** Whether a token's text is one the task's contrast is about (a quote, a bracket). */
export function isContrastToken(task: string, text: string): boolean {
  if (task === QUOTE_TASK) return /["']/.test(text);
  if (task === BRACKET_TASK) return /[[\]]/.test(text);
  return false;
}
