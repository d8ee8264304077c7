// Pure: turns a panel model + theme into drawable shapes (positions, sizes, colours, labels). The
// cytoscape graph (graph.ts) and the SVG export (export-svg.ts) both draw from this, so the export
// matches the screen.

import type { CircuitFile } from '../schemas/circuit';
import { divergingColor, parseColor, textColorOn, toHex } from './colors';
import { computeLayout, DEFAULT_LAYOUT, type LayoutBand, type LayoutOptions, shortLabel } from './layout';
import type { Theme } from './theme';

export const NODE_WIDTH = 68;
export const NODE_HEIGHT = 28;
export const CAPTION_MAX = 22;

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
  readonly bands: readonly LayoutBand[];
  /** x of the right edge of the row labels (labels are right-aligned here). */
  readonly rowLabelX: number;
  /** Left and right of the bands. */
  readonly bandX0: number;
  readonly bandX1: number;
  /** Symmetric extent of the activation colour scale. */
  readonly extent: number;
  readonly theme: Theme;
}

export interface VisualInput {
  readonly circuit: CircuitFile;
  readonly activations: Readonly<Record<string, number>>;
  readonly ablated: ReadonlySet<string>;
  /** Symmetric extent of the activation scale (see `niceExtent`). */
  readonly extent: number;
}

export function buildVisualGraph(input: VisualInput, theme: Theme, options: LayoutOptions = DEFAULT_LAYOUT): VisualGraph {
  const { circuit, ablated, extent } = input;
  const layout = computeLayout(circuit.nodes, circuit.edges, options);
  const nodes = circuit.nodes.map((n) => visualNode(n, layout.positions.get(n.id) ?? { x: 0, y: 0 }, input, theme));
  const maxW = circuit.edges.reduce((m, e) => Math.max(m, Math.abs(e.weight)), 0) || 1;
  const edges: VisualEdge[] = circuit.edges.map((e, i) => {
    const cut = ablated.has(e.source) || ablated.has(e.target);
    return {
      id: `e${i}`,
      source: e.source,
      target: e.target,
      weight: e.weight,
      width: round(1 + 5 * (Math.abs(e.weight) / maxW)),
      color: toHex(e.weight >= 0 ? theme.palette.positive : theme.palette.negative),
      bend: layout.routes[i]?.bend ?? 0,
      dashed: cut,
      opacity: cut ? 0.35 : 0.85,
    };
  });

  // Captions are wider than nodes, and bent edges swing out by up to half their bend.
  const halfWidth = Math.max(NODE_WIDTH / 2, 56);
  const swing = layout.routes.reduce((m, r) => Math.max(m, Math.abs(r.bend) / 2 + 8), 0);
  const left = layout.minX - Math.max(halfWidth, swing);
  const right = layout.maxX + Math.max(halfWidth, swing);
  const rowLabelX = left - 16;
  return {
    nodes,
    edges,
    rows: layout.rows.map((r) => ({ key: r.key, label: r.site, y: r.y })),
    bands: layout.bands,
    rowLabelX,
    bandX0: rowLabelX - 118,
    bandX1: right + 24,
    extent,
    theme,
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
    caption: truncate(n.label, CAPTION_MAX),
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

export function truncate(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('').trimEnd()}…`;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
