// Pure, deterministic positions for the circuit graph (used with cytoscape's `preset` layout).
//
// One row per (layer, site) that has nodes, in model order (q, k and v of a layer share a row: see
// rowKey): layer 0 attention (act_in, q·k·v, resid_delta), layer 0 MLP (act_in, post_act, resid_delta), layer 1 attention, … Rows run top to
// bottom, so information flows down the page. Within a row nodes are ordered to reduce crossings
// (barycentre of their neighbours in earlier rows; ties and unconnected nodes by index) and
// centred on x = 0. Edges that skip rows get one corner sideways (two straight segments) so they
// do not run through the nodes of the rows in between.

export interface LayoutNodeInput {
  readonly id: string;
  readonly layer: number;
  /** `attn.q`, `mlp.post_act`, … */
  readonly site: string;
  readonly index: number;
}

export interface LayoutEdgeInput {
  readonly source: string;
  readonly target: string;
}

export interface LayoutRow {
  /** `0.attn.v` */
  readonly key: string;
  readonly layer: number;
  readonly site: string;
  readonly y: number;
}

export interface LayoutBand {
  readonly layer: number;
  /** Top and bottom of the band (row centres ± half a row gap). */
  readonly y0: number;
  readonly y1: number;
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

export interface EdgeRoute {
  readonly source: string;
  readonly target: string;
  /**
   * Offset of the edge's one corner from the midpoint of the straight line source → target,
   * along the normal (−dy, dx)/|d| (see `controlPoint`) — the same convention as cytoscape's
   * `segment-distances` with `edge-distances: node-position`, so the value can be used as
   * is. For an edge that runs down the page a positive bend moves the corner towards −x. 0 = straight.
   */
  readonly bend: number;
}

export interface GraphLayout {
  readonly rows: readonly LayoutRow[];
  readonly bands: readonly LayoutBand[];
  readonly positions: ReadonlyMap<string, Point>;
  readonly routes: readonly EdgeRoute[];
  /** Bounding box of node centres. */
  readonly minX: number;
  readonly maxX: number;
  readonly minY: number;
  readonly maxY: number;
}

export interface LayoutOptions {
  /** Horizontal distance between neighbouring node centres. */
  readonly columnGap: number;
  /** Vertical distance between rows. */
  readonly rowGap: number;
  /**
   * At most this many nodes side by side: a row with more wraps onto further lines under it (same
   * label, same layer band). Unset: no wrapping. See `wrapForViewport`.
   */
  readonly maxPerLine?: number;
}

export const DEFAULT_LAYOUT: LayoutOptions = { columnGap: 150, rowGap: 70 };
/** A fitted scale this large draws labels readably; wrapping stops short of the largest scale once it is reached. */
export const WRAP_TARGET_SCALE = 0.85;

/**
 * The line width that makes the fitted graph largest in a `width` × `height` viewport. One row of 13
 * residual reads spans 13 columns and only 5 rows; fitted to a side bar, every node would be a few
 * pixels wide. Wrapping long rows trades width for height until the graph's aspect matches the
 * viewport's. `marginX`, `marginY`: graph size besides the nodes (row labels, band padding). Returns undefined
 * (no wrap) when wrapping does not help or the size is unknown.
 */
export function wrapForViewport(nodes: readonly LayoutNodeInput[], width: number, height: number, options: LayoutOptions = DEFAULT_LAYOUT, marginX = 0, marginY = 0): number | undefined {
  if (!(width > 0 && height > 0) || nodes.length === 0) return undefined;
  const sizes = [...rowsOf(nodes).values()].map((row) => row.length);
  const widest = widestRow(nodes);
  const scaleAt = (line: number): number => {
    const lines = sizes.reduce((s, n) => s + Math.ceil(n / line), 0);
    // node centres plus one gap of margin on each axis
    return Math.min(width / (line * options.columnGap + marginX), height / (lines * options.rowGap + marginY));
  };
  let best = { line: widest, scale: 0 };
  for (let line = Math.min(widest, 4); line <= widest; line++) {
    const scale = scaleAt(line);
    if (scale > best.scale * 1.0001) best = { line, scale };
  }
  // Every extra line makes more edges skip a line (and bend): take the widest line that is still
  // large enough (WRAP_TARGET_SCALE, or the best possible when that is less).
  const enough = Math.min(best.scale, WRAP_TARGET_SCALE);
  for (let line = widest; line > best.line; line--) if (scaleAt(line) >= enough) return line < widest ? line : undefined;
  return best.line < widest ? best.line : undefined;
}

/** Sites in the order the model computes them, per block kind. */
export const SITE_ORDER: Readonly<Record<string, readonly string[]>> = {
  attn: ['act_in', 'q', 'k', 'v', 'resid_delta'],
  mlp: ['act_in', 'post_act', 'resid_delta'],
};
const KIND_ORDER = ['attn', 'mlp'];

/** Sort key of a (layer, site) row; unknown kinds/sites come after the known ones, alphabetically. */
export function rowOrder(a: { layer: number; site: string }, b: { layer: number; site: string }): number {
  if (a.layer !== b.layer) return a.layer - b.layer;
  const [ka, sa = ''] = splitSite(a.site);
  const [kb, sb = ''] = splitSite(b.site);
  const kr = rank(KIND_ORDER, ka) - rank(KIND_ORDER, kb);
  if (kr !== 0) return kr;
  if (ka !== kb) return ka < kb ? -1 : 1;
  const order = SITE_ORDER[ka] ?? [];
  const sr = rank(order, sa) - rank(order, sb);
  if (sr !== 0) return sr;
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/**
 * The row a node sits in: its `(layer, site)`, except that a layer's attention q, k and v share one
 * row (`attn.qkv`): all three are read from the same residual inputs, so edges from `act_in` reach
 * each of them in one step instead of skipping the q and k rows.
 */
export function rowKey(n: { layer: number; site: string }): string {
  return `${n.layer}.${rowSite(n.site)}`;
}

export function rowSite(site: string): string {
  return site === 'attn.q' || site === 'attn.k' || site === 'attn.v' ? 'attn.qkv' : site;
}

/** Short node label: abbreviated site + index, e.g. `v 17`, `in 3`, `out 40`, `act 133`. */
export function shortLabel(n: { site: string; index: number }): string {
  const site = splitSite(n.site)[1] ?? n.site;
  const abbrev: Record<string, string> = { act_in: 'in', resid_delta: 'out', post_act: 'act' };
  return `${abbrev[site] ?? site} ${n.index}`;
}

export function computeLayout(
  nodes: readonly LayoutNodeInput[],
  edges: readonly LayoutEdgeInput[],
  options: LayoutOptions = DEFAULT_LAYOUT,
): GraphLayout {
  // Rows in model order.
  const rowMap = rowsOf(nodes);
  const rowKeys = [...rowMap.keys()].sort((a, b) => rowOrder(rowMap.get(a)![0], rowMap.get(b)![0]));
  const rowIndexOf = new Map<string, number>();
  rowKeys.forEach((k, i) => {
    for (const n of rowMap.get(k)!) rowIndexOf.set(n.id, i);
  });
  const { positions, lineOf, rows, rowSpans } = placeRows(rowKeys, rowMap, earlierNeighbours(edges, rowIndexOf), options);
  const routes = routeEdges(edges, positions, lineOf, options);
  return { rows, bands: layerBands(rowSpans), positions, routes, ...extentOf(positions.values()) };
}

/** Per node, its neighbours in earlier rows, for the barycentre ordering. */
function earlierNeighbours(edges: readonly LayoutEdgeInput[], rowIndexOf: ReadonlyMap<string, number>): Map<string, string[]> {
  const earlier = new Map<string, string[]>();
  for (const e of edges) {
    const rs = rowIndexOf.get(e.source);
    const rt = rowIndexOf.get(e.target);
    if (rs === undefined || rt === undefined || rs === rt) continue;
    const [up, down] = rs < rt ? [e.source, e.target] : [e.target, e.source];
    const list = earlier.get(down);
    if (list) list.push(up);
    else earlier.set(down, [up]);
  }
  return earlier;
}

/**
 * Each row takes one line, or several when it is wider than maxPerLine, its nodes ordered by the
 * mean x of their earlier neighbours; `lineOf` (a node's line number from the top) replaces the
 * row index for edge routing, since lines are what edges cross.
 */
function placeRows(rowKeys: readonly string[], rowMap: ReadonlyMap<string, LayoutNodeInput[]>, earlier: ReadonlyMap<string, string[]>, options: LayoutOptions) {
  const perLine = Math.max(1, Math.floor(options.maxPerLine ?? Infinity));
  const positions = new Map<string, Point>();
  const lineOf = new Map<string, number>();
  const rows: LayoutRow[] = [];
  const rowSpans: LayoutBand[] = [];
  let line = 0;
  for (const key of rowKeys) {
    const members = [...rowMap.get(key)!].sort((a, b) => rowOrder(a, b) || a.index - b.index || cmp(a.id, b.id));
    const width = Math.min(members.length, perLine);
    const slot = (i: number, n: number): number => (i - (n - 1) / 2) * options.columnGap;
    const keyed = members.map((n, i) => {
      const xs = (earlier.get(n.id) ?? []).map((id) => positions.get(id)?.x).filter((x): x is number => x !== undefined);
      const bary = xs.length > 0 ? xs.reduce((s, x) => s + x, 0) / xs.length : slot(i % width, width);
      return { n, bary, i };
    });
    keyed.sort((a, b) => a.bary - b.bary || a.i - b.i);
    const first = line;
    for (let start = 0; start < keyed.length; start += width, line++) {
      const chunk = keyed.slice(start, start + width);
      chunk.forEach((k, i) => {
        positions.set(k.n.id, { x: round(slot(i, chunk.length)), y: line * options.rowGap });
        lineOf.set(k.n.id, line);
      });
    }
    const y = first * options.rowGap;
    rows.push({ key, layer: members[0].layer, site: rowSite(members[0].site), y });
    rowSpans.push({ layer: members[0].layer, y0: y - options.rowGap / 2, y1: (line - 1) * options.rowGap + options.rowGap / 2 });
  }
  return { positions, lineOf, rows, rowSpans };
}

/** One band per layer, spanning its rows. */
function layerBands(rowSpans: readonly LayoutBand[]): LayoutBand[] {
  const bands: LayoutBand[] = [];
  for (const span of rowSpans) {
    const last = bands[bands.length - 1];
    if (last && last.layer === span.layer) bands[bands.length - 1] = { layer: last.layer, y0: last.y0, y1: span.y1 };
    else bands.push(span);
  }
  return bands;
}

/** The bounding box of the node centres (all 0 for no nodes). */
function extentOf(points: Iterable<Point>): { minX: number; maxX: number; minY: number; maxY: number } {
  let minX = 0;
  let maxX = 0;
  let minY = 0;
  let maxY = 0;
  let first = true;
  for (const p of points) {
    if (first) {
      minX = maxX = p.x;
      minY = maxY = p.y;
      first = false;
    }
    minX = Math.min(minX, p.x);
    maxX = Math.max(maxX, p.x);
    minY = Math.min(minY, p.y);
    maxY = Math.max(maxY, p.y);
  }
  return { minX, maxX, minY, maxY };
}

/**
 * Straight edges between adjacent lines (a row wider than `maxPerLine` takes several). An edge that
 * skips lines bends sideways when a node of an intermediate line lies close to its straight line: away from that node, or, when the node sits
 * right on the line, to the side with fewer bent edges over the same rows (so two long edges
 * through the same column do not overlap). The bend is large enough for the curve to clear the
 * node and its caption at the first skipped row.
 */
function routeEdges(
  edges: readonly LayoutEdgeInput[],
  positions: ReadonlyMap<string, Point>,
  lineOf: ReadonlyMap<string, number>,
  options: LayoutOptions,
): EdgeRoute[] {
  const byRow = new Map<number, Point[]>();
  for (const [id, p] of positions) {
    const r = lineOf.get(id)!;
    const list = byRow.get(r);
    if (list) list.push(p);
    else byRow.set(r, [p]);
  }
  const placed: { lo: number; hi: number; side: number }[] = [];
  // Longer edges first: they need the outer lanes; ties in input order.
  const order = edges
    .map((e, i) => ({ e, i, span: Math.abs((lineOf.get(e.source) ?? 0) - (lineOf.get(e.target) ?? 0)) }))
    .sort((a, b) => b.span - a.span || a.i - b.i);
  const routes: EdgeRoute[] = edges.map((e) => ({ source: e.source, target: e.target, bend: 0 }));
  for (const { e, i } of order) {
    const a = positions.get(e.source);
    const b = positions.get(e.target);
    const ra = lineOf.get(e.source);
    const rb = lineOf.get(e.target);
    if (!a || !b || ra === undefined || rb === undefined || Math.abs(ra - rb) <= 1) continue;
    const [lo, hi] = ra < rb ? [ra, rb] : [rb, ra];
    let blocker: { side: number; dist: number } | null = null;
    for (let r = lo + 1; r < hi; r++) {
      for (const p of byRow.get(r) ?? []) {
        const t = (p.y - a.y) / (b.y - a.y);
        const dist = Math.abs(p.x - (a.x + t * (b.x - a.x)));
        if (dist < options.columnGap * 0.45 && (!blocker || dist < blocker.dist)) blocker = { side: Math.sign(p.x - (a.x + t * (b.x - a.x))), dist };
      }
    }
    if (!blocker) continue;
    let away: number;
    if (blocker.side !== 0) away = -blocker.side;
    else {
      const overlapping = (side: number): number => placed.filter((q) => q.side === side && q.lo < hi && lo < q.hi).length;
      away = overlapping(1) <= overlapping(-1) ? 1 : -1;
    }
    placed.push({ lo, hi, side: away });
    // Drawn as two straight segments through a corner at distance c from the chord's midpoint:
    // at parameter u ≤ ½ the polyline is 2·u·c from the chord; at the first skipped row u = 1/span.
    const span = hi - lo;
    const u = 1 / span;
    const clearance = options.columnGap * 0.42;
    const magnitude = round(Math.min(options.columnGap * 3, clearance / (2 * u)));
    // The normal (−dy, dx) points to −x for downward edges and to +x for upward ones.
    const down = b.y > a.y ? 1 : -1;
    routes[i] = { source: e.source, target: e.target, bend: -away * down * magnitude };
  }
  return routes;
}

/** The corner of a bent edge (two straight segments): midpoint + bend × the unit normal (−dy, dx)/|d|. */
export function controlPoint(a: Point, b: Point, bend: number): Point {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  const nx = -dy / len;
  const ny = dx / len;
  return { x: (a.x + b.x) / 2 + nx * bend, y: (a.y + b.y) / 2 + ny * bend };
}

/** The nodes of each (layer, site) row, by `rowKey`, in input order. */
/** The number of nodes in the fullest row. */
export function widestRow(nodes: readonly LayoutNodeInput[]): number {
  return Math.max(0, ...[...rowsOf(nodes).values()].map((row) => row.length));
}

function rowsOf(nodes: readonly LayoutNodeInput[]): Map<string, LayoutNodeInput[]> {
  const rows = new Map<string, LayoutNodeInput[]>();
  for (const n of nodes) {
    const key = rowKey(n);
    const row = rows.get(key);
    if (row) row.push(n);
    else rows.set(key, [n]);
  }
  return rows;
}

function splitSite(site: string): [string, string | undefined] {
  const dot = site.indexOf('.');
  return dot < 0 ? [site, undefined] : [site.slice(0, dot), site.slice(dot + 1)];
}

function rank(order: readonly string[], item: string): number {
  const i = order.indexOf(item);
  return i < 0 ? order.length : i;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
