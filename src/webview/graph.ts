// Cytoscape setup: draws a `VisualGraph` (visual.ts) with the preset positions from layout.ts,
// theme-aware styles, selection, hover and right-click ablation. Elements other than circuit
// nodes (layer bands, row labels, captions) are inert (`events: no`).

import cytoscape, { type Core, type ElementDefinition, type StylesheetJson } from 'cytoscape';
import type { Theme } from './theme';
import { FIT_PADDING } from './fitWrap';
import { CAPTION_FONT, LABEL_FONT, OUTPUT_ID, type VisualGraph } from './visual';

export interface GraphHandlers {
  /** A node was clicked (null: the background was clicked). */
  onSelect(nodeId: string | null): void;
  /** A node was right-clicked: flip its ablation. */
  onToggle(nodeId: string): void;
}

export interface GraphView {
  /** Draws `graph`; keeps the viewport when only colours/states changed. */
  render(graph: VisualGraph, selected: string | null): void;
  setSelected(nodeId: string | null): void;
  fit(): void;
  /** PNG data URL of the whole graph. */
  png(background: string): string;
  destroy(): void;
}

/** Preset positions (layout.ts), fixed nodes, one selection at a time. */
const CYTOSCAPE_OPTIONS = {
  elements: [],
  layout: { name: 'preset' },
  minZoom: 0.2,
  maxZoom: 3,
  autoungrabify: true,
  boxSelectionEnabled: false,
  selectionType: 'single',
  autounselectify: false,
} as const satisfies cytoscape.CytoscapeOptions;

export function createGraph(container: HTMLElement, handlers: GraphHandlers): GraphView {
  claimStylesheetId();
  const cy: Core = cytoscape({ container, ...CYTOSCAPE_OPTIONS });
  const viewport = fitToView(cy, container);
  bindPointer(cy, container, handlers, viewport.userMoved);

  let signature = '';
  let theme: Theme | null = null;

  function render(graph: VisualGraph, selected: string | null): void {
    if (graph.theme !== theme) {
      theme = graph.theme;
      cy.style(stylesheet(graph.theme));
    }
    const next = structureSignature(graph);
    const elements = toElements(graph);
    if (next !== signature) {
      signature = next;
      cy.batch(() => {
        cy.elements().remove();
        cy.add(elements);
      });
      viewport.refit();
    } else {
      restyle(cy, elements);
    }
    setSelected(selected);
  }

  function setSelected(nodeId: string | null): void {
    cy.batch(() => {
      cy.$(':selected').unselect();
      if (nodeId) cy.getElementById(nodeId).select();
    });
  }

  return {
    render,
    setSelected,
    fit: viewport.fitAll,
    png: (background) => cy.png({ output: 'base64uri', bg: background, full: true, scale: 2, maxWidth: 6000, maxHeight: 6000 }),
    destroy: () => {
      viewport.dispose();
      cy.destroy();
    },
  };
}

/**
 * Keeps the graph fitted to the view: on a new structure, and on every resize until the user pans
 * or zooms by hand (`userMoved`); the Fit button (`fitAll`) fits again and resumes that.
 */
function fitToView(cy: Core, container: HTMLElement): { refit(): void; fitAll(): void; userMoved(): void; dispose(): void } {
  let autoFit = true;
  const resize = new ResizeObserver(() => {
    cy.resize();
    if (autoFit) fitNow();
  });
  resize.observe(container);

  /**
   * Fits the whole graph. Only when that would draw node labels below SMALLEST_FIT_PX (a large
   * circuit in a small view) does it zoom to READABLE_PX instead and show the graph's top-left.
   * `data-view` on the container says which (`whole`, `top-left`), `data-label-px` how large node labels are drawn.
   */
  function fitNow(clamp = true): void {
    cy.fit(undefined, FIT_PADDING);
    const whole = !(clamp && cy.zoom() * LABEL_FONT < SMALLEST_FIT_PX && cy.elements().nonempty());
    if (!whole) showTopLeft(cy, READABLE_PX / LABEL_FONT);
    container.dataset.view = whole ? 'whole' : 'top-left';
    showZoom();
  }

  function showZoom(): void {
    container.dataset.labelPx = (LABEL_FONT * cy.zoom()).toFixed(1);
  }
  cy.on('zoom', showZoom);

  return {
    refit: () => {
      autoFit = true;
      fitNow();
    },
    fitAll: () => {
      autoFit = true;
      fitNow(false);
    },
    userMoved: () => {
      autoFit = false;
    },
    dispose: () => resize.disconnect(),
  };
}

/** Zooms to `zoom` showing the graph's top: centred when it fits across, else from its left edge (the row labels). Pan to see the rest, or press Fit. */
function showTopLeft(cy: Core, zoom: number): void {
  const bb = cy.elements().boundingBox();
  cy.zoom(zoom);
  const fitsAcross = bb.w * zoom <= cy.width() - FIT_PADDING;
  cy.pan({ x: fitsAcross ? cy.width() / 2 - ((bb.x1 + bb.x2) / 2) * zoom : 8 - bb.x1 * zoom, y: FIT_PADDING - bb.y1 * zoom });
}

/**
 * Cytoscape injects a one-line <style> (`position: relative` for its container) unless an element
 * with this id exists. The panel's CSP forbids inline styles and media/panel.css already sets the
 * rule, so claim the id to keep the console free of CSP violations.
 */
function claimStylesheetId(): void {
  if (document.getElementById('__________cytoscape_stylesheet')) return;
  const marker = document.createElement('meta');
  marker.id = '__________cytoscape_stylesheet';
  document.head.append(marker);
}

/** Click selects, right-click toggles ablation, hover explains; `onViewport` when the user pans or zooms. */
function bindPointer(cy: Core, container: HTMLElement, handlers: GraphHandlers, onViewport: () => void): void {
  cy.on('tap', 'node.unit', (e) => handlers.onSelect(e.target.id()));
  cy.on('tap', (e) => {
    if (e.target === cy) handlers.onSelect(null);
  });
  cy.on('cxttap', 'node.unit', (e) => handlers.onToggle(e.target.id()));
  cy.on('mouseover', 'node.unit', (e) => {
    e.target.addClass('hover');
    container.title = `${e.target.id()} — ${String(e.target.data('caption'))}\nClick for details · right-click to toggle ablation`;
    container.style.cursor = 'pointer';
  });
  cy.on('mouseout', 'node.unit', (e) => {
    e.target.removeClass('hover');
    container.title = '';
    container.style.cursor = '';
  });
  cy.on('scrollzoom pinchzoom dragpan', onViewport);
}

/** Same structure, new colours and states: update the drawn elements in place (the viewport stays). */
function restyle(cy: Core, elements: readonly ElementDefinition[]): void {
  cy.batch(() => {
    for (const el of elements) {
      const existing = cy.getElementById(el.data.id ?? '');
      if (existing.nonempty()) {
        existing.data(el.data);
        if (el.position) existing.position(el.position);
        existing.classes(el.classes ?? '');
      }
    }
  });
}

/** Vertical gap between neighbouring layer bands. */
export const BAND_GAP = 8;
/** Node labels drawn this large (screen px) read comfortably: the zoom of the top-left view of a graph too large to fit. */
export const READABLE_PX = 10;
/** The automatic fit shows the whole graph when its node labels come out at least this large (screen px). */
export const SMALLEST_FIT_PX = 8;

function structureSignature(g: VisualGraph): string {
  return JSON.stringify([g.nodes.map((n) => [n.id, n.x, n.y]), g.edges.map((e) => [e.source, e.target, e.bend]), g.rows.map((r) => r.key)]);
}

function toElements(g: VisualGraph): ElementDefinition[] {
  const inert = { group: 'nodes', selectable: false, grabbable: false } as const;
  const bandWidth = g.bandX1 - g.bandX0;
  const bands = g.bands.flatMap((b): ElementDefinition[] => [
    { ...inert, data: { id: `band:${b.layer}`, w: bandWidth, h: b.y1 - b.y0 - BAND_GAP, fill: g.theme.band }, position: { x: g.bandX0 + bandWidth / 2, y: (b.y0 + b.y1) / 2 }, classes: 'band' },
    { ...inert, data: { id: `layer:${b.layer}`, label: b.label }, position: { x: g.bandX0 + 10, y: b.y0 + BAND_GAP / 2 + 7 }, classes: 'text layer-label' },
  ]);
  const rows = g.rows.map((r): ElementDefinition => ({ ...inert, data: { id: `row:${r.key}`, label: r.label }, position: { x: g.rowLabelX, y: r.y }, classes: 'text row-label' }));
  const nodes = g.nodes.flatMap((n): ElementDefinition[] => [
    unitElement(n),
    ...(n.caption ? [{ ...inert, data: { id: `cap:${n.id}`, label: n.caption }, position: { x: n.x, y: n.y + n.height / 2 + 11 }, classes: 'text caption' }] : []),
  ]);
  const edges = g.edges.map(
    (e): ElementDefinition => ({
      group: 'edges',
      data: { id: e.id, source: e.source, target: e.target, width: e.width, color: e.color, bend: e.bend, opacity: e.opacity },
      classes: [e.bend === 0 ? 'straight' : 'bent', e.dashed ? 'cut' : ''].filter(Boolean).join(' '),
    }),
  );
  return [...bands, ...rows, ...nodes, ...edges];
}

/** A circuit node (the only elements that react to the pointer), or the output node. */
function unitElement(n: VisualGraph['nodes'][number]): ElementDefinition {
  return {
    group: 'nodes',
    data: { id: n.id, label: n.label, caption: n.caption, w: n.width, h: n.height, fill: n.fill, text: n.textColor, border: n.borderColor, bw: n.borderWidth, opacity: n.opacity },
    position: { x: n.x, y: n.y },
    classes: n.id === OUTPUT_ID ? 'output' : ['unit', n.ablated ? 'ablated' : '', n.key ? 'key' : ''].filter(Boolean).join(' '),
    ...(n.id === OUTPUT_ID ? { selectable: false } : {}),
  };
}

function stylesheet(t: Theme): StylesheetJson {
  return [...backgroundStyles(t), ...textStyles(t), ...unitStyles(t), ...edgeStyles()];
}

/** Every node's font; the layer bands behind everything. */
function backgroundStyles(t: Theme): StylesheetJson {
  return [
    {
      selector: 'node',
      style: { 'font-family': t.fontFamily, 'min-zoomed-font-size': 5 },
    },
    {
      selector: 'node.band',
      style: {
        shape: 'round-rectangle',
        width: 'data(w)',
        height: 'data(h)',
        'background-color': 'data(fill)',
        'border-width': 0,
        events: 'no',
        'z-index': 0,
        'z-compound-depth': 'bottom',
      },
    },
  ];
}

/** Inert text: layer and row labels, node captions. */
function textStyles(t: Theme): StylesheetJson {
  return [
    {
      selector: 'node.text',
      style: {
        width: 1,
        height: 1,
        'background-opacity': 0,
        'border-width': 0,
        label: 'data(label)',
        color: t.muted,
        'font-size': CAPTION_FONT,
        'text-valign': 'center',
        events: 'no',
        'z-index': 1,
      },
    },
    { selector: 'node.layer-label', style: { 'text-halign': 'right', 'font-weight': 600, 'font-size': 12.5 } },
    { selector: 'node.row-label', style: { 'text-halign': 'left', 'font-family': t.monoFontFamily, 'font-size': 12 } },
    {
      // Captions sit on a patch of band colour so edges passing under them do not cross the text.
      selector: 'node.caption',
      style: {
        'text-halign': 'center',
        'font-size': CAPTION_FONT,
        'text-background-color': t.band,
        'text-background-opacity': 0.9,
        'text-background-padding': '1px',
        'text-background-shape': 'roundrectangle',
      },
    },
  ];
}

/** The circuit's nodes: coloured from their data, dashed when ablated, highlighted on hover and selection. */
function unitStyles(t: Theme): StylesheetJson {
  return [
    {
      selector: 'node.unit, node.output',
      style: {
        shape: 'round-rectangle',
        width: 'data(w)',
        height: 'data(h)',
        'background-color': 'data(fill)',
        'border-color': 'data(border)',
        'border-width': 'data(bw)',
        opacity: 'data(opacity)' as unknown as number,
        label: 'data(label)',
        color: 'data(text)',
        'font-family': t.monoFontFamily,
        'font-size': LABEL_FONT,
        'text-valign': 'center',
        'text-halign': 'center',
        'z-index': 3,
        'overlay-opacity': 0,
        'underlay-opacity': 0,
        'underlay-color': t.focus,
        'underlay-padding': 5,
        'underlay-shape': 'round-rectangle',
      },
    },
    { selector: 'node.output', style: { 'font-family': t.fontFamily, 'font-weight': 600, events: 'no' } },
    { selector: 'node.unit.ablated', style: { 'border-style': 'dashed' } },
    { selector: 'node.unit.hover', style: { 'underlay-opacity': 0.18 } },
    { selector: 'node.unit:selected', style: { 'border-color': t.focus, 'border-width': 2.5, 'underlay-opacity': 0.28 } },
  ];
}

/** Edges: width and colour from their data, straight or two straight segments round a node (never curved), dashed when cut by an ablation. */
function edgeStyles(): StylesheetJson {
  return [
    {
      selector: 'edge',
      style: {
        width: 'data(width)',
        'line-color': 'data(color)',
        'target-arrow-color': 'data(color)',
        'target-arrow-shape': 'triangle',
        'arrow-scale': 0.75,
        opacity: 'data(opacity)' as unknown as number,
        'z-index': 2,
        events: 'no',
      },
    },
    { selector: 'edge.straight', style: { 'curve-style': 'straight' } },
    {
      // one corner at the midpoint, `bend` off the straight line (layout.ts controlPoint: the same point)
      selector: 'edge.bent',
      style: {
        'curve-style': 'segments',
        'segment-distances': 'data(bend)' as unknown as number,
        'segment-weights': 0.5,
        'edge-distances': 'node-position',
      },
    },
    { selector: 'edge.cut', style: { 'line-style': 'dashed', 'line-dash-pattern': [6, 4] } },
  ];
}
