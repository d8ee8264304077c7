// "Where attention looks": a head's attention pattern from the token at a position over the tokens
// of its window, redrawn from the q and k nodes the runner returns (after AbsTopK, as the model
// uses them) and the manifest's attention parameters. It is training/model.py's CausalSelfAttention:
// scores q·k × scale over the keys at and before the query, plus, for a sink model, one slot of
// the head's sink logit (a zero key/value), softmaxed together; the sink's share is attention paid
// to nothing.
import { type Bundle, BundleError } from './bundle';
import { bundleCones, coneFor } from './cone';
import type { MaskRunner } from './discover';
import { parse, ValidationError } from '../schemas/validate';
import { type AttentionParams, attentionParams } from '../schemas/attention';
import { encodeDocument } from './documentReading';
import type { Encoding } from './tokenizer';
import { scoringWindow, type Window } from './windows';

export interface AttentionToken {
  /** UTF-16 offsets in the text. */
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

export interface HeadPattern {
  readonly head: number;
  /** Weight on each of AttentionAt.tokens, in order [T − 1 or T]. */
  readonly weights: Float64Array;
  /** Weight on the end-of-text token that starts the text (0 when the window starts later). */
  readonly startOfText: number;
  /** Weight on the sink slot; weights, startOfText, above and sink sum to 1. */
  readonly sink: number;
  /** Weight on tokens the model read before the document's own (a notebook cell's cells above: extension/notebookCellModel); absent for a file. */
  readonly above?: number;
}

export interface AttentionAt {
  readonly layer: number;
  /** Channels per head: q/k/v node C of the layer is in head ⌊C / dHead⌋. */
  readonly dHead: number;
  /** The token whose query this is: the one containing `offset` (or the last one before it). */
  readonly query: AttentionToken;
  /** The document tokens of the query's window, up to and including the query. */
  readonly tokens: readonly AttentionToken[];
  /** Every head of the layer, in head order. */
  readonly heads: readonly HeadPattern[];
}

/** The manifest's attention parameters, checked against the model, or a one-sentence BundleError. */
export function bundleAttention(bundle: Bundle): AttentionParams {
  const raw = bundle.manifest.attention;
  const reexport = 're-export it with training/export.py';
  if (raw === undefined) throw new BundleError(`Bundle ${bundle.dir} does not carry its attention parameters (scale, sink logits); ${reexport}.`);
  let params: AttentionParams;
  try {
    params = parse(attentionParams, raw, 'attention');
  } catch (e) {
    throw new BundleError(`Bundle ${bundle.dir}: manifest.json ${e instanceof ValidationError ? e.message : String(e)}; ${reexport}.`);
  }
  const { n_layer, n_head } = bundle.model;
  const sinks = params.sink_logits;
  if (bundle.model.sink === true && !sinks) throw new BundleError(`Bundle ${bundle.dir} does not carry its sink logits; ${reexport}.`);
  if (sinks && (sinks.length !== n_layer || sinks.some((row) => row.length !== n_head))) throw new BundleError(`Bundle ${bundle.dir}: manifest.json attention.sink_logits is not ${n_layer} layers × ${String(n_head)} heads; ${reexport}.`);
  return params;
}

/**
 * Softmax of one query against keys 0..T−1 and an optional sink logit.
 * q [dh] at qAt in `rows`; key t [dh] at kAt + t·stride. Returns weights [T] and the sink's share.
 */
export function headPattern(rows: ArrayLike<number>, qAt: number, kAt: number, stride: number, T: number, dh: number, scale: number, sinkLogit?: number): { weights: Float64Array; sink: number } {
  const scores = new Float64Array(T);
  let max = sinkLogit ?? -Infinity;
  for (let t = 0; t < T; t++) {
    let dot = 0;
    for (let d = 0; d < dh; d++) dot += rows[qAt + d] * rows[kAt + t * stride + d];
    scores[t] = dot * scale;
    max = Math.max(max, scores[t]);
  }
  let sum = sinkLogit === undefined ? 0 : Math.exp(sinkLogit - max);
  const sinkExp = sum;
  for (let t = 0; t < T; t++) sum += scores[t] = Math.exp(scores[t] - max);
  for (let t = 0; t < T; t++) scores[t] /= sum;
  return { weights: scores, sink: sinkExp / sum };
}

/** q and k values an AttentionReader keeps (float32s, 64 MB): the shipped model's windows take 0.5 MB each. */
const KEPT_FLOATS = 16 * 2 ** 20;

/**
 * Every head of a layer from the token at a position, in the window the analysis scores that token
 * in (`windows`: DocumentAnalyzer.windows). One run returns every layer's q and k nodes at every
 * position of the window; they are kept, so every other token, layer and head of the same window is
 * redrawn without running the model.
 */
export class AttentionReader {
  private readonly params: AttentionParams;
  private readonly nHead: number;
  private readonly dh: number;
  /** Watched flat indices: per layer its q channels, then its k channels [n_layer · 2 · n_head · d_head]. */
  private readonly watch: number[];
  /** The smallest of the bundle's cones that computes them (./cone): nothing after the last layer's attention runs. */
  readonly cone: string | undefined;
  /** Per window (its token ids): every layer's q and k [T, watch.length], most recently used last. */
  private readonly kept = new Map<string, { readonly rows: Promise<Float32Array>; readonly floats: number }>();
  private keptFloats = 0;
  /** The last text read, tokenized and cut into windows: a cursor moving in an unchanged file reuses them. */
  private last: { readonly text: string; readonly enc: Encoding; readonly seq: number[]; readonly windows: Window[] } | undefined;

  constructor(
    private readonly bundle: Bundle,
    private readonly runner: MaskRunner,
    private readonly windows: (seq: ArrayLike<number>) => Window[],
  ) {
    this.params = bundleAttention(bundle);
    const { n_head, d_head } = bundle.model;
    if (!isPosInt(n_head) || !isPosInt(d_head)) throw new BundleError(`Bundle ${bundle.dir}: manifest.json model.n_head and model.d_head must be positive integers; re-export it with training/export.py.`);
    this.nHead = n_head;
    this.dh = d_head;
    const hd = n_head * d_head;
    this.watch = Array.from({ length: bundle.model.n_layer }, (_, layer) =>
      ['q', 'k'].flatMap((site) => {
        const loc = bundle.layout.location(`${layer}.attn.${site}`);
        if (loc?.length !== hd) throw new BundleError(`Bundle ${bundle.dir} has no ${site} nodes of ${n_head} × ${d_head} channels in layer ${layer}, so its attention cannot be redrawn.`);
        return Array.from({ length: hd }, (_, c) => loc.offset + c);
      }),
    ).flat();
    this.cone = coneFor(bundleCones(bundle), this.watch)?.upto;
  }

  get layers(): number {
    return this.bundle.model.n_layer;
  }

  /** Every head of `layer` from the token at `offset` (UTF-16) of `text`: the token containing it, or the last one before it. */
  async at(text: string, offset: number, layer: number): Promise<AttentionAt> {
    if (!(Number.isInteger(layer) && layer >= 0 && layer < this.layers)) throw new Error(`the model has no layer ${layer} (it has ${this.layers})`);
    if (this.last?.text !== text) {
      const enc = encodeDocument(this.bundle.tokenizer, text);
      const seq = [this.bundle.eotId, ...enc.ids]; // sequence position i + 1 holds token i (./windows)
      this.last = { text, enc, seq, windows: this.windows(seq) };
    }
    const { enc, seq, windows } = this.last;
    if (enc.ids.length === 0) throw new Error('the document has no tokens');
    let i = enc.ids.length - 1;
    while (i > 0 && enc.starts[i] > offset) i--;
    const win = scoringWindow(windows, i + 1);
    const T = i + 2 - win.start; // the query's keys are at and before it
    const rows = await this.qk(seq.slice(win.start, win.start + win.length));
    const hd = this.nHead * this.dh;
    const stride = this.watch.length;
    const [qAt, kAt] = [layer * 2 * hd, layer * 2 * hd + hd]; // the layer's q and k columns
    const hasEot = win.start === 0; // sequence position 0 is the end-of-text token, not a document token
    const heads = Array.from({ length: this.nHead }, (_, h) => {
      const { weights, sink } = headPattern(rows, (T - 1) * stride + qAt + h * this.dh, kAt + h * this.dh, stride, T, this.dh, this.params.scale, this.params.sink_logits?.[layer][h]);
      return { head: h, weights: hasEot ? weights.subarray(1) : weights, startOfText: hasEot ? weights[0] : 0, sink };
    });
    const first = Math.max(win.start - 1, 0); // the document token at the window's first non-EOT position
    const tokens = Array.from({ length: i + 1 - first }, (_, k) => ({ start: enc.starts[first + k], end: enc.ends[first + k], text: text.slice(enc.starts[first + k], enc.ends[first + k]) }));
    return { layer, dHead: this.dh, query: tokens[tokens.length - 1], tokens, heads };
  }

  /** Every layer's q and k nodes at every position of the window `ids` [T, watch.length], kept or from one run. */
  private qk(ids: readonly number[]): Promise<Float32Array> {
    const key = ids.join(',');
    const known = this.kept.get(key);
    if (known) {
      this.kept.delete(key); // most recently used last
      this.kept.set(key, known);
      return known.rows;
    }
    const T = ids.length;
    const rows = this.runner
      .run({
        ids: BigInt64Array.from(ids, (id) => BigInt(id)),
        B: 1,
        T,
        mask: new Float32Array(this.bundle.means.length).fill(1),
        fill: this.bundle.means,
        watch: this.watch,
        scoreFrom: 0,
        readIds: new BigInt64Array([0n]), // the full graph reads at least one logit; nobody looks at it
        cone: this.cone,
      })
      .then((out) => out.watched); // [1, T, watch.length]
    const entry = { rows, floats: T * this.watch.length };
    // layers asked for at once share the run; a failed run is not kept
    rows.catch(() => this.kept.get(key) === entry && this.forget(key));
    this.kept.set(key, entry);
    this.keptFloats += entry.floats;
    for (const old of this.kept.keys()) {
      if (this.keptFloats <= KEPT_FLOATS || old === key) break;
      this.forget(old);
    }
    return rows;
  }

  private forget(key: string): void {
    this.keptFloats -= this.kept.get(key)?.floats ?? 0;
    this.kept.delete(key);
  }
}

const isPosInt = (x: unknown): x is number => Number.isInteger(x) && (x as number) > 0;
