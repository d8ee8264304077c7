// How a long token sequence is cut into windows of the model's context: planWindows is the fixed
// grid below, planContentWindows (further down, the analyser's default) the same rule with
// boundaries chosen by content so that edits stay local.
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

export interface ContentWindowOptions {
  /** Left context every scored position of a later window has (default context − ⌊context/2⌋). */
  readonly left?: number;
  /** Most positions a later window scores (default ⌊context/2⌋); left + maxGap ≤ context. */
  readonly maxGap?: number;
  /** A candidate closer than this to the previous anchor is not one (default ⌊2·maxGap/3⌋). */
  readonly minGap?: number;
  /** About one position in `modulus` is an anchor candidate (default 32). */
  readonly modulus?: number;
}

/**
 * Windows whose boundaries are chosen by content, so that an edit changes only the windows
 * around it. With a fixed grid (planWindows) inserting one token early in a file shifts every
 * later window by one token, and all of them have to be recomputed.
 *
 * Boundaries s_0 = 0 < s_1 < … are anchor positions: p is a candidate when a hash of the tokens
 * at p−2, p−1, p is 0 mod `modulus`, and a candidate becomes an anchor when the previous anchor
 * is at least `minGap` before it. After an edit the anchors fall back onto the old ones at the
 * first candidate both chains keep, so boundaries away from the edit do not move. Gaps longer than
 * `maxGap` are cut evenly between their two anchors (after the last anchor: every maxGap
 * positions, so appending text leaves earlier cuts alone).
 * Window k covers [s_k, s_{k+1} + left) and scores [s_k + left, s_{k+1} + left) — window 0 scores
 * from 0. That is the same rule as the grid: every position is scored in the window where it has
 * the most left context (≥ left, except in window 0), and windows hold at most left + maxGap ≤
 * context positions. Measured on the first 2,000 lines of bench/stdlib-5000.py (W 256, left 64,
 * maxGap 192) over 174 one-character edits: minGap 128 with modulus 32 runs 1.45× the document's
 * tokens cold and an edit recomputes 1 window (median; 93 % of edits ≤ 2, worst 6). Against it:
 * minGap 96 — 1.54×, median 2, worst 7; minGap 160, modulus 16 — 1.40×, median 2, worst 41 (long
 * stretches without an anchor); keeping a candidate by its distance to the previous *candidate*
 * rather than anchor left anchors so rare that an edit recomputed 3 windows (median), worst 13.
 * A second set — an "x" inserted at the start of 174 evenly spaced lines — gives 95 % ≤ 2 and one
 * edit of 24: an edit that makes or removes an anchor can leave the old and new chains out of phase
 * for many anchors. Local-minimum anchors (p is one when its hash is the least within ±64) bound
 * that (worst 3 on the same set) but recompute 2 windows per edit (median) and run 1.54× the
 * tokens cold, so the chain stays.
 */
export function planContentWindows(ids: ArrayLike<number>, context: number, options: ContentWindowOptions = {}): Window[] {
  const n = ids.length;
  const maxGap = options.maxGap ?? Math.floor(context / 2);
  const left = options.left ?? context - maxGap;
  const minGap = options.minGap ?? Math.floor((2 * maxGap) / 3);
  const modulus = options.modulus ?? 32;
  if (!(maxGap >= 1 && left >= 1 && left + maxGap <= context && minGap >= 1 && modulus >= 1)) throw new RangeError(`planContentWindows: context ${context}, left ${left}, maxGap ${maxGap}`);
  if (n <= 0) return [];
  const anchors = [0];
  for (let p = 1; p < n; p++) {
    if (anchorHash(p >= 2 ? ids[p - 2] : -1, ids[p - 1], ids[p]) % modulus !== 0) continue;
    if (p - anchors[anchors.length - 1] >= minGap) anchors.push(p);
  }
  const starts: number[] = [];
  for (let i = 0; i < anchors.length; i++) {
    const a = anchors[i];
    const b = i + 1 < anchors.length ? anchors[i + 1] : undefined;
    starts.push(a);
    if (b === undefined) for (let s = a + maxGap; s < n; s += maxGap) starts.push(s);
    else if (b - a > maxGap) {
      const pieces = Math.ceil((b - a) / maxGap);
      for (let j = 1; j < pieces; j++) starts.push(a + Math.round((j * (b - a)) / pieces));
    }
  }
  const out: Window[] = [];
  for (let k = 0; k < starts.length; k++) {
    const s = starts[k];
    const from = k === 0 ? 0 : left;
    const end = Math.min(n, k + 1 < starts.length ? starts[k + 1] + left : n);
    if (end - s > from) out.push({ start: s, length: end - s, from });
  }
  return out;
}

/** A well-mixed 32-bit hash of three token ids. */
function anchorHash(a: number, b: number, c: number): number {
  let h = Math.imul(a + 1, 0x9e3779b1) ^ Math.imul(b + 7, 0x85ebca77) ^ Math.imul(c + 13, 0xc2b2ae3d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}
