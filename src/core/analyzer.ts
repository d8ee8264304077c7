// Whole-document analysis: tokenize, cut into overlapping windows of the model's context, run them
// in batches, and keep per token only what the editor needs (firing values of every circuit, the
// top next tokens, each circuit's class readout) — never the full [T, V] logits.
//
// Windows: the token sequence is [EOT] + document tokens (the model saw files after an
// end-of-text token in training). Window k covers [k·S, k·S + W) with W = context and S = W/2;
// each token takes its result from the window in which it has the most left context (window 0:
// all its positions; later windows: their second half), so every token sees ≥ S tokens of context
// once the document is that long.
// Cache: results are kept per window, keyed by a hash of the window's token ids and the ablation,
// so re-analysis after an edit recomputes only windows whose content changed.
import { createHash } from 'crypto';
import type { CircuitFile } from '../protocol/circuit';
import type { Bundle } from './modelBundle';
import type { OnnxRunner } from './onnxRunner';

export type AblationMode = 'mean' | 'zero';

export interface AblationSpec {
  readonly nodes: ReadonlySet<string>;
  readonly mode: AblationMode;
  /** Ablate every node outside this circuit (task name). */
  readonly circuitOnly?: string;
}

export interface ClassReadout {
  readonly probs: readonly [number, number];
  readonly logitDiff: number;
}

export interface TokenAnalysis {
  readonly id: number;
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /** Top next tokens after this one. */
  readonly next: readonly { readonly id: number; readonly p: number }[];
  /** Per task: class readout of the prediction made at this token. */
  readonly readout: Readonly<Record<string, ClassReadout>>;
  /** Per task: Σ coef·activation of the firing rule at this token. */
  readonly firing: Readonly<Record<string, number>>;
  /** Activations of the watched nodes (every circuit node) at this token [K]; see `column`. */
  readonly watched: Float32Array;
}

export interface AnalysisResult {
  readonly tokens: TokenAnalysis[];
  readonly elapsedMs: number;
  readonly windowsComputed: number;
  readonly windowsReused: number;
}

/** Per scored position of one window: next-token top-K, readouts, watched activations. */
interface WindowResult {
  readonly next: { id: number; p: number }[][];
  readonly readout: Record<string, ClassReadout>[];
  /** [positions × K] watched activations. */
  readonly watched: Float32Array;
}

const TOP_K = 5;
const BATCH = 8;
const CACHE_WINDOWS = 4000;

export class Analyzer {
  readonly watch: number[];
  private readonly watchIndex = new Map<number, number>();
  private readonly cache = new Map<string, WindowResult>();
  private readonly generations = new Map<string, number>();

  constructor(
    readonly bundle: Bundle,
    private readonly runner: OnnxRunner,
  ) {
    const flats = new Set<number>();
    for (const c of bundle.circuits) {
      for (const n of c.nodes) flats.add(n.flat);
      for (const t of c.firing?.terms ?? []) flats.add(bundle.layout.flat(t.node) as number);
    }
    this.watch = [...flats].sort((a, b) => a - b);
    this.watch.forEach((f, k) => this.watchIndex.set(f, k));
  }

  get circuits(): readonly CircuitFile[] {
    return this.bundle.circuits;
  }

  /** mask and fill [N] for an ablation. */
  vectors(ab: AblationSpec): { mask: Float32Array; fill: Float32Array } {
    const N = this.bundle.layout.count;
    const mask = new Float32Array(N).fill(1);
    const fill = ab.mode === 'mean' ? this.bundle.means : new Float32Array(N);
    if (ab.circuitOnly) {
      mask.fill(0);
      const c = this.bundle.circuits.find((x) => x.task === ab.circuitOnly);
      for (const n of c?.nodes ?? []) mask[n.flat] = 1;
    }
    for (const id of ab.nodes) {
      const f = this.bundle.layout.flat(id);
      if (f !== undefined) mask[f] = 0;
    }
    return { mask, fill };
  }

  private ablationKey(ab: AblationSpec): string {
    return `${ab.mode}|${ab.circuitOnly ?? ''}|${[...ab.nodes].sort().join(',')}`;
  }

  /**
   * Analyse a whole text. Calls with the same `key` supersede each other: an older call resolves
   * null as soon as a newer one starts, so a stale result can never be delivered.
   */
  async analyze(key: string, text: string, ab: AblationSpec, range?: { start: number; end: number }): Promise<AnalysisResult | null> {
    const generation = (this.generations.get(key) ?? 0) + 1;
    this.generations.set(key, generation);
    const started = performance.now();
    const enc = this.bundle.tokenizer.encode(range ? text.slice(range.start, range.end) : text);
    const shift = range?.start ?? 0;
    const seq = [this.bundle.eotId, ...enc.ids];
    const W = this.bundle.context;
    const S = W / 2;
    const starts: number[] = [];
    for (let s = 0; s === 0 || s + S < seq.length; s += S) starts.push(s);
    const akey = this.ablationKey(ab);
    const results = new Array<WindowResult>(starts.length);
    const todo: { w: number; ids: number[]; cacheKey: string }[] = [];
    let reused = 0;
    starts.forEach((s, w) => {
      const ids = seq.slice(s, s + W);
      const cacheKey = `${hashIds(ids)}|${w === 0 ? 'first' : 'later'}|${akey}`;
      const hit = this.cache.get(cacheKey);
      if (hit) {
        results[w] = hit;
        reused++;
      } else todo.push({ w, ids, cacheKey });
    });
    const { mask, fill } = this.vectors(ab);
    // batch windows of equal length (all full windows; the last may be shorter)
    const groups = new Map<number, typeof todo>();
    for (const t of todo) groups.set(t.ids.length, [...(groups.get(t.ids.length) ?? []), t]);
    for (const [T, group] of groups) {
      for (let i = 0; i < group.length; i += BATCH) {
        if (this.generations.get(key) !== generation) return null;
        const batch = group.slice(i, i + BATCH);
        const ids = new BigInt64Array(batch.length * T);
        batch.forEach((b, r) => b.ids.forEach((id, t) => (ids[r * T + t] = BigInt(id))));
        const out = await this.runner.run(ids, batch.length, T, mask, fill, this.watch);
        batch.forEach((b, r) => {
          const from = b.w === 0 ? 0 : S;
          const res = this.summarise(out.logits, out.watched, r, T, from);
          results[b.w] = res;
          this.remember(b.cacheKey, res);
        });
      }
    }
    if (this.generations.get(key) !== generation) return null;
    const tokens: TokenAnalysis[] = [];
    starts.forEach((s, w) => {
      const res = results[w];
      const from = w === 0 ? 0 : S;
      for (let j = 0; j < res.next.length; j++) {
        const pos = s + from + j; // index into seq; seq[0] is the EOT prefix
        if (pos === 0) continue;
        const i = pos - 1;
        tokens.push({
          id: enc.ids[i],
          text: text.slice(enc.starts[i] + shift, enc.ends[i] + shift),
          start: enc.starts[i] + shift,
          end: enc.ends[i] + shift,
          next: res.next[j],
          readout: res.readout[j],
          firing: this.firing(res.watched, j),
          watched: res.watched.subarray(j * this.watch.length, (j + 1) * this.watch.length),
        });
      }
    });
    return { tokens, elapsedMs: performance.now() - started, windowsComputed: todo.length, windowsReused: reused };
  }

  /** The prediction at the token containing `offset` (or the last token before it), in a window ending there. */
  async at(text: string, offset: number, ab: AblationSpec): Promise<{ token: TokenAnalysis; watched: Map<number, number> } | undefined> {
    const enc = this.bundle.tokenizer.encode(text);
    let i = enc.ids.length - 1;
    while (i > 0 && enc.starts[i] > offset) i--;
    if (i < 0) return undefined;
    const seq = [this.bundle.eotId, ...enc.ids.slice(0, i + 1)].slice(-this.bundle.context);
    const T = seq.length;
    const { mask, fill } = this.vectors(ab);
    const out = await this.runner.run(BigInt64Array.from(seq.map((x) => BigInt(x))), 1, T, mask, fill, this.watch);
    const res = this.summarise(out.logits, out.watched, 0, T, T - 1);
    const watched = new Map<number, number>();
    this.watch.forEach((f, k) => watched.set(f, res.watched[k]));
    return {
      token: { id: enc.ids[i], text: text.slice(enc.starts[i], enc.ends[i]), start: enc.starts[i], end: enc.ends[i], next: res.next[0], readout: res.readout[0], firing: this.firing(res.watched, 0), watched: res.watched },
      watched,
    };
  }

  /** Activation of a watched node (flat index) at token j of a window result. */
  private firing(watched: Float32Array, j: number): Record<string, number> {
    const K = this.watch.length;
    const out: Record<string, number> = {};
    for (const c of this.bundle.circuits) {
      let v = 0;
      for (const t of c.firing?.terms ?? []) v += t.coef * watched[j * K + (this.watchIndex.get(this.bundle.layout.flat(t.node) as number) as number)];
      out[c.task] = v;
    }
    return out;
  }

  /** Reduce row r of a [B, T, V] logits block (positions from..T-1) to what the editor keeps. */
  private summarise(logits: Float32Array, watchedAll: Float32Array, r: number, T: number, from: number): WindowResult {
    const V = this.bundle.model.vocab_size;
    const K = this.watch.length;
    const next: { id: number; p: number }[][] = [];
    const readout: Record<string, ClassReadout>[] = [];
    const watched = new Float32Array((T - from) * K);
    for (let t = from; t < T; t++) {
      const base = (r * T + t) * V;
      let max = -Infinity;
      for (let v = 0; v < V; v++) if (logits[base + v] > max) max = logits[base + v];
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(logits[base + v] - max);
      const top: { id: number; p: number }[] = [];
      for (let v = 0; v < V; v++) {
        const l = logits[base + v];
        if (top.length < TOP_K || l > top[top.length - 1].p) {
          top.push({ id: v, p: l });
          top.sort((a, b) => b.p - a.p);
          if (top.length > TOP_K) top.pop();
        }
      }
      next.push(top.map((x) => ({ id: x.id, p: Math.exp(x.p - max) / sum })));
      const ro: Record<string, ClassReadout> = {};
      for (const c of this.bundle.circuits) {
        const lse = (cls: 0 | 1) => {
          let m = -Infinity;
          for (const tk of c.classes[cls].tokens) m = Math.max(m, logits[base + tk.id]);
          let s = 0;
          for (const tk of c.classes[cls].tokens) s += Math.exp(logits[base + tk.id] - m);
          return { lse: m + Math.log(s), p: (s * Math.exp(m - max)) / sum };
        };
        const a = lse(0);
        const b = lse(1);
        ro[c.task] = { probs: [a.p, b.p], logitDiff: a.lse - b.lse };
      }
      readout.push(ro);
      watched.set(watchedAll.subarray((r * T + t) * K, (r * T + t + 1) * K), (t - from) * K);
    }
    return { next, readout, watched };
  }

  private remember(key: string, res: WindowResult): void {
    if (this.cache.size >= CACHE_WINDOWS) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, res);
  }

  /** Watched flat index → its column in `watched` outputs. */
  column(flat: number): number | undefined {
    return this.watchIndex.get(flat);
  }

  clearCache(): void {
    this.cache.clear();
  }
}

function hashIds(ids: readonly number[]): string {
  const h = createHash('sha1');
  h.update(Buffer.from(Int32Array.from(ids).buffer));
  return h.digest('base64');
}
