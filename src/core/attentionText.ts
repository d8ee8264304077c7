// What "where attention looks" says and tints, from a head's pattern (./attention): the sentence
// naming the head, the query token, the sink's share and the most attended tokens; the tint level of
// each token; and which layer an attention node is in.
import type { AttentionAt, AttentionToken, HeadPattern } from './attention';
import { parseNodeId } from './nodes';
import { tokenCode } from './readoutText';

/** Tint steps: a token's weight over the largest one's, from the first level up (below it: no tint). */
export const TINT_LEVELS = [0.05, 0.15, 0.3, 0.5, 0.75] as const;

export interface TintedToken extends AttentionToken {
  /** The token's weight; start, end and text are its part after its last line break (a tint across lines would fill to the right edge). */
  readonly weight: number;
  /** 0 … TINT_LEVELS.length − 1. */
  readonly level: number;
}

/** The tokens `head` attends to enough to tint, each with its level (relative to the most attended token). */
export function tintedTokens(at: AttentionAt, head: HeadPattern): TintedToken[] {
  const max = head.weights.reduce((m, w) => Math.max(m, w), 0);
  if (max <= 0) return [];
  const out: TintedToken[] = [];
  at.tokens.forEach((t, k) => {
    const level = TINT_LEVELS.filter((l) => head.weights[k] / max >= l).length - 1;
    const cut = t.text.lastIndexOf('\n') + 1; // a line break with the next line's indent: the indent only
    if (level >= 0 && cut < t.text.length) out.push({ start: t.start + cut, end: t.end, text: t.text.slice(cut), weight: head.weights[k], level });
  });
  return out;
}

const percent = (x: number) => `${(100 * x).toFixed(x < 0.1 ? 1 : 0)} %`;
/** "head 1.2 from `name`: sink takes 70 %; top tokens `(` 12 %, …", tokens written as the hover writes them (tokenCode) (the start of the text, and a notebook cell's cells above taken together, count as a token when among the top). */
export function describeHead(at: AttentionAt, head: HeadPattern, top = 3): string {
  const ranked = at.tokens.map((t, k) => ({ text: tokenCode(t.text), w: head.weights[k] }));
  if (head.startOfText > 0) ranked.push({ text: 'the start of the file', w: head.startOfText });
  // the cells above a notebook cell are not in its editor, so not tinted: their share is said here
  if (head.above) ranked.push({ text: 'the cells above', w: head.above });
  ranked.sort((a, b) => b.w - a.w);
  const best = ranked.slice(0, top).map((r) => `${r.text} ${percent(r.w)}`);
  return `head ${at.layer}.${head.head} from ${tokenCode(at.query.text)}: sink takes ${percent(head.sink)}; top tokens ${best.join(', ')}`;
}

/** Sink shares this close read the same where they are shown (0.1 %): a tie. */
const SINK_TIE = 0.0005;

/** The weight a head puts beyond the query token and the one before it (the start of the file and the cells above included): how far back it looks. */
export function reach(head: HeadPattern): number {
  const w = head.weights;
  const near = (w.length > 0 ? w[w.length - 1] : 0) + (w.length > 1 ? w[w.length - 2] : 0);
  return Math.max(0, 1 - head.sink - near);
}

export interface DefaultHead {
  readonly head: HeadPattern;
  /** Why it was chosen, in words (follows "drawn by default:"). */
  readonly why: string;
}

/**
 * The head drawn by default: the one with the least sink share (it looks at the text most). Where
 * several tie at that share as it is shown (0.1 %; often three heads at 0.0 %), of those the one that
 * looks furthest back: the most weight beyond this token and the one before it, so a previous-token
 * head (all on the token before) is not the default where a head reads the text further back.
 */
export function defaultHead(heads: readonly HeadPattern[]): DefaultHead {
  const least = heads.reduce((m, h) => Math.min(m, h.sink), Infinity);
  const tied = heads.filter((h) => h.sink - least < SINK_TIE);
  if (tied.length === 1) return { head: tied[0], why: `the least sink share (${percent(least)})` };
  const head = tied.reduce((best, h) => (reach(h) > reach(best) ? h : best));
  return { head, why: `of the ${tied.length} heads tied at the least sink share (${percent(least)}), the one that looks furthest back (${percent(reach(head))} of its attention beyond this token and the one before it)` };
}

/** The layer of an attention node (`L.attn.q|k|v.C`), or undefined for any other node; AttentionAt.dHead then gives its head. */
export function layerOfNode(nodeId: string): { layer: number; channel: number } | undefined {
  const p = parseNodeId(nodeId);
  return p && p.kind === 'attn' && ['q', 'k', 'v'].includes(p.site) ? { layer: p.layer, channel: p.index } : undefined;
}
