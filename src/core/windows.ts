// How a long token sequence is cut into windows of the model's context.
//
// The sequence is [EOT] + the document's tokens: in training every file followed an end-of-text
// token, so position 0 is always the EOT and document token i sits at sequence position i + 1.
// Window k covers positions [k·S, k·S + W) (W = context, S = stride = W/2 by default; the last
// window may be shorter). Each position takes its result from the window in which it has the most
// left context: window 0 scores all its positions (nothing earlier exists), every later window
// scores only its second part [k·S + (W − S), k·S + W), whose positions have ≥ W − S tokens of left
// context inside the window. The scored parts tile the sequence exactly once. A later window is
// made only when it scores something.

export interface Window {
  /** First sequence position in the window. */
  readonly start: number;
  /** Positions in the window (T ≤ context). */
  readonly length: number;
  /** Offset inside the window of the first scored position; it scores [start + from, start + length). */
  readonly from: number;
}

export function planWindows(n: number, context: number, stride = Math.floor(context / 2)): Window[] {
  if (!(context >= 2 && stride >= 1 && stride <= context)) throw new RangeError(`planWindows: context ${context}, stride ${stride}`);
  const out: Window[] = [];
  if (n <= 0) return out;
  out.push({ start: 0, length: Math.min(context, n), from: 0 });
  const skip = context - stride; // left context every scored position of a later window has
  for (let start = stride; start + skip < n; start += stride) out.push({ start, length: Math.min(context, n - start), from: skip });
  return out;
}
