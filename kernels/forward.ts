// The forward pass's kernels, in AssemblyScript, compiled to WebAssembly (SIMD) by `npm run build`
// (esbuild.config.mjs) and driven by src/core/wasmForward.ts, which lays out this module's memory:
// every pointer here is a byte offset into it, and every matrix is row-major f32. Widths are multiples
// of 4 (the host checks). onnxruntime's CPU graph spends ~43 % of a window in TopK and most of the rest in
// ~380 small ops; here AbsTopK is a bit-wise threshold search, the products skip zero inputs and weights, and
// each step is one call (docs/BENCHMARKS.md, "Session 18").

// Zeroes `bytes` (a multiple of 16) at p. memory.fill is a call out of the module in V8, which cost more
// than the stores themselves at these sizes (zeroing a 1 KB histogram a row: 0.78 → 0.49 µs a row of 128).
// @ts-ignore: decorator
@inline
function zero(p: usize, bytes: usize): void {
  for (let b: usize = 0; b < bytes; b += 16) v128.store(p + b, i32x4.splat(0));
}

// ---- AbsTopK: keep the k largest |x| of each row (ties at the threshold kept), zero the rest ----
// The threshold is the k-th largest |x|, built one bit at a time from the top (for non-negative floats the
// bit patterns order as the values do): a candidate with the next bit set stays when at least k keys reach
// it, counted four lanes at a time. Once exactly k keys reach the candidate it keeps the same set as the
// k-th largest itself would, so the search stops there (after 13 of ~30 bits on the model's rows). Exact,
// with no comparison sort; 0.27–0.49 µs a row of 128 against 0.83–0.96 for the byte-wise radix selection
// it replaced (session 24: a histogram per byte cost more than the counting at these widths).
// Neighbouring rows (positions) of one site keep thresholds of about one size, so the binade of the
// previous row's threshold is tried first (bracketRow): where it holds this row's threshold, the search
// starts below the exponent bits, and otherwise it runs from the top as before. Which path found the
// threshold cannot change the kept set: both keep every key at or above the k-th largest.
export function absTopK(x: usize, rows: i32, n: i32, k: i32, scratch: usize): void {
  const keys = scratch; // n u32: |x|'s bits, so that each count is a load and a compare
  const narrow = scratch + (<usize>n << 2); // n + 4 u32: the keys still open (narrowKeys)
  const low31 = i32x4.splat(0x7fffffff);
  let previous: u32 = 0; // the last row's threshold (0: none yet)
  for (let r = 0; r < rows; r++) {
    const row = x + ((<usize>r * <usize>n) << 2);
    let mx = i32x4.splat(0);
    let mn = low31;
    for (let i = 0; i < n; i += 4) {
      const key = v128.and(v128.load(row + (<usize>i << 2)), low31);
      v128.store(keys + (<usize>i << 2), key);
      mx = i32x4.max_u(mx, key);
      mn = i32x4.min_u(mn, key);
    }
    const kmax = max(max(i32x4.extract_lane(mx, 0) as u32, i32x4.extract_lane(mx, 1) as u32), max(i32x4.extract_lane(mx, 2) as u32, i32x4.extract_lane(mx, 3) as u32));
    const kmin = min(min(i32x4.extract_lane(mn, 0) as u32, i32x4.extract_lane(mn, 1) as u32), min(i32x4.extract_lane(mn, 2) as u32, i32x4.extract_lane(mn, 3) as u32));
    let thresh: u32 = kmax;
    if (kmax != kmin) {
      // every key shares the bits above the highest bit where max and min differ
      const top = 31 - <i32>clz(kmax ^ kmin);
      thresh = kmax & ~((<u32>2 << <u32>top) - 1);
      // Once the bits above `bit` are decided, the threshold lies in [thresh, thresh + 2^bit): keys at or
      // past its end always reach it, keys below thresh never do, and only the keys between are worth
      // counting. How many there are follows from the counts themselves (from − past); when they are a
      // quarter of the keys counted, they are copied out (narrowKeys) and the next counts read them alone,
      // adding the keys past the end that the copy left out.
      let base = keys;
      let counted = n; // keys at base (a multiple of 4)
      let left = 0; // keys not copied to base that reach every candidate from then on
      let from = n; // keys ≥ thresh
      let past = 0; // keys ≥ thresh + 2^(bit + 1)
      let bit = top;
      if (previous != 0 && <u32>top >= BRACKET_BITS && bracketRow(keys, n, k, previous & ~((<u32>1 << BRACKET_BITS) - 1))) {
        thresh = bracketLow;
        from = bracketFrom;
        past = bracketPast;
        bit = from == k ? -1 : BRACKET_BITS - 1; // exactly k reach the binade's low end: they are the k kept
      }
      for (; bit >= 0; bit--) {
        // the open keys, [thresh, thresh + 2^(bit + 1)), copied out once they are a quarter of those counted
        if (counted > NARROW_ABOVE && (from - past) * 4 <= counted) {
          counted = narrowKeys(base, counted, thresh, <u32>2 << <u32>bit, narrow);
          base = narrow;
          left = past;
        }
        const candidate = thresh | (<u32>1 << <u32>bit);
        const reach = left + countAtLeast(base, counted, candidate);
        if (reach >= k) {
          thresh = candidate;
          if (reach == k) break;
          from = reach;
        } else {
          past = reach;
        }
      }
    }
    previous = thresh;
    const t = f32x4.splat(reinterpret<f32>(thresh));
    for (let i = 0; i < n; i += 4) {
      const p = row + (<usize>i << 2);
      const v = v128.load(p);
      v128.store(p, v128.and(v, f32x4.ge(f32x4.abs(v), t)));
    }
  }
}

// The bits of a threshold's binade (its sign and exponent): the bracket tried first is one binade,
// [low, low + 2^23). Measured on a 256-position window's rows (key visits of the search): trusting the
// exponent alone ×0.53 (yolo1-shaped) and ×0.66 (ours), half a binade ×0.55 and ×0.71, two binades ×0.74 (ours).
const BRACKET_BITS: u32 = 23;

// bracketRow's answer: the bracket's low end, and how many keys reach it and its high end.
let bracketLow: u32 = 0;
let bracketFrom: i32 = 0;
let bracketPast: i32 = 0;

// Whether the k-th largest of the n keys lies in [low, low + 2^BRACKET_BITS) — at least k keys reach low and
// fewer reach its end — or, when it lies just below or just above, in that neighbouring binade (one count
// more: a threshold that moved across a binade edge). On true, bracketLow/From/Past say which and its counts.
// @ts-ignore: decorator
@inline
function bracketRow(keys: usize, n: i32, k: i32, low: u32): bool {
  const span = <u32>1 << BRACKET_BITS;
  const counts = countTwo(keys, n, low, low + span);
  let from = <i32>(counts >> 32);
  let past = <i32>counts;
  if (from < k) {
    if (low < span) return false;
    past = from;
    low -= span;
    from = countAtLeast(keys, n, low);
  } else if (past >= k) {
    if (low + span > 0x7f800000) return false; // past +∞: no key reaches it
    low += span;
    from = past;
    past = countAtLeast(keys, n, low + span);
  }
  if (from < k || past >= k) return false;
  bracketLow = low;
  bracketFrom = from;
  bracketPast = past;
  return true;
}

// How many of the n keys reach a, and how many reach b (high and low 32 bits), in one pass; as countAtLeast.
// @ts-ignore: decorator
@inline
function countTwo(keys: usize, n: i32, a: u32, b: u32): u64 {
  const belowA = i32x4.splat(<i32>a - 1);
  const belowB = i32x4.splat(<i32>b - 1);
  let accA = i32x4.splat(0);
  let accB = i32x4.splat(0);
  for (let i = 0; i < n; i += 4) {
    const key = v128.load(keys + (<usize>i << 2));
    accA = i32x4.sub(accA, i32x4.gt_s(key, belowA));
    accB = i32x4.sub(accB, i32x4.gt_s(key, belowB));
  }
  const ca = i32x4.extract_lane(accA, 0) + i32x4.extract_lane(accA, 1) + i32x4.extract_lane(accA, 2) + i32x4.extract_lane(accA, 3);
  const cb = i32x4.extract_lane(accB, 0) + i32x4.extract_lane(accB, 1) + i32x4.extract_lane(accB, 2) + i32x4.extract_lane(accB, 3);
  return (<u64>ca << 32) | <u64>(<u32>cb);
}

// Rows of up to this many keys are counted whole: copying out their open keys cost more than it saved
// (Gaussian rows, docs/BENCHMARKS.md session 30: ×1.14 at 128 keys; with it, ×0.90, 0.83, 0.74 at 512,
// 1,024 and 4,096).
const NARROW_ABOVE = 128;

// Byte indices for i8x16.swizzle that move the lanes a 4-bit mask selects to the front of a vector (the
// other bytes 0x80, which swizzle turns into 0): PACK + 16·mask.
const PACK = memory.data(256);
for (let mask = 0; mask < 16; mask++) {
  let at = 0;
  for (let lane = 0; lane < 4; lane++) if ((mask >> lane) & 1) for (let b = 0; b < 4; b++) store<u8>(PACK + <usize>(mask * 16 + at++), lane * 4 + b);
  for (; at < 16; at++) store<u8>(PACK + <usize>(mask * 16 + at), 0x80);
}

// Of the n keys (n a multiple of 4), those in [low, low + span) go to out, in order, four lanes at a time,
// then zeros up to a multiple of 4 (a zero key reaches no candidate); out may be keys itself (each write
// lands on keys already read). Returns how many it wrote, zeros included.
// @ts-ignore: decorator
@inline
function narrowKeys(keys: usize, n: i32, low: u32, span: u32, out: usize): i32 {
  const lowv = i32x4.splat(low);
  const spanv = i32x4.splat(span);
  let written = 0;
  for (let i = 0; i < n; i += 4) {
    const key = v128.load(keys + (<usize>i << 2));
    const inside = i32x4.bitmask(i32x4.lt_u(i32x4.sub(key, lowv), spanv));
    v128.store(out + (<usize>written << 2), i8x16.swizzle(key, v128.load(PACK + (<usize>inside << 4))));
    written += <i32>popcnt(inside);
  }
  v128.store(out + (<usize>written << 2), i32x4.splat(0));
  return (written + 3) & ~3;
}

// How many of the n keys (n a multiple of 4) are ≥ c; two accumulators, eight keys an iteration. Keys and
// candidates lie below 2³¹ (|x|'s bits), so key ≥ c is key > c − 1 as signed integers: one x64 instruction,
// where an unsigned ≥ is two (c = 0 gives −1, which every key passes).
// @ts-ignore: decorator
@inline
function countAtLeast(keys: usize, n: i32, c: u32): i32 {
  const below = i32x4.splat(<i32>c - 1);
  let acc0 = i32x4.splat(0);
  let acc1 = i32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const p = keys + (<usize>i << 2);
    acc0 = i32x4.sub(acc0, i32x4.gt_s(v128.load(p), below)); // a lane that reaches c is −1
    acc1 = i32x4.sub(acc1, i32x4.gt_s(v128.load(p, 16), below));
  }
  if (i < n) acc0 = i32x4.sub(acc0, i32x4.gt_s(v128.load(keys + (<usize>i << 2)), below));
  const s = i32x4.add(acc0, acc1);
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3);
}

// ---- token and position embeddings: x[t] = wte[ids[t]] + wpe[t] (wpe 0: none) ----
export function embed(ids: usize, T: i32, d: i32, wte: usize, wpe: usize, x: usize): void {
  const rowBytes = <usize>d << 2;
  for (let t = 0; t < T; t++) {
    const src = wte + <usize>load<i32>(ids + (<usize>t << 2)) * rowBytes;
    const dst = x + <usize>t * rowBytes;
    if (wpe) {
      const pos = wpe + <usize>t * rowBytes;
      for (let c = 0; c < d; c += 4) {
        const o = <usize>c << 2;
        v128.store(dst + o, f32x4.add(v128.load(src + o), v128.load(pos + o)));
      }
    } else memory.copy(dst, src, rowBytes);
  }
}

// ---- watched nodes: out[dst[i], slot] = x[src[i], col] for i < M and each (col, slot) pair of one node
// location; out is [P, K]. The rows are lists because the last layer may hold only some positions ----
export function gatherWatched(x: usize, n: i32, src: usize, dst: usize, M: i32, pairs: usize, count: i32, out: usize, K: i32): void {
  for (let i = 0; i < M; i++) {
    const row = x + ((<usize>load<i32>(src + (<usize>i << 2)) * <usize>n) << 2);
    const orow = out + ((<usize>(load<i32>(dst + (<usize>i << 2)) * K)) << 2);
    for (let j = 0; j < count; j++) {
      const pair = pairs + (<usize>j << 3);
      store<f32>(orow + (<usize>load<i32>(pair, 4) << 2), load<f32>(row + (<usize>load<i32>(pair) << 2)));
    }
  }
}

// ---- rows rows[0..M) of x [·, n] to rows 0..M−1 of out; in place (out = x) too, as rows[i] ≥ i ----
export function gatherRows(x: usize, n: i32, rows: usize, M: i32, out: usize): void {
  const rowBytes = <usize>n << 2;
  for (let i = 0; i < M; i++) {
    const from = x + <usize>load<i32>(rows + (<usize>i << 2)) * rowBytes;
    const to = out + <usize>i * rowBytes;
    if (from != to) for (let o: usize = 0; o < rowBytes; o += 16) v128.store(to + o, v128.load(from + o));
  }
}

// ---- node ablation: x ← x·mask + term per column (term = fill·(1 − mask)) ----
export function maskFill(x: usize, rows: i32, n: i32, mask: usize, term: usize): void {
  for (let r = 0; r < rows; r++) {
    const row = x + ((<usize>r * <usize>n) << 2);
    for (let i = 0; i < n; i += 4) {
      const o = <usize>i << 2;
      v128.store(row + o, f32x4.add(f32x4.mul(v128.load(row + o), v128.load(mask + o)), v128.load(term + o)));
    }
  }
}

// ---- RMSNorm: out = x · rsqrt(mean(x²) + eps) · gain ----
export function rmsNorm(x: usize, out: usize, rows: i32, n: i32, gain: usize, eps: f32): void {
  const rowBytes = <usize>n << 2;
  let r = 0;
  // Four rows at a time: their sums of squares side by side, lane j adding row j's x² in index order as
  // the row alone does (the same bits); one row alone is a chain of dependent adds that four overlap.
  for (; r + 4 <= rows; r += 4) {
    const row = x + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    for (let i = 0; i < n; i += 4) {
      const o = <usize>i << 2;
      const a = v128.load(row + o);
      const b = v128.load(row + rowBytes + o);
      const c = v128.load(row + 2 * rowBytes + o);
      const d = v128.load(row + 3 * rowBytes + o);
      const ab01 = v128.shuffle<i32>(a, b, 0, 4, 1, 5);
      const ab23 = v128.shuffle<i32>(a, b, 2, 6, 3, 7);
      const cd01 = v128.shuffle<i32>(c, d, 0, 4, 1, 5);
      const cd23 = v128.shuffle<i32>(c, d, 2, 6, 3, 7);
      const x0 = v128.shuffle<i32>(ab01, cd01, 0, 1, 4, 5); // element i of the four rows
      const x1 = v128.shuffle<i32>(ab01, cd01, 2, 3, 6, 7);
      const x2 = v128.shuffle<i32>(ab23, cd23, 0, 1, 4, 5);
      const x3 = v128.shuffle<i32>(ab23, cd23, 2, 3, 6, 7);
      acc = f32x4.add(acc, f32x4.mul(x0, x0));
      acc = f32x4.add(acc, f32x4.mul(x1, x1));
      acc = f32x4.add(acc, f32x4.mul(x2, x2));
      acc = f32x4.add(acc, f32x4.mul(x3, x3));
    }
    const o = out + <usize>r * rowBytes;
    scaleRow(row, o, n, gain, f32x4.extract_lane(acc, 0), eps);
    scaleRow(row + rowBytes, o + rowBytes, n, gain, f32x4.extract_lane(acc, 1), eps);
    scaleRow(row + 2 * rowBytes, o + 2 * rowBytes, n, gain, f32x4.extract_lane(acc, 2), eps);
    scaleRow(row + 3 * rowBytes, o + 3 * rowBytes, n, gain, f32x4.extract_lane(acc, 3), eps);
  }
  for (; r < rows; r++) {
    const row = x + <usize>r * rowBytes;
    let s: f32 = 0;
    for (let i = 0; i < n; i++) {
      const v = load<f32>(row + (<usize>i << 2));
      s += v * v;
    }
    scaleRow(row, out + <usize>r * rowBytes, n, gain, s, eps);
  }
}

// One row of RMSNorm given its sum of squares s, four lanes at a time (n is a multiple of 4).
// @ts-ignore: decorator
@inline
function scaleRow(row: usize, out: usize, n: i32, gain: usize, s: f32, eps: f32): void {
  const scale = f32x4.splat(<f32>1 / Mathf.sqrt(s / <f32>n + eps));
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(f32x4.mul(v128.load(row + o), scale), v128.load(gain + o)));
  }
}

// The 4×4 block of rows a, b, c, d (four f32 each) transposed to four rows of out, `stride` bytes apart:
// out row i = (a[i], b[i], c[i], d[i]).
// @ts-ignore: decorator
@inline
function transpose4(a: v128, b: v128, c: v128, d: v128, out: usize, stride: usize): void {
  const ab01 = v128.shuffle<i32>(a, b, 0, 4, 1, 5); // a0 b0 a1 b1
  const ab23 = v128.shuffle<i32>(a, b, 2, 6, 3, 7);
  const cd01 = v128.shuffle<i32>(c, d, 0, 4, 1, 5);
  const cd23 = v128.shuffle<i32>(c, d, 2, 6, 3, 7);
  v128.store(out, v128.shuffle<i32>(ab01, cd01, 0, 1, 4, 5));
  v128.store(out + stride, v128.shuffle<i32>(ab01, cd01, 2, 3, 6, 7));
  v128.store(out + 2 * stride, v128.shuffle<i32>(ab23, cd23, 0, 1, 4, 5));
  v128.store(out + 3 * stride, v128.shuffle<i32>(ab23, cd23, 2, 3, 6, 7));
}

// The four floats at p of four rows `stride` bytes apart, transposed to four rows of out `outStride` bytes
// apart; the rows from `have` on read as 0 (past the last key).
// @ts-ignore: decorator
@inline
function transposeRows(p: usize, stride: usize, have: i32, out: usize, outStride: usize): void {
  const z = f32x4.splat(0);
  transpose4(have > 0 ? v128.load(p) : z, have > 1 ? v128.load(p + stride) : z, have > 2 ? v128.load(p + 2 * stride) : z, have > 3 ? v128.load(p + 3 * stride) : z, out, outStride);
}

// The nr (0–8) rows of x0 [nr, n] side by side into out [n][8] (missing rows as 0): rows 0–3 in the first
// four lanes of each column, rows 4–7 in the last four.
// @ts-ignore: decorator
@inline
function rowsSideBySide(x0: usize, n: i32, nr: i32, out: usize): void {
  halfSideBySide(x0, n, min(nr, 4), out);
  halfSideBySide(x0 + 4 * (<usize>n << 2), n, max(nr - 4, 0), out + 16);
}

// The first n4 (a multiple of 4) columns of block [·][8] back to nr (1–8) rows of out (rows outRow bytes
// apart); block is spent (halfBack).
// @ts-ignore: decorator
@inline
function rowsBack(block: usize, n4: i32, nr: i32, out: usize, outRow: usize): void {
  halfBack(block, n4, min(nr, 4), out, outRow);
  if (nr > 4) halfBack(block + 16, n4, nr - 4, out + 4 * outRow, outRow);
}

// The nr (0–4) rows of x0 [nr, n] into four lanes at out of an [n][8] block, four columns at a time.
// @ts-ignore: decorator
@inline
function halfSideBySide(x0: usize, n: i32, nr: i32, out: usize): void {
  const rowBytes = <usize>n << 2;
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2;
    const r0 = nr > 0 ? v128.load(x0 + o) : i32x4.splat(0);
    const r1 = nr > 1 ? v128.load(x0 + rowBytes + o) : i32x4.splat(0);
    const r2 = nr > 2 ? v128.load(x0 + 2 * rowBytes + o) : i32x4.splat(0);
    const r3 = nr > 3 ? v128.load(x0 + 3 * rowBytes + o) : i32x4.splat(0);
    transpose4(r0, r1, r2, r3, out + (o << 3), 32);
  }
}

// Four lanes at block of an [·][8] block, first n4 columns, back to nr (1–4) rows of out, four columns at a
// time; each 4×4 piece is transposed in place (read before written), so block is spent.
// @ts-ignore: decorator
@inline
function halfBack(block: usize, n4: i32, nr: i32, out: usize, outRow: usize): void {
  for (let j = 0; j < n4; j += 4) {
    const b = block + (<usize>j << 5);
    transpose4(v128.load(b), v128.load(b, 32), v128.load(b, 64), v128.load(b, 96), b, 32);
    for (let r = 0; r < nr; r++) v128.store(out + <usize>r * outRow + (<usize>j << 2), v128.load(b + (<usize>r << 5)));
  }
}

// ---- sparse product y[t] = x[t] · Wᵀ, W stored by input: for input i, entries start[i]..start[i+1] of
// (output index·32, weight). Eight rows at a time: their inputs side by side [nIn][8] (xt) and their
// outputs [nOut][8] (yt), so each weight, loaded once, serves the eight rows in two four-lane
// multiply-adds; an input that is 0 in all eight costs nothing. Each output lane adds its products in the
// order of the inputs, as one row alone would. (Four rows at a time skipped more inputs — a quarter kept is
// 0 in four rows a third of the time, in eight a tenth — but loaded each weight and its index twice: eight
// at a time the yolo1-shaped window's products take ×0.64–0.68, our model's ×0.75; docs/BENCHMARKS.md,
// session 33.) ----
export function spmm(x: usize, rows: i32, nIn: i32, y: usize, nOut: i32, start: usize, outs: usize, vals: usize, xt: usize, yt: usize): void {
  const inRow = <usize>nIn << 2;
  const outRow = <usize>nOut << 2;
  for (let t0 = 0; t0 < rows; t0 += 8) {
    const nr = min(8, rows - t0);
    rowsSideBySide(x + <usize>t0 * inRow, nIn, nr, xt);
    zero(yt, <usize>nOut << 5);
    for (let i = 0; i < nIn; i++) {
      const xa = v128.load(xt + (<usize>i << 5));
      const xb = v128.load(xt + (<usize>i << 5), 16);
      if (!v128.any_true(v128.or(xa, xb))) continue;
      const e1 = load<i32>(start + (<usize>(i + 1) << 2));
      for (let e = load<i32>(start + (<usize>i << 2)); e < e1; e++) {
        const p = yt + <usize>load<u32>(outs + (<usize>e << 2));
        const w = v128.load32_splat(vals + (<usize>e << 2));
        v128.store(p, f32x4.add(v128.load(p), f32x4.mul(xa, w)));
        v128.store(p, f32x4.add(v128.load(p, 16), f32x4.mul(xb, w)), 16);
      }
    }
    rowsBack(yt, nOut, nr, y + <usize>t0 * outRow, outRow);
  }
}

// ---- e^x in f32, four lanes: 2^n · e^r with |r| ≤ ln2/2 (ln2 split in two for an exact r), a degree-7
// Taylor polynomial (relative error < 1e-7 before rounding); 0 below −87, where e^x leaves the normal floats.
// Written with the operations that are one x64 instruction each where a cheaper one gives the same bits:
// pmax for max (they differ only at NaN and signed zeros, which the clamp at −87 never sees alive), and
// 2^n's exponent read from n + 1.5·2²³ (an integral n below 2²² in size lands in the low bits) instead of
// trunc_sat, which V8 expands into a sequence for NaN and overflow ----
// @ts-ignore: decorator
@inline
function expf4(x: v128): v128 {
  const live = f32x4.ge(x, f32x4.splat(-87.0));
  const xc = f32x4.pmax(x, f32x4.splat(-87.0));
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.4426950408889634)));
  const r = f32x4.sub(f32x4.sub(xc, f32x4.mul(n, f32x4.splat(0.693145751953125))), f32x4.mul(n, f32x4.splat(1.428606765330187e-6)));
  let p = f32x4.splat(<f32>1.0 / <f32>5040.0);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>1.0 / <f32>720.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>1.0 / <f32>120.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>1.0 / <f32>24.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>1.0 / <f32>6.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>1.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>1.0));
  const scale = i32x4.shl(i32x4.add(f32x4.add(n, f32x4.splat(12582912.0)), i32x4.splat(127 - 0x4b400000)), 23);
  return v128.and(f32x4.mul(p, scale), live);
}

// e^(x − m) of the 32 floats at p into out (which may be p), all eight vectors computed before any is
// stored: each is a chain of dependent steps, and V8 interleaves only chains with no store between them
// (docs/BENCHMARKS.md, session 33: two vectors at a time left the core waiting on each chain).
// @ts-ignore: decorator
@inline
function exps32(p: usize, ms: v128, out: usize): void {
  const e0 = expf4(f32x4.sub(v128.load(p), ms));
  const e1 = expf4(f32x4.sub(v128.load(p, 16), ms));
  const e2 = expf4(f32x4.sub(v128.load(p, 32), ms));
  const e3 = expf4(f32x4.sub(v128.load(p, 48), ms));
  const e4 = expf4(f32x4.sub(v128.load(p, 64), ms));
  const e5 = expf4(f32x4.sub(v128.load(p, 80), ms));
  const e6 = expf4(f32x4.sub(v128.load(p, 96), ms));
  const e7 = expf4(f32x4.sub(v128.load(p, 112), ms));
  v128.store(out, e0);
  v128.store(out, e1, 16);
  v128.store(out, e2, 32);
  v128.store(out, e3, 48);
  v128.store(out, e4, 64);
  v128.store(out, e5, 80);
  v128.store(out, e6, 96);
  v128.store(out, e7, 112);
}

// ---- GELU (erf form) in place: x · ½ · erfc(−x/√2), erfc by the Chebyshev fit of Press et al.
// (Numerical Recipes, "erfcc"; fractional error < 1.2e-7 everywhere), so ½·(1 + erf) keeps that relative
// error on both sides of 0 ----
export function gelu(x: usize, count: i32): void {
  // count is a multiple of 4 (rows of d_mlp). Eight vectors an iteration, all loaded before any is
  // stored: each one's polynomial is a chain of dependent steps, and only chains with no store between
  // them are interleaved (the yolo1-shaped window's GELU: 33.5 ms two vectors an iteration, 20.6 eight;
  // 44.5 eight stored one by one; docs/BENCHMARKS.md, session 33).
  let i = 0;
  for (; i + 32 <= count; i += 32) {
    const p = x + (<usize>i << 2);
    const v0 = v128.load(p);
    const v1 = v128.load(p, 16);
    const v2 = v128.load(p, 32);
    const v3 = v128.load(p, 48);
    const v4 = v128.load(p, 64);
    const v5 = v128.load(p, 80);
    const v6 = v128.load(p, 96);
    const v7 = v128.load(p, 112);
    v128.store(p, gelu4(v0));
    v128.store(p, gelu4(v1), 16);
    v128.store(p, gelu4(v2), 32);
    v128.store(p, gelu4(v3), 48);
    v128.store(p, gelu4(v4), 64);
    v128.store(p, gelu4(v5), 80);
    v128.store(p, gelu4(v6), 96);
    v128.store(p, gelu4(v7), 112);
  }
  for (; i < count; i += 4) v128.store(x + (<usize>i << 2), gelu4(v128.load(x + (<usize>i << 2))));
}

// @ts-ignore: decorator
@inline
function gelu4(v: v128): v128 {
  const z = f32x4.mul(f32x4.abs(v), f32x4.splat(0.7071067811865476));
  const t = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.splat(0.5), z)));
  let q = f32x4.splat(0.17087277);
  q = f32x4.sub(f32x4.mul(q, t), f32x4.splat(0.82215223));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(1.48851587));
  q = f32x4.sub(f32x4.mul(q, t), f32x4.splat(1.13520398));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(0.27886807));
  q = f32x4.sub(f32x4.mul(q, t), f32x4.splat(0.18628806));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(0.09678418));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(0.37409196));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(1.00002368));
  q = f32x4.sub(f32x4.mul(q, t), f32x4.splat(1.26551223));
  const ans = f32x4.mul(t, expf4(f32x4.add(f32x4.neg(f32x4.mul(z, z)), q)));
  // x < 0: ½·erfc(|x|/√2) = ans/2; x ≥ 0: 1 − ans/2
  const half = v128.bitselect(ans, f32x4.sub(f32x4.splat(2), ans), f32x4.lt(v, f32x4.splat(0)));
  return f32x4.mul(f32x4.mul(f32x4.splat(0.5), v), half);
}

// ---- causal attention with a sink slot (a zero value with a learned logit per head) ----
// q [Q, nh·dh] for the ascending positions pos[0..Q), k and v [T, nh·dh] (T = pos[Q−1] + 1: the keys the
// last query sees), y [Q, nh·dh]; heads h0..h1−1 only (a head reads and writes its own columns alone, so
// two threads can take heads each: src/core/kernelThread.ts). Per head, keys and values are laid out by
// channel (kt, vt [dh][T8], T8 = T rounded up to 8, zero padded) and queries go four at a time, so each
// four-lane multiply-add serves four keys or four channels and each loaded key or value chunk serves four
// queries. Keys go eight at a time (a padded key scores 0, is masked like a future one and weighs 0,
// adding +0 to every sum: the same bits as without it). s: scores scratch [4][T8], then [dh] i32 for the
// live query channels.
export function attention(q: usize, k: usize, v: usize, y: usize, Q: i32, pos: usize, nh: i32, dh: i32, scale: f32, sinks: usize, hasSink: i32, kt: usize, vt: usize, s: usize, h0: i32, h1: i32): void {
  const width = nh * dh;
  const T = load<i32>(pos + (<usize>(Q - 1) << 2)) + 1;
  const T8 = (T + 7) & ~7;
  const rowBytes = <usize>T8 << 2;
  const live = s + 4 * rowBytes; // [dh] i32: the query block's live channels
  for (let h = h0; h < h1; h++) {
    // four keys × four channels a step (a float at a time, at 128 heads of 8, took 13 % of the kernel)
    const srcRow = <usize>width << 2;
    for (let j = 0; j < T8; j += 4) {
      for (let c0 = 0; c0 < dh; c0 += 4) {
        const src = <usize>j * srcRow + (<usize>(h * dh + c0) << 2);
        const at = <usize>c0 * rowBytes + (<usize>j << 2);
        transposeRows(k + src, srcRow, T - j, kt + at, rowBytes);
        transposeRows(v + src, srcRow, T - j, vt + at, rowBytes);
      }
    }
    const sink: f32 = hasSink ? load<f32>(sinks + (<usize>h << 2)) : -Infinity;
    for (let t0 = 0; t0 < Q; t0 += 4) {
      const nr = min(4, Q - t0);
      const nk = load<i32>(pos + (<usize>(t0 + nr - 1) << 2)) + 1; // keys the block's last query sees
      const nk8 = (nk + 7) & ~7;
      // rows past Q repeat the block's first query (their results are not stored)
      const q0 = q + ((<usize>(t0 * width + h * dh)) << 2);
      const q1 = nr > 1 ? q0 + (<usize>width << 2) : q0;
      const q2 = nr > 2 ? q0 + (<usize>(2 * width) << 2) : q0;
      const q3 = nr > 3 ? q0 + (<usize>(3 * width) << 2) : q0;
      const scv = f32x4.splat(scale);
      // The head's channels where any of the four queries is nonzero, listed four channels at a time (dh
      // is a multiple of 4) from a bit mask. AbsTopK zeroes most of q, and a channel left out would add
      // +0·k to every score: the same bits, fewer multiply-adds.
      let nLive = 0;
      const zero4 = f32x4.splat(0);
      for (let c0 = 0; c0 < dh; c0 += 4) {
        const o = <usize>c0 << 2;
        const any = v128.or(
          v128.or(f32x4.ne(v128.load(q0 + o), zero4), f32x4.ne(v128.load(q1 + o), zero4)),
          v128.or(f32x4.ne(v128.load(q2 + o), zero4), f32x4.ne(v128.load(q3 + o), zero4)),
        );
        let bits = i32x4.bitmask(any);
        while (bits) {
          store<i32>(live + (<usize>nLive << 2), c0 + ctz(bits));
          nLive++;
          bits &= bits - 1;
        }
      }
      // eight keys an iteration (each query's splat serves both halves)
      for (let j = 0; j < nk8; j += 8) {
        let a0 = f32x4.splat(0);
        let a1 = f32x4.splat(0);
        let a2 = f32x4.splat(0);
        let a3 = f32x4.splat(0);
        let b0 = f32x4.splat(0);
        let b1 = f32x4.splat(0);
        let b2 = f32x4.splat(0);
        let b3 = f32x4.splat(0);
        for (let i = 0; i < nLive; i++) {
          const c = load<i32>(live + (<usize>i << 2));
          const kp = kt + <usize>c * rowBytes + (<usize>j << 2);
          const ka = v128.load(kp);
          const kb = v128.load(kp, 16);
          const o = <usize>c << 2;
          const s0 = v128.load32_splat(q0 + o);
          const s1 = v128.load32_splat(q1 + o);
          const s2 = v128.load32_splat(q2 + o);
          const s3 = v128.load32_splat(q3 + o);
          a0 = f32x4.add(a0, f32x4.mul(s0, ka));
          a1 = f32x4.add(a1, f32x4.mul(s1, ka));
          a2 = f32x4.add(a2, f32x4.mul(s2, ka));
          a3 = f32x4.add(a3, f32x4.mul(s3, ka));
          b0 = f32x4.add(b0, f32x4.mul(s0, kb));
          b1 = f32x4.add(b1, f32x4.mul(s1, kb));
          b2 = f32x4.add(b2, f32x4.mul(s2, kb));
          b3 = f32x4.add(b3, f32x4.mul(s3, kb));
        }
        const o = <usize>j << 2;
        v128.store(s + o, f32x4.mul(a0, scv));
        v128.store(s + rowBytes + o, f32x4.mul(a1, scv));
        v128.store(s + 2 * rowBytes + o, f32x4.mul(a2, scv));
        v128.store(s + 3 * rowBytes + o, f32x4.mul(a3, scv));
        v128.store(s + o, f32x4.mul(b0, scv), 16);
        v128.store(s + rowBytes + o, f32x4.mul(b1, scv), 16);
        v128.store(s + 2 * rowBytes + o, f32x4.mul(b2, scv), 16);
        v128.store(s + 3 * rowBytes + o, f32x4.mul(b3, scv), 16);
      }
      // per query: mask the future, softmax with the sink slot, scores → probabilities in place
      for (let r = 0; r < nr; r++) {
        const sr = s + <usize>r * rowBytes;
        const n = load<i32>(pos + (<usize>(t0 + r) << 2)) + 1;
        for (let j = n; j < nk8; j++) store<f32>(sr + (<usize>j << 2), -Infinity);
        const m = rowMax(sr, nk8, sink);
        const ms = f32x4.splat(m);
        let sv = f32x4.splat(0);
        // thirty-two keys an iteration (exps32), then eight; summed in key order either way
        let j = 0;
        for (; j + 32 <= nk8; j += 32) {
          const o = sr + (<usize>j << 2);
          exps32(o, ms, o);
          for (let u: usize = 0; u < 128; u += 16) sv = f32x4.add(sv, v128.load(o + u));
        }
        for (; j < nk8; j += 8) {
          const o = sr + (<usize>j << 2);
          const e = expf4(f32x4.sub(v128.load(o), ms));
          const f = expf4(f32x4.sub(v128.load(o, 16), ms));
          v128.store(o, e);
          v128.store(o, f, 16);
          sv = f32x4.add(f32x4.add(sv, e), f);
        }
        let sum: f32 = f32x4.extract_lane(sv, 0) + f32x4.extract_lane(sv, 1) + (f32x4.extract_lane(sv, 2) + f32x4.extract_lane(sv, 3));
        if (hasSink) sum += f32x4.extract_lane(expf4(f32x4.splat(sink - m)), 0);
        const inv = f32x4.splat(<f32>1 / sum);
        for (let j = 0; j < nk8; j += 4) {
          const o = sr + (<usize>j << 2);
          v128.store(o, f32x4.mul(v128.load(o), inv));
        }
      }
      for (let r = nr; r < 4; r++) zero(s + <usize>r * rowBytes, <usize>nk8 << 2);
      // y = probabilities · values, two channels at a time (each loaded probability serves both; dh is a multiple of 4)
      for (let c = 0; c < dh; c += 2) {
        const vc = vt + <usize>c * rowBytes;
        let a0 = f32x4.splat(0);
        let a1 = f32x4.splat(0);
        let a2 = f32x4.splat(0);
        let a3 = f32x4.splat(0);
        let b0 = f32x4.splat(0);
        let b1 = f32x4.splat(0);
        let b2 = f32x4.splat(0);
        let b3 = f32x4.splat(0);
        for (let j = 0; j < nk8; j += 4) {
          const o = <usize>j << 2;
          const va = v128.load(vc + o);
          const vb = v128.load(vc + rowBytes + o);
          const p0 = v128.load(s + o);
          const p1 = v128.load(s + rowBytes + o);
          const p2 = v128.load(s + 2 * rowBytes + o);
          const p3 = v128.load(s + 3 * rowBytes + o);
          a0 = f32x4.add(a0, f32x4.mul(p0, va));
          a1 = f32x4.add(a1, f32x4.mul(p1, va));
          a2 = f32x4.add(a2, f32x4.mul(p2, va));
          a3 = f32x4.add(a3, f32x4.mul(p3, va));
          b0 = f32x4.add(b0, f32x4.mul(p0, vb));
          b1 = f32x4.add(b1, f32x4.mul(p1, vb));
          b2 = f32x4.add(b2, f32x4.mul(p2, vb));
          b3 = f32x4.add(b3, f32x4.mul(p3, vb));
        }
        const yc = y + ((<usize>(t0 * width + h * dh + c)) << 2);
        store<f32>(yc, hsum(a0));
        store<f32>(yc, hsum(b0), 4);
        if (nr > 1) {
          store<f32>(yc + (<usize>width << 2), hsum(a1));
          store<f32>(yc + (<usize>width << 2), hsum(b1), 4);
        }
        if (nr > 2) {
          store<f32>(yc + (<usize>(2 * width) << 2), hsum(a2));
          store<f32>(yc + (<usize>(2 * width) << 2), hsum(b2), 4);
        }
        if (nr > 3) {
          store<f32>(yc + (<usize>(3 * width) << 2), hsum(a3));
          store<f32>(yc + (<usize>(3 * width) << 2), hsum(b3), 4);
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function hsum(a: v128): f32 {
  return f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + (f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3));
}

// The largest of the n (a multiple of 4) floats at p and `floor`, with two running maxima (a chain of
// dependent max operations would wait on each other's latency; max is exact in any order). pmax is one
// x64 instruction where max is a sequence; they differ only at NaN, which no score is, and at a tie of
// −0 and +0, whose subtraction from a score gives the same exponential either way.
// @ts-ignore: decorator
@inline
function rowMax(p: usize, n: i32, floor: f32): f32 {
  let a = f32x4.splat(floor);
  let b = a;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    a = f32x4.pmax(a, v128.load(p + (<usize>i << 2)));
    b = f32x4.pmax(b, v128.load(p + (<usize>(i + 4) << 2)));
  }
  if (i < n) a = f32x4.pmax(a, v128.load(p + (<usize>i << 2)));
  const mv = f32x4.pmax(a, b);
  return max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
}

// ---- a Linear's bias: each of the rows of y [rows, n] += bias [n] ----
export function addBias(y: usize, rows: i32, n: i32, bias: usize): void {
  for (let r = 0; r < rows; r++) {
    const row = y + ((<usize>r * <usize>n) << 2);
    for (let i = 0; i < n; i += 4) {
      const o = <usize>i << 2;
      v128.store(row + o, f32x4.add(v128.load(row + o), v128.load(bias + o)));
    }
  }
}

// ---- ReLU in place (count a multiple of 4) ----
export function relu(x: usize, count: i32): void {
  for (let i = 0; i < count; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, f32x4.max(v128.load(p), f32x4.splat(0)));
  }
}

// ---- y += x (residual add) ----
export function addInto(y: usize, x: usize, count: i32): void {
  for (let i = 0; i < count; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), v128.load(x + o)));
  }
}

// ---- logits at read ids: out[p, r] = h[p] · U[id_r] + bias[id_r] + bigram[tok_p, id_r]; U by vocabulary
// row (CSR: row start, column index·32, weights), the logits' bias f32 [V] or none (0), the bigram table f32
// [V, V] or none (0). Eight positions at a time, as spmm: their h side by side [d][8] in ht, their logits
// side by side [R][8] in blk, then back to rows four ids at a time; each weight serves two four-lane
// multiply-adds, two independent chains of adds per id. ----
export function readLogits(h: usize, P: i32, d: i32, ids: usize, R: i32, start: usize, cols: usize, vals: usize, toks: usize, bias: usize, bigram: usize, V: i32, out: usize, ht: usize, blk: usize): void {
  const R4 = R & ~3;
  // the bigram rows are read as vectors where the ids are consecutive (the whole vocabulary, as the editor reads it)
  const first = load<i32>(ids);
  let consecutive = true;
  for (let r = 1; r < R; r++) consecutive = consecutive && load<i32>(ids + (<usize>r << 2)) == first + r;
  const outRow = <usize>R << 2;
  for (let p0 = 0; p0 < P; p0 += 8) {
    const np = min(8, P - p0);
    rowsSideBySide(h + ((<usize>p0 * <usize>d) << 2), d, np, ht);
    for (let r = 0; r < R; r++) {
      const id = load<i32>(ids + (<usize>r << 2));
      let sa = f32x4.splat(0);
      let sb = f32x4.splat(0);
      const e1 = load<i32>(start + (<usize>(id + 1) << 2));
      for (let e = load<i32>(start + (<usize>id << 2)); e < e1; e++) {
        const hp = ht + <usize>load<u32>(cols + (<usize>e << 2));
        const w = v128.load32_splat(vals + (<usize>e << 2));
        sa = f32x4.add(sa, f32x4.mul(v128.load(hp), w));
        sb = f32x4.add(sb, f32x4.mul(v128.load(hp, 16), w));
      }
      if (bias) {
        const b = v128.load32_splat(bias + (<usize>id << 2));
        sa = f32x4.add(sa, b);
        sb = f32x4.add(sb, b);
      }
      v128.store(blk + (<usize>r << 5), sa);
      v128.store(blk + (<usize>r << 5), sb, 16);
    }
    const o0 = out + <usize>p0 * outRow;
    rowsBack(blk, R4, np, o0, outRow);
    for (let r = R4; r < R; r++) for (let q = 0; q < np; q++) store<f32>(o0 + <usize>q * outRow + (<usize>r << 2), load<f32>(blk + (<usize>r << 5) + (<usize>q << 2)));
    if (!bigram) continue;
    for (let q = 0; q < np; q++) {
      const orow = o0 + <usize>q * outRow;
      const brow = bigram + ((<usize>load<i32>(toks + (<usize>(p0 + q) << 2)) * <usize>V) << 2);
      let r = 0;
      if (consecutive) {
        const from = brow + (<usize>first << 2);
        for (; r < R4; r += 4) v128.store(orow + (<usize>r << 2), f32x4.add(v128.load(orow + (<usize>r << 2)), v128.load(from + (<usize>r << 2))));
      }
      for (; r < R; r++) store<f32>(orow + (<usize>r << 2), load<f32>(orow + (<usize>r << 2)) + load<f32>(brow + (<usize>load<i32>(ids + (<usize>r << 2)) << 2)));
    }
  }
}

// ---- log Σ exp over each row of R logits: max + log Σ exp(l − max), the exps four lanes at a time in f32
// (relative error < 1e-7 each) summed in f64. Math.exp per entry took 3 of a window's ~17 ms. scratch:
// 128 bytes of the calling thread's own ----
export function logSumExp(logits: usize, P: i32, R: i32, out: usize, scratch: usize): void {
  const R4 = R & ~3;
  for (let p = 0; p < P; p++) {
    const row = logits + ((<usize>(p * R)) << 2);
    let m = rowMax(row, R4, -Infinity);
    for (let r = R4; r < R; r++) m = Mathf.max(m, load<f32>(row + (<usize>r << 2)));
    const ms = f32x4.splat(m);
    let lo = f64x2.splat(0);
    let hi = f64x2.splat(0);
    // thirty-two logits an iteration (exps32, into `scratch`), then eight; each summed as it comes, in the same order
    let r = 0;
    for (; r + 32 <= R4; r += 32) {
      exps32(row + (<usize>r << 2), ms, scratch);
      for (let u: usize = 0; u < 128; u += 16) {
        const e = v128.load(scratch + u);
        lo = f64x2.add(lo, f64x2.promote_low_f32x4(e));
        hi = f64x2.add(hi, f64x2.promote_low_f32x4(i32x4.shuffle(e, e, 2, 3, 0, 1)));
      }
    }
    for (; r + 8 <= R4; r += 8) {
      const e = expf4(f32x4.sub(v128.load(row + (<usize>r << 2)), ms));
      const f = expf4(f32x4.sub(v128.load(row + (<usize>(r + 4) << 2)), ms));
      lo = f64x2.add(lo, f64x2.promote_low_f32x4(e));
      hi = f64x2.add(hi, f64x2.promote_low_f32x4(i32x4.shuffle(e, e, 2, 3, 0, 1)));
      lo = f64x2.add(lo, f64x2.promote_low_f32x4(f));
      hi = f64x2.add(hi, f64x2.promote_low_f32x4(i32x4.shuffle(f, f, 2, 3, 0, 1)));
    }
    if (r < R4) {
      const e = expf4(f32x4.sub(v128.load(row + (<usize>r << 2)), ms));
      lo = f64x2.add(lo, f64x2.promote_low_f32x4(e));
      hi = f64x2.add(hi, f64x2.promote_low_f32x4(i32x4.shuffle(e, e, 2, 3, 0, 1)));
    }
    let s: f64 = f64x2.extract_lane(lo, 0) + f64x2.extract_lane(lo, 1) + f64x2.extract_lane(hi, 0) + f64x2.extract_lane(hi, 1);
    for (let r = R4; r < R; r++) s += Math.exp(<f64>load<f32>(row + (<usize>r << 2)) - <f64>m);
    store<f64>(out + (<usize>p << 3), <f64>m + Math.log(s));
  }
}

// ---- the K largest of each row, largest first, equal ones in read order; -inf and -1 past R ----
export function topValues(logits: usize, P: i32, R: i32, K: i32, values: usize, cols: usize): void {
  for (let p = 0; p < P; p++) {
    const row = logits + ((<usize>(p * R)) << 2);
    const vrow = values + ((<usize>(p * K)) << 2);
    const crow = cols + ((<usize>(p * K)) << 2);
    let n = 0;
    for (let r = 0; r < R; r++) {
      // once K are kept, four reads at a time that none beats the K-th are passed over together
      if (n == K && (r & 3) == 0 && r + 4 <= R && !v128.any_true(f32x4.gt(v128.load(row + (<usize>r << 2)), f32x4.splat(load<f32>(vrow + (<usize>(K - 1) << 2)))))) {
        r += 3;
        continue;
      }
      const v = load<f32>(row + (<usize>r << 2));
      if (n == K && !(v > load<f32>(vrow + (<usize>(K - 1) << 2)))) continue;
      // insert after every kept entry ≥ v (earlier reads win ties)
      let at = n < K ? n : K - 1;
      while (at > 0 && load<f32>(vrow + (<usize>(at - 1) << 2)) < v) {
        store<f32>(vrow + (<usize>at << 2), load<f32>(vrow + (<usize>(at - 1) << 2)));
        store<i32>(crow + (<usize>at << 2), load<i32>(crow + (<usize>(at - 1) << 2)));
        at--;
      }
      store<f32>(vrow + (<usize>at << 2), v);
      store<i32>(crow + (<usize>at << 2), r);
      if (n < K) n++;
    }
    for (let j = n; j < K; j++) {
      store<f32>(vrow + (<usize>j << 2), -Infinity);
      store<i32>(crow + (<usize>j << 2), -1);
    }
  }
}
