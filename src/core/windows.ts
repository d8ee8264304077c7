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

/** [EOT] + ids[0, count) as one array: the sequence windows are planned over. */
export function withEot(eot: number, ids: ArrayLike<number>, count: number): Int32Array {
  const seq = new Int32Array(count + 1);
  seq[0] = eot;
  for (let j = 0; j < count; j++) seq[j + 1] = ids[j];
  return seq;
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
  /** An anchor's hash is the least within this many positions on either side (default maxGap). */
  readonly radius?: number;
}

/**
 * Windows whose boundaries are chosen by content, so that an edit changes only the windows
 * around it. With a fixed grid (planWindows) inserting one token early in a file shifts every
 * later window by one token, and all of them have to be recomputed.
 *
 * Every position p ≥ 1 has a hash of the tokens at p−2, p−1, p. Boundaries s_0 = 0 < s_1 < … are
 * the anchors — positions whose hash is the least within ±`radius` (ties to the earlier) — and, in
 * a gap between two anchors longer than `maxGap`, cuts at the least hash among the positions that
 * leave every piece ≤ maxGap. After the last anchor the cuts fall every maxGap positions, so typing
 * at the end of a file leaves earlier cuts alone. Window k covers [s_k, s_{k+1} + left) and scores
 * [s_k + left, s_{k+1} + left) — window 0 scores from 0. That is the same rule as the grid: every
 * position is scored in the window where it has the most left context (≥ left, except in window
 * 0), and windows hold at most left + maxGap ≤ context positions.
 *
 * Whether a position is a boundary depends only on hashes within about `radius` of it, so an edit
 * moves boundaries only near itself. Measured on the first 2,000 lines of bench/stdlib-5000.py
 * (W 256, left 64, maxGap 192, radius 192), 400 edits of each kind (an "x" inserted mid-line or at
 * a line start, a character deleted, a "(" inserted): 1.42× the document's tokens cold; an edit
 * recomputes 1 window (median), 94–98 % of edits ≤ 2, worst 4–5. The chain rule it replaced (a
 * candidate, hash ≡ 0 mod 32, became an anchor at least 128 after the previous anchor) ran 1.45×
 * with median 1–2 and 93–96 % ≤ 2, but worst 31–33: an edit that made or removed an anchor left the
 * old and new chains out of phase for many anchors. Radius 128 gives 1.44×, worst 4; 256, 1.40×,
 * worst 5. An edit in the last `left` positions a window scores is also the next window's left
 * context, so about left / (mean scored span) of edits recompute 2 windows whatever the rule.
 */
export function planContentWindows(ids: ArrayLike<number>, context: number, options: ContentWindowOptions = {}): Window[] {
  return contentWindowsWithin(ids, context, options, { atStart: true, atEnd: true });
}

/**
 * planContentWindows's windows of a document found from a stretch of it alone, in the stretch's
 * positions: `ids` are the document's sequence from some position on (the stretch's position 0
 * holds a placeholder unless the stretch starts the document: its EOT), up to some position
 * (`edges` says whether the stretch starts or ends the document). A boundary depends only on the
 * hashes within `radius` of it, so an anchor whose ±radius lies inside the stretch is an anchor of
 * the document, and between two such anchors the cuts are the document's too. Returns the windows
 * whose start and next start both follow from the stretch (the document's windows shifted by the
 * stretch's offset, consecutive); none when it holds fewer than two such boundaries. The editor
 * plans a screen of a large file this way before tokenizing the whole of it (./screenStretch).
 */
export function contentWindowsWithin(ids: ArrayLike<number>, context: number, options: ContentWindowOptions, edges: { readonly atStart: boolean; readonly atEnd: boolean }): Window[] {
  const { maxGap, left, radius } = contentParameters(context, options);
  const n = ids.length;
  if (n <= 0) return [];
  const hash = anchorHasher(ids);
  // hash(q) reads the ids at q−2 … q: off the document's start no hash within ±radius may read the placeholder at 0
  const known = localMinima(n, hash, radius).filter((p) => (edges.atStart || p - radius >= 3) && (edges.atEnd || p + radius < n));
  // the document's position 0 always starts window 0 and has no hash
  const anchors = edges.atStart ? [0, ...known] : known;
  return anchors.length ? windowsFrom(startsFrom(anchors, hash, maxGap, n, edges.atEnd), n, left, edges.atStart, edges.atEnd) : [];
}

function contentParameters(context: number, options: ContentWindowOptions): { maxGap: number; left: number; radius: number } {
  const maxGap = options.maxGap ?? Math.floor(context / 2);
  const left = options.left ?? context - maxGap;
  const radius = options.radius ?? maxGap;
  if (!(maxGap >= 1 && left >= 1 && left + maxGap <= context && radius >= 1)) throw new RangeError(`planContentWindows: context ${context}, left ${left}, maxGap ${maxGap}, radius ${radius}`);
  return { maxGap, left, radius };
}

/**
 * hash(p) of the tokens at p−2, p−1, p, recomputed where needed rather than stored: memory stays
 * O(radius + windows) on a document of millions of tokens.
 */
function anchorHasher(ids: ArrayLike<number>): (p: number) => number {
  return (p) => anchorHash(p >= 2 ? ids[p - 2] : -1, ids[p - 1], ids[p]);
}

/** Window starts: the anchors, the cuts between each two, and after the last one (when it ends the sequence: `toEnd`) a cut every maxGap. */
function startsFrom(anchors: readonly number[], hash: (p: number) => number, maxGap: number, n: number, toEnd: boolean): number[] {
  const starts: number[] = [];
  anchors.forEach((a, i) => {
    starts.push(a);
    if (i + 1 < anchors.length) for (const cut of cutsBetween(hash, a, anchors[i + 1], maxGap)) starts.push(cut);
    else if (toEnd) for (let s = a + maxGap; s < n; s += maxGap) starts.push(s);
  });
  return starts;
}

/**
 * Window k covers [s_k, s_{k+1} + left) and scores from s_k + left (from s_k in the document's first
 * window: `fromZero`); the last start's window runs to the end when the starts reach it (`toEnd`), else it is not known.
 */
function windowsFrom(starts: readonly number[], n: number, left: number, fromZero: boolean, toEnd: boolean): Window[] {
  const out: Window[] = [];
  for (let k = 0; k < starts.length; k++) {
    if (k + 1 === starts.length && !toEnd) break;
    const s = starts[k];
    const from = k === 0 && fromZero ? 0 : left;
    const end = Math.min(n, k + 1 < starts.length ? starts[k + 1] + left : n);
    if (end - s > from) out.push({ start: s, length: end - s, from });
  }
  return out;
}

/**
 * Positions 1 ≤ p < n whose (hash, p) is the least in [p − radius, p + radius]: one pass with a
 * monotone deque (a ring of 2·radius + 2 entries: it never holds more than the window's positions).
 */
function localMinima(n: number, hash: (p: number) => number, radius: number): number[] {
  const out: number[] = [];
  const size = 2 * radius + 2;
  const pos = new Int32Array(size); // positions with increasing hashes; equal hashes keep the earlier
  const val = new Float64Array(size); // their hashes
  let head = 0; // ring indices, taken mod size
  let tail = 0;
  let next = 1;
  for (let p = 1; p < n; p++) {
    for (const last = Math.min(n - 1, p + radius); next <= last; next++) {
      const h = hash(next);
      while (tail > head && val[(tail - 1) % size] > h) tail--;
      pos[tail % size] = next;
      val[tail++ % size] = h;
    }
    while (pos[head % size] < p - radius) head++;
    if (pos[head % size] === p) out.push(p);
  }
  return out;
}

/** Cuts in (a, b) so that no piece exceeds maxGap, each at the least hash (the earliest of equals) where it can go. */
function cutsBetween(hash: (p: number) => number, a: number, b: number, maxGap: number): number[] {
  const cuts: number[] = [];
  while (b - a > maxGap) {
    const pieces = Math.ceil((b - a) / maxGap);
    let cut = Math.max(a + 1, b - (pieces - 1) * maxGap);
    let least = hash(cut);
    for (let q = cut + 1, last = a + maxGap; q <= last; q++) {
      const h = hash(q);
      if (h < least) [cut, least] = [q, h];
    }
    cuts.push(cut);
    a = cut;
  }
  return cuts;
}

/** A well-mixed 32-bit hash of three token ids. */
function anchorHash(a: number, b: number, c: number): number {
  let h = Math.imul(a + 1, 0x9e3779b1) ^ Math.imul(b + 7, 0x85ebca77) ^ Math.imul(c + 13, 0xc2b2ae3d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/** The window that scores sequence position p (the scored parts tile the sequence exactly once). */
export function scoringWindow(windows: readonly Window[], p: number): Window {
  let lo = 0;
  let hi = windows.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (windows[mid].start + windows[mid].from <= p) lo = mid;
    else hi = mid - 1;
  }
  return windows[lo];
}
