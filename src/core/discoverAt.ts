// "Why this token?" at a position of a document: the window the analysis runs there, the contrast
// (given, or the actual next token or the top one against the runner-up), ./discover's circuit, and
// its edges (./nodeWeights), as the JSON the CLI's `discover` writes and the editor shows.
import { type Bundle, BundleError } from './bundle';
import { deadNodes } from './deadNodes';
import { findCircuit, type MaskRunner } from './discover';
import { tokenCode } from './readoutText';
import { type Edge, NodeWeights } from './nodeWeights';
import { CIRCUIT_LIMITS } from '../schemas/circuit';
import { averagingRunner, samePairPositions } from './samePair';
import { encodeDocument } from './documentReading';
import { scoringWindow, type Window } from './windows';

/**
 * The smallest node set that keeps the share asked for is larger than a circuit file may be (the
 * panel's limit): the result, not a failure, and said in one sentence instead of a graph nobody can read.
 */
export class NoReadableCircuit extends Error {}

export interface DiscoverAtOptions {
  /** Token texts of the contrast; default: the actual next token if among the top, else the top one, against the runner-up. */
  readonly target?: string;
  readonly alt?: string;
  readonly mode?: 'mean' | 'zero';
  /** Share of the full model's logit difference the circuit alone keeps (default 0.8). */
  readonly keep?: number;
  /** Share of it that ablating the circuit should cost (default 0.5; see ./discover). */
  readonly cost?: number;
  /** Next-token candidates reported (and searched for the actual next token; default 5). */
  readonly top?: number;
  /** Average over every position of the file with the cursor's token followed by the target (./samePair). */
  readonly average?: boolean;
  /** Also measure every node's attribution alone (Discovery.every_node; ./discover FindOptions.everyNode). */
  readonly everyNode?: boolean;
}

export interface TokenRef {
  readonly id: number;
  readonly text: string;
}

export interface Discovery {
  readonly position: { readonly line: number; readonly col: number; readonly offset: number; readonly token: string };
  readonly target: TokenRef;
  readonly alt: TokenRef;
  /** The token the document has next, if any. */
  readonly actual: TokenRef | null;
  readonly top: readonly (TokenRef & { readonly p: number })[];
  readonly mode: 'mean' | 'zero';
  readonly full: { readonly logit_diff: number; readonly p_target: number; readonly p_alt: number };
  /** The circuit's nodes, by |attribution|; attribution = full − the difference with the node alone ablated. */
  readonly nodes: readonly { readonly id: string; readonly attribution: number; readonly label: string }[];
  readonly edges: readonly Edge[];
  /** Every node ablated (each at its mean, or zero): what circuit_only is read against; kept = logit_diff / full. */
  readonly all_ablated: { readonly logit_diff: number; readonly kept: number };
  /** Every node outside the circuit ablated; kept = logit_diff / full. */
  readonly circuit_only: { readonly logit_diff: number; readonly kept: number };
  /** The circuit's nodes ablated. */
  readonly without_circuit: { readonly logit_diff: number; readonly kept: number };
  /** Forward passes (mask rows) run. */
  readonly rows: number;
  readonly ms: number;
  /** With `everyNode`: every node of the model with its attribution (dead ones 0), by |attribution|, largest first. */
  readonly every_node?: readonly { readonly id: string; readonly attribution: number }[];
  /** With `average`: the positions whose attributions were averaged (the cursor's first); the logit differences above are their means (P is the cursor's). */
  readonly averaged?: { readonly positions: readonly { readonly line: number; readonly col: number }[] };
}

/** The id of the vocabulary entry whose text is exactly `text`, or a one-sentence Error. */
export function tokenIdOf(bundle: Bundle, text: string): number {
  for (let id = 0; id < bundle.model.vocab_size; id++) if (!bundle.tokenizer.isSpecial(id) && bundle.tokenizer.tokenText(id) === text) return id;
  const n = bundle.tokenizer.encode(text).ids.length;
  throw new Error(`${tokenCode(text)} is not one token of the model's vocabulary (it takes ${n} tokens); give the exact text of one token, e.g. from the top next tokens`);
}

/**
 * The circuit behind the prediction the model makes after the token at `offset` (UTF-16), in the
 * window the analysis uses for it (`windows`: DocumentAnalyzer.windows).
 */
export async function discoverAt(bundle: Bundle, runner: MaskRunner, windows: (seq: ArrayLike<number>) => Window[], text: string, offset: number, options: DiscoverAtOptions = {}): Promise<Discovery> {
  const started = performance.now();
  // one ablation per run would take ~3,000 runs per position, and edges need the weights file
  if (bundle.manifest.mask_rows !== true) throw new BundleError(`Bundle ${bundle.dir} was exported before mask rows, which "Why this token?" needs; re-export it with training/export.py.`);
  const tok = bundle.tokenizer;
  const enc = encodeDocument(tok, text);
  let i = enc.ids.length - 1;
  while (i > 0 && enc.starts[i] > offset) i--;
  if (i < 0) throw new Error('the document has no tokens');
  const seq = [bundle.eotId, ...enc.ids]; // sequence position i + 1 holds token i (./windows)
  const p = i + 1;
  const planned = windows(seq);
  const win = scoringWindow(planned, p);
  const ids = seq.slice(win.start, p + 1); // the prediction after token i needs nothing to its right

  const V = bundle.model.vocab_size;
  const probs = await nextTokenProbabilities(runner, ids, bundle.means, V);
  const ranked = Array.from({ length: V }, (_, v) => v).sort((a, b) => probs[b] - probs[a]);
  const ref = (id: number): TokenRef => ({ id, text: tok.tokenText(id) });
  const topN = Math.max(2, options.top ?? 5);
  const actual = i + 1 < enc.ids.length ? enc.ids[i + 1] : undefined;
  const target = options.target !== undefined ? tokenIdOf(bundle, options.target) : actual !== undefined && ranked.slice(0, topN).includes(actual) ? actual : ranked[0];
  const alt = options.alt !== undefined ? tokenIdOf(bundle, options.alt) : (ranked.find((v) => v !== target) as number);
  if (alt === target) throw new Error('the target and the alternative are the same token; give two different ones');

  const mode = options.mode ?? 'mean';
  const where = (j: number) => ({ line: countLines(text, enc.starts[j]), col: enc.starts[j] - text.lastIndexOf('\n', enc.starts[j] - 1) });
  const same = options.average ? samePairPositions(enc.ids, i, target) : [];
  const windowOf = (j: number) => seq.slice(scoringWindow(planned, j + 1).start, j + 2);
  const searched = options.average ? same.map(windowOf) : [ids];
  const search = options.average ? averagingRunner(runner, searched) : runner;
  const dead = await deadNodes(runner, searched, mode === 'zero' ? new Float32Array(bundle.layout.count) : bundle.means);
  const found = await findCircuit(search, ids, { target, alt }, { means: bundle.means, mode, keep: options.keep, cost: options.cost, dead, everyNode: options.everyNode });
  if (found.nodes.length > CIRCUIT_LIMITS.nodes) {
    const share = `${Math.round(100 * (options.keep ?? 0.8))} %`;
    throw new NoReadableCircuit(
      `no circuit of at most ${CIRCUIT_LIMITS.nodes.toLocaleString('en-US')} nodes keeps ${share} of the preference for ${tokenCode(ref(target).text)} over ${tokenCode(ref(alt).text)} here (the smallest found has ${found.nodes.length.toLocaleString('en-US')} of the model's ${bundle.layout.count.toLocaleString('en-US')}): the prediction is spread over the model; try averaging over the file's places, another alternative or a lower share to keep`,
    );
  }
  const labels = shippedLabels(bundle);
  const shown = byShownAttribution(found.nodes.map((f) => ({ f, a: round(found.attribution[f]) })));
  const nodeIds = shown.map(({ f }) => bundle.layout.id(f));
  return {
    position: { ...where(i), offset: enc.starts[i], token: text.slice(enc.starts[i], enc.ends[i]) },
    target: ref(target),
    alt: ref(alt),
    actual: actual === undefined ? null : ref(actual),
    top: ranked.slice(0, topN).map((id) => ({ ...ref(id), p: round(probs[id]) })),
    mode,
    full: { logit_diff: round(found.full), p_target: round(probs[target]), p_alt: round(probs[alt]) },
    nodes: shown.map(({ a }, k) => ({ id: nodeIds[k], attribution: a, label: labels.get(nodeIds[k]) ?? nodeIds[k] })),
    edges: NodeWeights.load(bundle).edges(nodeIds, target, alt),
    all_ablated: { logit_diff: round(found.allAblated), kept: round(found.allAblated / found.full) },
    circuit_only: { logit_diff: round(found.circuitOnly), kept: round(found.circuitOnly / found.full) },
    without_circuit: { logit_diff: round(found.withoutCircuit), kept: round(found.withoutCircuit / found.full) },
    rows: found.rows * Math.max(1, same.length), // each mask row runs at every position averaged
    ms: Math.round(performance.now() - started),
    ...(options.everyNode ? { every_node: everyNode(bundle, found.attribution).map(({ f, a }) => ({ id: bundle.layout.id(f), attribution: a })) } : {}),
    ...(options.average ? { averaged: { positions: same.map(where) } } : {}),
  };
}

/** A number as a Discovery shows it: 4 decimals. */
function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/**
 * Nodes by the size of their shown (rounded) attribution, largest first, then by place in the model.
 * Ordering by the unrounded values would let float noise at the 7th digit — which differs between the
 * tail graphs and model.onnx, or CPU and CUDA — reorder nodes the reader sees as equal (often 0).
 */
function byShownAttribution(nodes: { f: number; a: number }[]): { f: number; a: number }[] {
  return nodes.sort((x, y) => Math.abs(y.a) - Math.abs(x.a) || x.f - y.f);
}

/** Every node's flat index with its shown attribution, ordered as byShownAttribution. */
function everyNode(bundle: Bundle, attribution: Float32Array): { f: number; a: number }[] {
  return byShownAttribution(Array.from({ length: bundle.layout.count }, (_, f) => ({ f, a: round(attribution[f]) })));
}

/** Softmax over all V next-token logits after the last of `ids`, unablated [V]. */
async function nextTokenProbabilities(runner: MaskRunner, ids: readonly number[], means: Float32Array, V: number): Promise<Float64Array> {
  const T = ids.length;
  const { logits } = await runner.run({
    ids: BigInt64Array.from(ids, (id) => BigInt(id)),
    B: 1,
    T,
    mask: new Float32Array(means.length).fill(1),
    fill: means,
    watch: [],
    scoreFrom: T - 1,
    readIds: BigInt64Array.from({ length: V }, (_, v) => BigInt(v)),
  }); // [1, 1, V]
  let max = -Infinity;
  for (const l of logits) max = Math.max(max, l);
  const probs = Float64Array.from(logits, (l) => Math.exp(l - max));
  const sum = probs.reduce((a, b) => a + b, 0);
  return probs.map((x) => x / sum);
}

/** The labels the bundle's circuits give their nodes, by node id. */
function shippedLabels(bundle: Bundle): Map<string, string> {
  return new Map(bundle.circuits.flatMap((c) => c.nodes.map((n) => [n.id, n.label] as [string, string])));
}

/** 1-based line of a UTF-16 offset. */
function countLines(text: string, offset: number): number {
  let line = 1;
  for (let k = text.indexOf('\n'); k >= 0 && k < offset; k = text.indexOf('\n', k + 1)) line++;
  return line;
}
