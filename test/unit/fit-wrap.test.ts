// The panel's line width is chosen on the graph as drawn (fitWrap.ts), so the automatic fit shows
// the whole circuit in a beside panel instead of running off its right edge.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bestWrap, drawnSize, fittedScale } from '../../src/webview/fitWrap';
import { widestRow, wrapForViewport } from '../../src/webview/layout';
import { themeFromCss } from '../../src/webview/theme';
import { buildVisualGraph, GRAPH_MARGIN_X, GRAPH_MARGIN_Y, layoutFor, outputLayoutNode, type VisualGraph } from '../../src/webview/visual';
import { shippedQuoteCircuit } from './fixtures';

const theme = themeFromCss(() => '', ['vscode-dark']);
const circuit = shippedQuoteCircuit();
const nodes = [...circuit.nodes, outputLayoutNode(circuit)];
const build = (line: number | undefined): VisualGraph => buildVisualGraph({ circuit, activations: {}, ablated: new Set(), extent: 1 }, theme, { ...layoutFor(), maxPerLine: line });

describe('bestWrap', () => {
  // the graph area of a panel beside the editor in a 1400 × 900 window, and of a wide panel
  for (const [width, height] of [
    [515, 640],
    [1180, 700],
    [300, 900],
  ] as const) {
    it(`draws the shipped quote circuit at least as large as any line width does (${width} × ${height})`, () => {
      const estimate = wrapForViewport(nodes, width, height, layoutFor(), GRAPH_MARGIN_X, GRAPH_MARGIN_Y);
      const chosen = bestWrap(estimate, widestRow(nodes), width, height, build);
      const scale = fittedScale(chosen.graph, width, height);
      const best = Math.max(...Array.from({ length: widestRow(nodes) }, (_, i) => fittedScale(build(i + 1), width, height)));
      // a narrower line has to win by 2 % (fewer bent edges), so the choice is within that of the best
      assert.ok(scale >= best / 1.02, `line ${chosen.line}: ${scale.toFixed(3)} against the best ${best.toFixed(3)}`);
      assert.ok(scale >= fittedScale(build(undefined), width, height), 'at least as large as no wrapping');
    });
  }

  it('measures the bands, row labels and every bent edge inside the drawn width', () => {
    const g = build(5);
    const { width, height } = drawnSize(g);
    assert.equal(width, g.bandX1 - g.bandX0);
    assert.ok(height > 0);
    for (const n of g.nodes) assert.ok(n.x - n.width / 2 >= g.bandX0 && n.x + n.width / 2 <= g.bandX1, `${n.id} inside the bands`);
    assert.ok(g.rowLabelX > g.bandX0);
  });

  it('keeps the graph unwrapped when the view has no size yet', () => {
    assert.equal(bestWrap(undefined, widestRow(nodes), 0, 0, build).line, undefined);
  });
});
