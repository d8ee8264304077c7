// Pure SVG serializer for the circuit graph. Cytoscape has no SVG export, so this draws the same
// `VisualGraph` the canvas shows: layer bands, row labels, edges (straight, or two straight segments round a node, with arrowheads,
// clipped at the node borders), nodes with their labels and captions, a title and a colour legend.
// All text is XML-escaped; the output contains no script, no external references and no DTD (the
// host checks that too before writing the file).

import { divergingColor, toHex } from './colors';
import { controlPoint, type Point } from './layout';
import type { Theme } from './theme';
import { CAPTION_FONT, LABEL_FONT, type VisualEdge, type VisualGraph, type VisualNode } from './visual';

export interface SvgMeta {
  readonly title: string;
  readonly subtitle: string;
}

const PAD = 16;
/** Vertical gap between neighbouring layer bands (as in graph.ts). */
const BAND_GAP = 8;
const HEADER = 44;
const LEGEND = 40;

export function graphToSvg(g: VisualGraph, meta: SvgMeta): string {
  const t = g.theme;
  const yTop = (g.bands[0]?.y0 ?? 0) - HEADER;
  const yBottom = (g.bands[g.bands.length - 1]?.y1 ?? 0) + LEGEND;
  const x0 = g.bandX0 - PAD;
  const x1 = g.bandX1 + PAD;
  const y0 = yTop - PAD;
  const y1 = yBottom + PAD;
  const width = fmt(x1 - x0);
  const height = fmt(y1 - y0);
  // arrowhead markers, one per edge colour
  const colours = [...new Set(g.edges.map((e) => e.color))].sort();
  const markerId = new Map(colours.map((c, i) => [c, `arrow${i}`]));

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="${fmt(x0)} ${fmt(y0)} ${width} ${height}" font-family="${attr(t.fontFamily)}">`,
  );
  out.push(`<title>${esc(meta.title)}</title>`);
  out.push(...svgDefs(t, markerId));
  out.push(`<rect x="${fmt(x0)}" y="${fmt(y0)}" width="${width}" height="${height}" fill="${attr(t.background)}"/>`);
  out.push(`<text x="${fmt(g.bandX0)}" y="${fmt(yTop + 14)}" font-size="14" font-weight="600" fill="${attr(t.foreground)}">${esc(meta.title)}</text>`);
  out.push(`<text x="${fmt(g.bandX0)}" y="${fmt(yTop + 32)}" font-size="11" fill="${attr(t.muted)}">${esc(meta.subtitle)}</text>`);
  out.push(...svgBands(g));
  const nodeById = new Map(g.nodes.map((n) => [n.id, n]));
  for (const e of g.edges) out.push(...svgEdge(e, nodeById, markerId)); // edges under nodes
  for (const n of g.nodes) out.push(...svgNode(n, t));
  out.push(...svgLegend(g, g.bandX0, yBottom - LEGEND + 16));
  out.push('</svg>');
  return `<?xml version="1.0" encoding="UTF-8"?>\n${out.join('\n')}\n`;
}

/** Arrowhead markers (one per edge colour) and the activation scale's gradient. */
function svgDefs(t: Theme, markerId: ReadonlyMap<string, string>): string[] {
  const out = ['<defs>'];
  for (const [c, id] of markerId) {
    out.push(
      `<marker id="${id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="${attr(c)}"/></marker>`,
    );
  }
  const stops = [-1, -0.5, 0, 0.5, 1].map(
    (s) => `<stop offset="${fmt((s + 1) * 50)}%" stop-color="${toHex(divergingColor(s, 1, t.palette))}"/>`,
  );
  out.push(`<linearGradient id="scale" x1="0" x2="1" y1="0" y2="0">${stops.join('')}</linearGradient>`);
  out.push('</defs>');
  return out;
}

/** Layer bands and row labels. */
function svgBands(g: VisualGraph): string[] {
  const t = g.theme;
  const out: string[] = [];
  for (const b of g.bands) {
    const y = b.y0 + BAND_GAP / 2;
    out.push(`<rect x="${fmt(g.bandX0)}" y="${fmt(y)}" width="${fmt(g.bandX1 - g.bandX0)}" height="${fmt(b.y1 - b.y0 - BAND_GAP)}" rx="6" fill="${attr(t.band)}"/>`);
    out.push(`<text x="${fmt(g.bandX0 + 10)}" y="${fmt(y + 11)}" font-size="11" font-weight="600" fill="${attr(t.muted)}">${esc(b.label)}</text>`);
  }
  for (const r of g.rows) {
    out.push(
      `<text x="${fmt(g.rowLabelX)}" y="${fmt(r.y + 4)}" text-anchor="end" font-size="12" font-family="${attr(t.monoFontFamily)}" fill="${attr(t.muted)}">${esc(r.label)}</text>`,
    );
  }
  return out;
}

/** One edge, clipped to its nodes' rectangles, straight or bent. */
function svgEdge(e: VisualEdge, nodeById: ReadonlyMap<string, VisualNode>, markerId: ReadonlyMap<string, string>): string[] {
  const a = nodeById.get(e.source);
  const b = nodeById.get(e.target);
  if (!a || !b) return [];
  const c = e.bend === 0 ? null : controlPoint(a, b, e.bend);
  const start = clipToNode(a, c ?? b);
  const end = clipToNode(b, c ?? a);
  const d = c ? `M${pt(start)} L${pt(c)} L${pt(end)}` : `M${pt(start)} L${pt(end)}`;
  const dash = e.dashed ? ' stroke-dasharray="5 4"' : '';
  return [
    `<path d="${d}" fill="none" stroke="${attr(e.color)}" stroke-width="${fmt(e.width)}" stroke-opacity="${fmt(e.opacity)}"${dash} marker-end="url(#${markerId.get(e.color)})"><title>${esc(`${e.source} → ${e.target}: ${e.weight}`)}</title></path>`,
  ];
}

/** One node: its box, label and caption. */
function svgNode(n: VisualNode, t: Theme): string[] {
  const dash = n.dashed ? ' stroke-dasharray="4 3"' : '';
  const capWidth = [...n.caption].length * 6.2 + 4;
  const caption = n.caption
    ? [
        `<rect x="${fmt(n.x - capWidth / 2)}" y="${fmt(n.y + n.height / 2 + 4)}" width="${fmt(capWidth)}" height="14" rx="2" fill="${attr(t.band)}" fill-opacity="0.9"/>`,
        `<text x="${fmt(n.x)}" y="${fmt(n.y + n.height / 2 + 15)}" text-anchor="middle" font-size="${CAPTION_FONT}" fill="${attr(t.muted)}">${esc(n.caption)}</text>`,
      ]
    : [];
  return [
    `<g opacity="${fmt(n.opacity)}">`,
    `<title>${esc(n.value === null ? n.id : `${n.id} = ${n.value}`)}</title>`,
    `<rect x="${fmt(n.x - n.width / 2)}" y="${fmt(n.y - n.height / 2)}" width="${fmt(n.width)}" height="${fmt(n.height)}" rx="7" fill="${attr(n.fill)}" stroke="${attr(n.borderColor)}" stroke-width="${fmt(n.borderWidth)}"${dash}/>`,
    `<text x="${fmt(n.x)}" y="${fmt(n.y + 4.5)}" text-anchor="middle" font-size="${LABEL_FONT}" font-family="${attr(t.monoFontFamily)}" fill="${attr(n.textColor)}">${esc(n.label)}</text>`,
    ...caption,
    '</g>',
  ];
}

/** The legend at (lx, ly): activation scale and edge signs. */
function svgLegend(g: VisualGraph, lx: number, ly: number): string[] {
  const t = g.theme;
  const ex = lx + 200;
  return [
    `<text x="${fmt(lx)}" y="${fmt(ly + 9)}" font-size="10" fill="${attr(t.muted)}">activation</text>`,
    `<rect x="${fmt(lx + 62)}" y="${fmt(ly)}" width="120" height="10" rx="2" fill="url(#scale)" stroke="${attr(t.border)}" stroke-width="0.5"/>`,
    `<text x="${fmt(lx + 62)}" y="${fmt(ly + 22)}" font-size="9" fill="${attr(t.muted)}">${esc(signed(-g.extent))}</text>`,
    `<text x="${fmt(lx + 182)}" y="${fmt(ly + 22)}" text-anchor="end" font-size="9" fill="${attr(t.muted)}">${esc(signed(g.extent))}</text>`,
    `<line x1="${fmt(ex)}" y1="${fmt(ly + 5)}" x2="${fmt(ex + 24)}" y2="${fmt(ly + 5)}" stroke="${toHex(t.palette.positive)}" stroke-width="3"/>`,
    `<text x="${fmt(ex + 30)}" y="${fmt(ly + 9)}" font-size="10" fill="${attr(t.muted)}">weight &gt; 0</text>`,
    `<line x1="${fmt(ex + 96)}" y1="${fmt(ly + 5)}" x2="${fmt(ex + 120)}" y2="${fmt(ly + 5)}" stroke="${toHex(t.palette.negative)}" stroke-width="3"/>`,
    `<text x="${fmt(ex + 126)}" y="${fmt(ly + 9)}" font-size="10" fill="${attr(t.muted)}">weight &lt; 0</text>`,
  ];
}

/** Where the segment from the node's centre towards `toward` leaves the node's rectangle. */
export function clipToNode(n: Pick<VisualNode, 'x' | 'y' | 'width' | 'height'>, toward: Point): Point {
  const dx = toward.x - n.x;
  const dy = toward.y - n.y;
  if (dx === 0 && dy === 0) return { x: n.x, y: n.y };
  const hw = n.width / 2;
  const hh = n.height / 2;
  const s = Math.min(dx === 0 ? Infinity : hw / Math.abs(dx), dy === 0 ? Infinity : hh / Math.abs(dy));
  return { x: n.x + dx * s, y: n.y + dy * s };
}

/** Escapes text content for XML. */
export function esc(s: string): string {
  // Drop characters XML 1.0 cannot represent at all (C0 controls other than tab/newline/CR).
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '');
  return clean.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escapes an attribute value (double-quoted). */
export function attr(s: string): string {
  return esc(s).replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function pt(p: Point): string {
  return `${fmt(p.x)},${fmt(p.y)}`;
}

function fmt(x: number): string {
  return String(Math.round(x * 100) / 100);
}

function signed(x: number): string {
  return x > 0 ? `+${x}` : String(x);
}
