// Pure text formatting for the panel (numbers, probabilities, ranges, token text).

import type { ClassReadout, PanelReadout, TokenRange } from '../schemas/messages';

const MINUS = '\u2212';

/** Signed number with a real minus sign: `+2.74`, `−0.15`, `0.00`. */
export function formatSigned(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return '—';
  const s = Math.abs(x).toFixed(digits);
  if (Number(s) === 0) return s;
  return x < 0 ? `${MINUS}${s}` : `+${s}`;
}

/** An activation or weight: signed, 2 decimals from 1 up, else 3 significant digits: `−1.42`, `+0.0512`, `−0.03`. */
export function formatValue(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1) return formatSigned(x, abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
  // Below 1: three significant digits without trailing zeros (0.0300 → 0.03).
  const digits = Math.min(6, 2 - Math.floor(Math.log10(abs)));
  return formatSigned(x, digits).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

/** A probability as a percentage: `62%`, `4.0%`, `0.3%`, `<0.1%`. */
export function formatProb(p: number): string {
  if (!Number.isFinite(p)) return '—';
  const pct = p * 100;
  if (pct > 0 && pct < 0.1) return '<0.1%';
  if (pct >= 10) return `${Math.round(pct)}%`;
  return `${pct.toFixed(1)}%`;
}

/** Faithfulness ratio as a percentage (may exceed 100% or be negative). */
export function formatRatio(r: number | null): string {
  if (r === null || !Number.isFinite(r)) return '—';
  return `${Math.round(r * 100)}%`;
}

export interface OrientedReadout {
  readonly pTarget: number;
  readonly pAlt: number;
  /** Logit difference target − alternative. */
  readonly diff: number;
}

/** A class readout seen from the target class: P(target), P(alternative), target − alternative. */
export function orient(r: ClassReadout, target: 0 | 1): OrientedReadout {
  return target === 0
    ? { pTarget: r.probs[0], pAlt: r.probs[1], diff: r.logitDiff }
    : { pTarget: r.probs[1], pAlt: r.probs[0], diff: -r.logitDiff };
}

export interface ReadoutRows {
  readonly before: OrientedReadout;
  readonly after: OrientedReadout | null;
  /** after.diff − before.diff, when there is an after. */
  readonly change: number | null;
}

export function readoutRows(r: PanelReadout): ReadoutRows {
  const before = orient(r.before, r.target);
  const after = r.after ? orient(r.after, r.target) : null;
  return { before, after, change: after ? after.diff - before.diff : null };
}

/** `7:17` — one-based line and column, as the editor shows them. */
export function formatPosition(range: TokenRange): string {
  return `${range.line + 1}:${range.character + 1}`;
}

/** Token text with invisible characters made visible: `␣world`, `")⏎`. */
export function visibleToken(text: string): string {
  return text.replace(/ /g, '\u2423').replace(/\r?\n/g, '\u23ce').replace(/\t/g, '\u21e5');
}
