// Pure: picks how many nodes a graph row holds per line so that the drawn graph, fitted to the
// view, comes out largest. layout.ts `wrapForViewport` estimates it from node counts and fixed
// margins; the drawn graph is wider than that estimate (bent edges swing out, captions), so a
// beside panel got a graph that ran off its right edge. Here each nearby line width is laid out for
// real and measured by what cytoscape fits: the bands' box.

import type { VisualGraph } from './visual';

/** Padding (graph px on each side) cytoscape's fit leaves around the graph (graph.ts `fitNow`). */
export const FIT_PADDING = 16;
/** Line widths tried on each side of the estimate (narrower ones too while the graph keeps growing). */
const SPREAD = 2;
/** A narrower line must make the graph this much larger to win: every extra line bends more edges. */
const WIDER_BIAS = 1.02;

/** Width and height of what is drawn: the layer bands (row labels inside), in graph units. */
export function drawnSize(g: VisualGraph): { width: number; height: number } {
  if (g.bands.length === 0) return { width: 0, height: 0 };
  const y0 = Math.min(...g.bands.map((b) => b.y0));
  const y1 = Math.max(...g.bands.map((b) => b.y1));
  // the last row's captions hang below its band (visual.ts puts them under the node)
  return { width: g.bandX1 - g.bandX0, height: y1 - y0 + 20 };
}

/** The zoom at which `g` fits a `width` × `height` view. */
export function fittedScale(g: VisualGraph, width: number, height: number): number {
  const size = drawnSize(g);
  if (size.width <= 0 || size.height <= 0) return 1;
  return Math.min((width - 2 * FIT_PADDING) / size.width, (height - 2 * FIT_PADDING) / size.height);
}

/**
 * Lays the graph out at line widths around `estimate` (undefined: no wrapping) and returns the one
 * whose fitted zoom in the view is largest, with the graph built for it. `build(line)` lays out and
 * draws the graph with at most `line` nodes per line (undefined: rows do not wrap). A view with no
 * size yet gets the unwrapped graph.
 */
export function bestWrap(estimate: number | undefined, widest: number, width: number, height: number, build: (line: number | undefined) => VisualGraph): { line: number | undefined; graph: VisualGraph } {
  const centre = estimate ?? widest;
  const noWrap = build(undefined);
  let best = { line: undefined as number | undefined, graph: noWrap, scale: fittedScale(noWrap, width, height) };
  if (!(width > 2 * FIT_PADDING && height > 2 * FIT_PADDING)) return best; // not laid out yet (hidden)
  // widest first, so a narrower line has to beat a wider one by WIDER_BIAS
  let previous = 0;
  for (let line = Math.min(widest - 1, centre + SPREAD); line >= 1; line--) {
    const graph = build(line);
    const scale = fittedScale(graph, width, height);
    if (scale > best.scale * WIDER_BIAS) best = { line, graph, scale };
    // the estimate can be several lines too wide (a circuit whose rows bend many edges: the drawn
    // graph is wider than it counts on), so below its neighbourhood narrowing goes on while it pays
    if (line <= centre - SPREAD && scale <= previous) break;
    previous = scale;
  }
  return { line: best.line, graph: best.graph };
}
