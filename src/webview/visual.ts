// Pure: turns a panel model + theme into drawable shapes (positions, sizes, colours, labels). The
// cytoscape graph (graph.ts) and the SVG export (export-svg.ts) both draw from this, so the export
// matches the screen.

import type { CircuitFile } from '../schemas/circuit';
import type { PanelReadout } from '../schemas/messages';
import { divergingColor, mixOklab, parseColor, textColorOn, toHex } from './colors';
import { computeLayout, controlPoint, DEFAULT_LAYOUT, type GraphLayout, type LayoutBand, type LayoutNodeInput, type LayoutOptions, shortLabel } from './layout';
import type { Theme } from './theme';

export const NODE_WIDTH = 66;
export const NODE_HEIGHT = 30;
export const OUTPUT_WIDTH = 120;
/** Room for the row labels (rowLabel: at most 10 characters of 12 px monospace) left of the nodes. */
export const ROW_LABEL_WIDTH = 84;
export const CAPTION_MAX = 13;
/** Graph width besides the node columns: row labels and band padding on the left, a node's half width and padding on the right (buildVisualGraph). */
export const GRAPH_MARGIN_X = 250;
/** Graph height besides the rows: band gaps and labels, the last row's caption. */
export const GRAPH_MARGIN_Y = 90;
/** Distance between node centres in a row in the panel (layoutFor). */
export const COLUMN_GAP = 86;
/** Distance between rows in the panel: a node, its caption and room for the edges' arrowheads. */
export const ROW_GAP = 52;
/** Font sizes (graph units) of node labels and captions: at the default zoom (≥ READABLE_ZOOM) the node label is drawn ≥ 10 px. */
export const LABEL_FONT = 13;
export const CAPTION_FONT = 11.5;
/** The id and site of the output node: the two contrast logits the unembedding computes from the residual. */
export const OUTPUT_ID = 'output';
export const OUTPUT_SITE = 'out.logits';
/** By default the graph draws the strongest edges that together carry this share of the circuit's total |weight|. */
export const DEFAULT_EDGE_SHARE = 0.8;

export interface VisualNode {
  readonly id: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  /** Short label drawn inside the node (`v 17`). */
  readonly label: string;
  /** Human label drawn under the node, truncated to CAPTION_MAX characters. */
  readonly caption: string;
  readonly fill: string;
  readonly textColor: string;
  readonly borderColor: string;
  readonly borderWidth: number;
  readonly dashed: boolean;
  readonly opacity: number;
  readonly ablated: boolean;
  readonly key: boolean;
  /** Activation at the cursor, or null when the host did not supply one. */
  readonly value: number | null;
}

export interface VisualEdge {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  readonly weight: number;
  readonly width: number;
  readonly color: string;
  /** See `EdgeRoute.bend` in layout.ts. */
  readonly bend: number;
  readonly dashed: boolean;
  readonly opacity: number;
}

export interface VisualBand extends LayoutBand {
  /** `Layer 0`, …, `Output`. */
  readonly label: string;
}

export interface VisualRow {
  readonly key: string;
  /** `attn.v` */
  readonly label: string;
  readonly y: number;
}

export interface VisualGraph {
  readonly nodes: readonly VisualNode[];
  readonly edges: readonly VisualEdge[];
  readonly rows: readonly VisualRow[];
  readonly bands: readonly VisualBand[];
  /** x of the right edge of the row labels (labels are right-aligned here). */
  readonly rowLabelX: number;
  /** Left and right of the bands. */
  readonly bandX0: number;
  readonly bandX1: number;
  /** Symmetric extent of the activation colour scale. */
  readonly extent: number;
  /** Circuit edges drawn (above the threshold) and in the circuit; edges into the output node not counted. */
  readonly shownEdges: number;
  readonly totalEdges: number;
  readonly theme: Theme;
}

export interface VisualInput {
  readonly circuit: CircuitFile;
  readonly activations: Readonly<Record<string, number>>;
  readonly ablated: ReadonlySet<string>;
  /** Symmetric extent of the activation scale (fixed per circuit: state.ts `circuitExtent`). */
  readonly extent: number;
  /** Share of the total |weight| the drawn edges carry (strongest first); default DEFAULT_EDGE_SHARE, 1 = all. */
  readonly edgeShare?: number;
  /** The readout at the cursor, for the output node's caption (the logit difference). */
  readonly readout?: PanelReadout | null;
}

/**
 * Indices of the strongest edges (by |weight|) that together carry at least `share` of the total
 * |weight|; edges as strong as the weakest one kept are kept too. Every edge for share ≥ 1.
 */
export function strongestEdges(weights: readonly number[], share: number): Set<number> {
  const order = weights.map((w, i) => ({ a: Math.abs(w), i })).sort((x, y) => y.a - x.a || x.i - y.i);
  const total = order.reduce((sum, e) => sum + e.a, 0);
  if (share >= 1 || !(total > 0)) return new Set(weights.map((_, i) => i));
  const keep = new Set<number>();
  let sum = 0;
  let weakest = Infinity;
  for (const e of order) {
    if (sum >= share * total && e.a < weakest) break;
    keep.add(e.i);
    sum += e.a;
    weakest = e.a;
  }
  return keep;
}

/**
 * The edges into the output node. The circuit file has no unembedding weights, so they are
 * derived: every node that writes to the residual stream (a `resid_delta` site: the unembedding
 * reads the sum of all writes) gets an edge, weighted by its `class_correlation` from the file —
 * the Pearson r of its activation with the example being of class 0, i.e. the sign says which
 * logit it pushes towards (0 when the file does not have it).
 */
export function outputEdges(circuit: CircuitFile): { source: string; weight: number }[] {
  return circuit.nodes.filter((n) => n.site.endsWith('resid_delta')).map((n) => ({ source: n.id, weight: n.class_correlation ?? 0 }));
}

/** The layout the panel uses: columns just wider than a node (captions are cut to CAPTION_MAX to fit), so a row of a dozen nodes fits a panel beside the editor. */
export function layoutFor(base: LayoutOptions = DEFAULT_LAYOUT): LayoutOptions {
  return { ...base, columnGap: Math.min(base.columnGap, COLUMN_GAP), rowGap: Math.min(base.rowGap, ROW_GAP) };
}

/** The output node as a layout input: one row after the last layer. */
export function outputLayoutNode(circuit: CircuitFile): LayoutNodeInput {
  const last = circuit.nodes.reduce((m, n) => Math.max(m, n.layer), 0);
  return { id: OUTPUT_ID, layer: last + 1, site: OUTPUT_SITE, index: 0 };
}

export function buildVisualGraph(input: VisualInput, theme: Theme, options: LayoutOptions = DEFAULT_LAYOUT): VisualGraph {
  const { circuit, ablated, extent } = input;
  const kept = strongestEdges(circuit.edges.map((e) => e.weight), input.edgeShare ?? DEFAULT_EDGE_SHARE);
  const shown = circuit.edges.map((e, i) => ({ e, i })).filter(({ i }) => kept.has(i));
  const toOutput = outputEdges(circuit);
  const out = outputLayoutNode(circuit);
  const layoutEdges = [...shown.map(({ e }) => e), ...toOutput.map((o) => ({ source: o.source, target: OUTPUT_ID }))];
  const layout = computeLayout([...circuit.nodes, out], layoutEdges, options);
  const nodes = circuit.nodes.map((n) => visualNode(n, layout.positions.get(n.id) ?? { x: 0, y: 0 }, input, theme));
  nodes.push(outputNode(layout.positions.get(OUTPUT_ID) ?? { x: 0, y: 0 }, input, theme));
  const maxW = circuit.edges.reduce((m, e) => Math.max(m, Math.abs(e.weight)), 0) || 1;
  const color = (w: number): string => toHex(w >= 0 ? theme.palette.positive : theme.palette.negative);
  const edges: VisualEdge[] = shown.map(({ e, i }, k) => {
    const cut = ablated.has(e.source) || ablated.has(e.target);
    return {
      id: `e${i}`,
      source: e.source,
      target: e.target,
      weight: e.weight,
      width: round(1 + 5 * (Math.abs(e.weight) / maxW)),
      color: color(e.weight),
      bend: layout.routes[k]?.bend ?? 0,
      dashed: cut,
      opacity: cut ? 0.35 : 0.85,
    };
  });
  toOutput.forEach((o, k) => {
    const cut = ablated.has(o.source);
    edges.push({
      id: `out:${o.source}`,
      source: o.source,
      target: OUTPUT_ID,
      weight: o.weight,
      width: round(1 + 3 * Math.min(1, Math.abs(o.weight))),
      color: o.weight === 0 ? theme.muted : color(o.weight),
      bend: layout.routes[shown.length + k]?.bend ?? 0,
      dashed: cut,
      opacity: cut ? 0.35 : 0.85,
    });
  });

  const { left, right } = horizontalExtent(layout);
  const rowLabelX = left - 16;
  return {
    nodes,
    edges,
    rows: layout.rows.map((r) => ({ key: r.key, label: rowLabel(r.site), y: r.y })),
    bands: layout.bands.map((b) => ({ ...b, label: b.layer === out.layer ? 'Output' : `Layer ${b.layer}` })),
    rowLabelX,
    bandX0: rowLabelX - ROW_LABEL_WIDTH,
    bandX1: right + 24,
    extent,
    shownEdges: shown.length,
    totalEdges: circuit.edges.length,
    theme,
  };
}

/**
 * Left and right edges of what is drawn: captions are wider than nodes, and a bent edge (two
 * straight segments) reaches out to its corner, on one side only.
 */
function horizontalExtent(layout: GraphLayout): { left: number; right: number } {
  const halfWidth = Math.max(OUTPUT_WIDTH / 2, 60);
  let left = layout.minX - halfWidth;
  let right = layout.maxX + halfWidth;
  for (const r of layout.routes) {
    const a = layout.positions.get(r.source);
    const b = layout.positions.get(r.target);
    if (r.bend === 0 || !a || !b) continue;
    const corner = controlPoint(a, b, r.bend);
    left = Math.min(left, corner.x - 8);
    right = Math.max(right, corner.x + 8);
  }
  return { left, right };
}

/** The output node: the contrast's two logits (class 0 − class 1), with the logit difference at the cursor when there is one. */
function outputNode(p: { x: number; y: number }, input: VisualInput, theme: Theme): VisualNode {
  const [c0, c1] = input.circuit.classes;
  const r = input.readout;
  const diff = r ? (r.after ?? r.before).logitDiff : null;
  const bg = parseColor(theme.background) ?? { r: 255, g: 255, b: 255 };
  const fg = parseColor(theme.foreground) ?? { r: 0, g: 0, b: 0 };
  const fill = mixOklab(bg, fg, 0.1);
  return {
    id: OUTPUT_ID,
    x: p.x,
    y: p.y,
    width: OUTPUT_WIDTH,
    height: NODE_HEIGHT,
    label: truncate(`${c0.label} − ${c1.label}`, 20),
    // the number with the side it points to: a bare signed difference says nothing to a new reader
    caption: diff === null ? 'logits (unembedding)' : `logit diff ${diff >= 0 ? '+' : '−'}${Math.abs(diff).toFixed(2)} → ${diff >= 0 ? c0.label : c1.label}`,
    fill: toHex(fill),
    textColor: toHex(textColorOn(fill)),
    borderColor: theme.foreground,
    borderWidth: 1.5,
    dashed: false,
    opacity: 1,
    ablated: false,
    key: false,
    value: diff,
  };
}

/** A node as drawn: coloured by its activation, greyed and dashed when ablated, outlined when key. */
function visualNode(n: CircuitFile['nodes'][number], p: { x: number; y: number }, input: VisualInput, theme: Theme): VisualNode {
  const { activations, ablated, extent } = input;
  const raw = Object.prototype.hasOwnProperty.call(activations, n.id) ? activations[n.id] : undefined;
  const value = typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
  const isAblated = ablated.has(n.id);
  const bg = parseColor(theme.background) ?? { r: 255, g: 255, b: 255 };
  const fillRgb = isAblated ? (parseColor(theme.ablatedFill) ?? bg) : value === null ? theme.palette.neutral : divergingColor(value, extent, theme.palette);
  const isKey = input.circuit.key_nodes?.includes(n.id) ?? false;
  return {
    id: n.id,
    x: p.x,
    y: p.y,
    width: NODE_WIDTH,
    height: NODE_HEIGHT,
    label: shortLabel(n),
    caption: isIdLabel(n) ? '' : truncate(withoutSite(n), CAPTION_MAX),
    fill: toHex(fillRgb),
    textColor: isAblated ? theme.muted : toHex(textColorOn(fillRgb)),
    borderColor: isAblated ? theme.muted : isKey ? theme.foreground : theme.border,
    borderWidth: isAblated ? 1.5 : isKey ? 2 : 1,
    dashed: isAblated,
    opacity: isAblated ? 0.75 : 1,
    ablated: isAblated,
    key: isKey,
    value,
  };
}

/** A row's label, short enough for ROW_LABEL_WIDTH: `attn in`, `attn q·k·v`, `mlp act`, `logits`. */
export function rowLabel(site: string): string {
  if (site === OUTPUT_SITE) return 'logits';
  const [kind, rest = ''] = site.split('.', 2);
  const short: Record<string, string> = { act_in: 'in', qkv: 'q·k·v', resid_delta: 'out', post_act: 'act' };
  return `${kind} ${short[rest] ?? rest}`.slice(0, 10);
}

/** A label that only repeats the node's id, or its site and index (`attn.act_in 0`), says nothing the node's own label does not. */
function isIdLabel(n: CircuitFile['nodes'][number]): boolean {
  const label = n.label.trim();
  return label === `${n.site} ${n.index}` || label === n.id;
}

/**
 * A label without a trailing `(site)` that names the node's own site (`nested/flat (resid_delta)`):
 * the row label beside it says the site already, and the caption's few characters go to the rest.
 */
function withoutSite(n: CircuitFile['nodes'][number]): string {
  const m = /^(.*\S)\s*\(([a-z_]+)\)$/.exec(n.label.trim());
  return m && n.site.split('.').pop() === m[2] ? m[1] : n.label;
}

export function truncate(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('').trimEnd()}…`;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
