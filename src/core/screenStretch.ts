// The stretch of a large document around its screen that the editor's first paint is planned from.
// Tokenizing the whole document, its task positions and its windows before the first window ran took
// 0.31–0.45 s of a 5,000-line file's first paint in the editor, beside VS Code's own work on the
// file (docs/BENCHMARKS.md, sessions 28–29); a stretch of a few thousand tokens around the screen
// takes a few milliseconds and gives the screen's windows exactly:
//   - its tokens are the document's own there: it starts and ends at a line whose first character is
//     neither white space nor `/`, where the split patterns of our bundles (tinypython_2k's, and ours
//     with brackets isolated) always end a pre-token (a pre-token that takes a line end goes on only
//     over white space, more line ends, or `/`), and BPE never merges across pre-tokens. The
//     analysis checks the stretch's tokens against the whole document's once it has those, and
//     paints the screen again from the whole plan should they differ (a bundle with another pattern);
//   - its windows are the document's own there (./windows contentWindowsWithin).
import { encodeDocument } from './documentReading';
import type { Encoding, TokenRanges, Tokenizer } from './tokenizer';
import { type Window, withEot } from './windows';

export interface Stretch {
  /** UTF-16 [start, end) of the text the stretch covers. */
  readonly start: number;
  readonly end: number;
  /** Its tokens, offsets from `start`. */
  readonly enc: Encoding;
  /** [EOT] + its token ids [1 + n]: a real EOT when it starts the text, else a placeholder no window reads. */
  readonly seq: Int32Array;
  /** The document's windows that lie within it (in its positions), which score every token of the screen. */
  readonly windows: Window[];
}

/** The document's windows that a stretch's sequence determines (contentWindowsWithin with the analysis's options). */
export type PlanWithin = (seq: Int32Array, edges: { readonly atStart: boolean; readonly atEnd: boolean }) => Window[];

/** Characters on either side of the screen a stretch starts with (~2,400 tokens of Python: 3.3 characters a token), doubled until its windows score the whole screen. */
const FIRST_MARGIN = 8_000;

/**
 * The stretch around `screen` (UTF-16 offsets of `text`) whose windows score all of it, or undefined
 * when no stretch under half the text does (the whole plan then costs little more).
 */
export function screenStretch(tokenizer: Tokenizer, eotId: number, text: string, screen: { readonly start: number; readonly end: number }, planWithin: PlanWithin): Stretch | undefined {
  for (let margin = FIRST_MARGIN; ; margin *= 2) {
    const start = boundaryAtOrBefore(text, screen.start - margin);
    const end = boundaryAtOrAfter(text, screen.end + margin);
    if (2 * (end - start) > text.length) return undefined;
    const enc = encodeDocument(tokenizer, text.slice(start, end));
    const seq = withEot(eotId, enc.ids, enc.ids.length);
    const windows = planWithin(seq, { atStart: start === 0, atEnd: end === text.length });
    if (scoresAll(windows, enc, screen.start - start, screen.end - start)) return { start, end, enc, seq, windows };
  }
}

/** Whether the whole text's tokens (`whole`) are the stretch's over its range. */
export function agreesWith(stretch: Stretch, whole: TokenRanges): boolean {
  const { enc, start } = stretch;
  let lo = 0;
  let hi = whole.ids.length; // the first token starting at or after the stretch
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (whole.starts[mid] < start) lo = mid + 1;
    else hi = mid;
  }
  const n = enc.ids.length;
  if (lo + n > whole.ids.length || (n > 0 && whole.starts[lo] !== start) || (lo + n < whole.ids.length && whole.starts[lo + n] !== stretch.end)) return false;
  for (let i = 0; i < n; i++) if (whole.ids[lo + i] !== enc.ids[i] || whole.starts[lo + i] !== start + enc.starts[i] || whole.ends[lo + i] !== start + enc.ends[i]) return false;
  return true;
}

/** Whether `windows` (consecutive) score every token overlapping [from, to) of the stretch (token i at sequence position i + 1). */
function scoresAll(windows: readonly Window[], enc: Encoding, from: number, to: number): boolean {
  if (!windows.length) return false;
  const first = windows[0].start + windows[0].from - 1; // the first token scored (−1: the EOT, which precedes every token)
  const last = windows[windows.length - 1].start + windows[windows.length - 1].length - 2;
  const n = enc.ids.length;
  return (first <= 0 || enc.starts[first] <= Math.max(0, from)) && (last >= n - 1 || enc.ends[last] >= Math.min(to, enc.ends[n - 1]));
}

/** A line start whose first character is neither white space nor `/` (see the top), or the text's start or end. */
function isBoundary(text: string, i: number): boolean {
  if (i <= 0 || i >= text.length) return true;
  return text.charCodeAt(i - 1) === 10 && !/[\s/]/u.test(text[i]);
}

function boundaryAtOrBefore(text: string, i: number): number {
  for (let at = Math.max(0, i); ; at = text.lastIndexOf('\n', at - 2) + 1) if (isBoundary(text, at)) return at;
}

function boundaryAtOrAfter(text: string, i: number): number {
  for (let at = Math.min(text.length, i); ; ) {
    if (isBoundary(text, at)) return at;
    const nl = text.indexOf('\n', at);
    at = nl < 0 ? text.length : nl + 1;
  }
}
