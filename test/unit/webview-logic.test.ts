// Pure webview logic: colours, theme, formatting, state transitions, visual graph, exports.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  contrastRatio,
  DARK_PALETTE,
  divergingColor,
  LIGHT_PALETTE,
  luminance,
  niceExtent,
  parseColor,
  textColorOn,
  toHex,
} from '../../src/webview/colors';
import { GRAPH_EXPORT_FORMAT, graphToJson } from '../../src/webview/export-json';
import { attr, clipToNode, esc, graphToSvg } from '../../src/webview/export-svg';
import { formatPosition, formatProb, formatSigned, formatValue, orient, readoutRows, visibleToken } from '../../src/webview/format';
import * as S from '../../src/webview/state';
import { canvasFontFamily, themeFromCss } from '../../src/webview/theme';
import { buildVisualGraph, DEFAULT_EDGE_SHARE, OUTPUT_ID, outputEdges, strongestEdges, truncate } from '../../src/webview/visual';
import { sampleModel, sampleTopTokens, shippedQuoteCircuit } from './fixtures';

const darkPlus: Record<string, string> = {
  '--vscode-editor-background': '#1e1e1e',
  '--vscode-editor-foreground': '#d4d4d4',
  '--vscode-descriptionForeground': 'rgba(204, 204, 204, 0.7)',
  '--vscode-focusBorder': '#007fd4',
  '--vscode-font-family': '-apple-system, "Segoe UI", sans-serif',
};

describe('colours', () => {
  it('parses the colour forms VS Code themes use', () => {
    assert.deepEqual(parseColor('#abc'), { r: 0xaa, g: 0xbb, b: 0xcc });
    assert.deepEqual(parseColor('#1e1e1e'), { r: 30, g: 30, b: 30 });
    assert.deepEqual(parseColor('#ccccccb3'), { r: 204, g: 204, b: 204 });
    assert.deepEqual(parseColor(' rgba(204, 204, 204, 0.7) '), { r: 204, g: 204, b: 204 });
    assert.deepEqual(parseColor('rgb(1 2 3)'), { r: 1, g: 2, b: 3 });
    assert.equal(parseColor('var(--x)'), null);
    assert.equal(parseColor(''), null);
  });

  it('maps −extent, 0, +extent to the palette ends and saturates beyond', () => {
    for (const p of [LIGHT_PALETTE, DARK_PALETTE]) {
      assert.equal(toHex(divergingColor(-2, 2, p)), toHex(p.negative));
      assert.equal(toHex(divergingColor(0, 2, p)), toHex(p.neutral));
      assert.equal(toHex(divergingColor(2, 2, p)), toHex(p.positive));
      assert.equal(toHex(divergingColor(50, 2, p)), toHex(p.positive));
      assert.equal(toHex(divergingColor(Number.NaN, 2, p)), toHex(p.neutral));
      assert.equal(toHex(divergingColor(1, 0, p)), toHex(p.neutral));
    }
  });

  it('changes lightness monotonically from the neutral to each end (readable without hue)', () => {
    for (const p of [LIGHT_PALETTE, DARK_PALETTE]) {
      for (const sign of [-1, 1]) {
        let prev = luminance(p.neutral);
        const dir = Math.sign(luminance(sign < 0 ? p.negative : p.positive) - prev);
        for (let t = 0.1; t <= 1.0001; t += 0.1) {
          const l = luminance(divergingColor(sign * t, 1, p));
          assert.ok(dir * (l - prev) >= -1e-9, `palette not monotonic at ${sign * t}`);
          prev = l;
        }
      }
    }
  });

  it('picks a legible label colour on every fill', () => {
    for (const p of [LIGHT_PALETTE, DARK_PALETTE]) {
      for (let v = -1; v <= 1.0001; v += 0.125) {
        const fill = divergingColor(v, 1, p);
        assert.ok(contrastRatio(fill, textColorOn(fill)) >= 4.5, `contrast too low at ${v}`);
      }
    }
  });

  it('rounds the scale extent to a nice number', () => {
    assert.equal(niceExtent([0.3, -2.31, 1]), 2.5);
    assert.equal(niceExtent([0.07]), 0.1);
    assert.equal(niceExtent([4.2]), 5);
    assert.equal(niceExtent([10]), 10);
    assert.equal(niceExtent([]), 1);
    assert.equal(niceExtent([0, Number.NaN]), 1);
  });
});

describe('theme', () => {
  it('reads Dark+ variables and picks the dark palette', () => {
    const t = themeFromCss((n) => darkPlus[n] ?? '', ['vscode-dark']);
    assert.equal(t.kind, 'dark');
    assert.equal(t.background, '#1e1e1e');
    assert.equal(t.foreground, '#d4d4d4');
    assert.equal(t.focus, '#007fd4');
    assert.equal(t.palette, DARK_PALETTE);
    assert.equal(t.fontFamily, darkPlus['--vscode-font-family']);
  });

  it('falls back to sensible light defaults when variables are missing', () => {
    const t = themeFromCss(() => '', []);
    assert.equal(t.kind, 'light');
    assert.equal(t.background, '#ffffff');
    assert.equal(t.palette, LIGHT_PALETTE);
  });

  it('decides the palette from the background, not the class', () => {
    const t = themeFromCss((n) => (n === '--vscode-editor-background' ? '#101010' : ''), ['vscode-high-contrast']);
    assert.equal(t.kind, 'high-contrast');
    assert.equal(t.palette, DARK_PALETTE);
  });
});

describe('formatting', () => {
  it('formats signed numbers with a real minus sign', () => {
    assert.equal(formatSigned(2.744), '+2.74');
    assert.equal(formatSigned(-0.15), '\u22120.15');
    assert.equal(formatSigned(0.001), '0.00');
    assert.equal(formatSigned(Number.NaN), '—');
    assert.equal(formatValue(-1.42), '\u22121.42');
    assert.equal(formatValue(0.0512), '+0.0512');
    assert.equal(formatValue(-0.03), '\u22120.03');
    assert.equal(formatValue(123.4), '+123');
    assert.equal(formatValue(0), '0');
    assert.equal(formatValue(null), '—');
  });

  it('formats probabilities as percentages', () => {
    assert.equal(formatProb(0.62), '62%');
    assert.equal(formatProb(0.04), '4.0%');
    assert.equal(formatProb(0.0004), '<0.1%');
    assert.equal(formatProb(0), '0.0%');
  });

  it('orients the readout towards the target class', () => {
    const r = { probs: [0.1, 0.7] as [number, number], logitDiff: -1.9 };
    assert.deepEqual(orient(r, 1), { pTarget: 0.7, pAlt: 0.1, diff: 1.9 });
    assert.deepEqual(orient(r, 0), { pTarget: 0.1, pAlt: 0.7, diff: -1.9 });
    const rows = readoutRows(sampleModel().readout!);
    assert.equal(rows.before.diff, 2.74);
    assert.ok(Math.abs(rows.change! - (0.15 - 2.74)) < 1e-12);
  });

  it('shows positions one-based and whitespace visibly', () => {
    assert.equal(formatPosition({ line: 6, character: 16, endLine: 6, endCharacter: 22 }), '7:17');
    assert.equal(visibleToken(' world'), '\u2423world');
    assert.equal(visibleToken('")\n'), '")\u23ce');
  });
});

describe('webview state', () => {
  it('restores nothing from garbage and round-trips what it persisted', () => {
    assert.equal(S.restoreState(undefined), S.EMPTY_STATE);
    assert.equal(S.restoreState({ v: 2 }), S.EMPTY_STATE);
    assert.equal(S.restoreState({ v: 1, model: { circuit: 1 }, pinned: false, selected: null }), S.EMPTY_STATE);
    const state = S.select(S.applyUpdate(S.EMPTY_STATE, sampleModel(), true), '0.mlp.post_act.133');
    const restored = S.restoreState(JSON.parse(JSON.stringify(S.persist(state))));
    assert.equal(restored.pinned, true);
    assert.equal(restored.selected, '0.mlp.post_act.133');
    assert.deepEqual(JSON.parse(JSON.stringify(restored.model)), JSON.parse(JSON.stringify(state.model)));
  });

  it('selects the first key node by default and keeps a selection that still exists', () => {
    let s = S.applyUpdate(S.EMPTY_STATE, sampleModel(), false);
    assert.equal(s.selected, '0.attn.resid_delta.40');
    s = S.select(s, '1.attn.v.9');
    s = S.applyUpdate(s, sampleModel(), false);
    assert.equal(s.selected, '1.attn.v.9');
    assert.equal(S.select(s, '9.attn.v.1').selected, '1.attn.v.9');
  });

  it('shows toggles at once and lets the next host update win', () => {
    let s = S.applyUpdate(S.EMPTY_STATE, sampleModel(), false);
    assert.deepEqual([...S.effectiveAblated(s)], ['0.attn.v.17']);
    s = S.toggleNode(s, '0.attn.v.17', false);
    s = S.toggleNode(s, '1.attn.v.9', true);
    assert.deepEqual([...S.effectiveAblated(s)], ['1.attn.v.9']);
    assert.equal(S.toggleNode(s, 'not.a.node', true), s);
    s = S.applyUpdate(s, sampleModel(), false);
    assert.deepEqual([...S.effectiveAblated(s)], ['0.attn.v.17']);
  });

  it('caches top tokens per document version and ignores stale answers', () => {
    const tokens = sampleTopTokens()['0.attn.resid_delta.40'];
    let s = S.applyUpdate(S.EMPTY_STATE, sampleModel(), false);
    s = S.topTokensLoading(s, '0.attn.resid_delta.40');
    assert.equal(S.topTokensArrived(s, 'an older document version', '0.attn.resid_delta.40', tokens), s);
    assert.equal(S.topTokensArrived(s, s.topTokensKey, '1.attn.v.9', tokens), s, 'a node nobody asked about');
    s = S.topTokensArrived(s, s.topTokensKey, '0.attn.resid_delta.40', tokens);
    assert.equal(s.topTokens.get('0.attn.resid_delta.40')?.status, 'done');
    // Same document version: cache kept; new version: dropped.
    assert.equal(S.applyUpdate(s, sampleModel(), false).topTokens.size, 1);
    assert.equal(S.applyUpdate(s, { ...sampleModel(), documentVersion: 4 }, false).topTokens.size, 0);
  });

  it('caches node examples per circuit (any document) and ignores answers for another circuit', () => {
    let s = S.applyUpdate(S.EMPTY_STATE, sampleModel(), false);
    s = S.examplesLoading(s, '0.attn.resid_delta.40');
    assert.equal(S.examplesArrived(s, 'another circuit', '0.attn.resid_delta.40', null), s);
    assert.equal(S.examplesArrived(s, s.examplesKey, '1.attn.v.9', null), s, 'a node nobody asked about');
    s = S.examplesArrived(s, s.examplesKey, '0.attn.resid_delta.40', null);
    assert.deepEqual(s.examples.get('0.attn.resid_delta.40'), { status: 'done', examples: null });
    assert.equal(S.applyUpdate(s, { ...sampleModel(), documentVersion: 4 }, false).examples.size, 1, 'a new document version keeps them');
    const other = { ...sampleModel().circuit, task: 'bracket_counting' };
    assert.equal(S.applyUpdate(s, { ...sampleModel(), circuit: other }, false).examples.size, 0, 'another circuit drops them');
  });
});

describe('visual graph', () => {
  const theme = themeFromCss(() => '', ['vscode-light']);
  const model = sampleModel();
  const g = buildVisualGraph({ circuit: model.circuit, activations: model.activations, ablated: new Set(model.ablated), extent: 2.5 }, theme);

  it('has one visual node per circuit node plus the output node, and with the threshold at 100 % one edge per circuit edge plus one into the output per residual write', () => {
    assert.equal(g.nodes.length, model.circuit.nodes.length + 1);
    const all = buildVisualGraph({ circuit: model.circuit, activations: model.activations, ablated: new Set(), extent: 2.5, edgeShare: 1 }, theme);
    const writers = model.circuit.nodes.filter((n) => n.site.endsWith('resid_delta'));
    assert.equal(all.edges.length, model.circuit.edges.length + writers.length);
    assert.equal(all.shownEdges, model.circuit.edges.length);
  });

  it('adds the output node (the two contrast logits, from the circuit\'s classes) with an edge from every node that writes to the residual, weighted by its class correlation', () => {
    const out = g.nodes.find((n) => n.id === OUTPUT_ID)!;
    assert.equal(out.label, 'double − single');
    const into = g.edges.filter((e) => e.target === OUTPUT_ID);
    assert.deepEqual(
      into.map((e) => [e.source, e.weight]),
      [
        ['0.attn.resid_delta.40', -0.71],
        ['0.mlp.resid_delta.88', 0.12],
        ['1.attn.resid_delta.12', 0.83],
      ],
    );
    assert.ok(into.every((e) => e.color === toHex(e.weight >= 0 ? LIGHT_PALETTE.positive : LIGHT_PALETTE.negative)));
    // the output sits in its own band below the last layer
    const last = Math.max(...g.nodes.filter((n) => n.id !== OUTPUT_ID).map((n) => n.y));
    assert.ok(out.y > last);
    assert.equal(g.bands[g.bands.length - 1].label, 'Output');
    // without correlations in the file the edges are still drawn, with weight 0
    const bare = { ...model.circuit, nodes: model.circuit.nodes.map(({ class_correlation: _, ...n }) => n) };
    assert.ok(outputEdges(bare).every((e) => e.weight === 0));
    // the output caption shows the logit difference at the cursor (after the ablation)
    const withReadout = buildVisualGraph({ circuit: model.circuit, activations: model.activations, ablated: new Set(), extent: 2.5, readout: model.readout }, theme);
    assert.equal(withReadout.nodes.find((n) => n.id === OUTPUT_ID)!.caption, 'logit diff +0.15 → double');
    const r = model.readout!;
    const flipped = buildVisualGraph({ circuit: model.circuit, activations: model.activations, ablated: new Set(), extent: 2.5, readout: { ...r, after: { ...r.before, logitDiff: -1.5 } } }, theme);
    assert.equal(flipped.nodes.find((n) => n.id === OUTPUT_ID)!.caption, 'logit diff −1.50 → single', 'the side the (ablated) difference points to');
  });

  it('a node caption leaves out a trailing (site) the row label already says, so it is not cut off', () => {
    const circuit = shippedQuoteCircuit();
    const nodes = circuit.nodes.map((n) => (n.site.endsWith('resid_delta') ? { ...n, label: 'double/single (resid_delta)' } : n.site.endsWith('act_in') ? { ...n, label: 'double/single (post_act)' } : n));
    const drawn = buildVisualGraph({ circuit: { ...circuit, nodes }, activations: {}, ablated: new Set(), extent: 2.5 }, theme);
    const caption = (site: string) => drawn.nodes.find((n) => nodes.find((m) => m.id === n.id)?.site.endsWith(site))!.caption;
    assert.equal(caption('resid_delta'), 'double/single');
    assert.equal(caption('act_in'), 'double/singl…', 'another site in the parentheses is kept (and cut to fit)');
    // a found circuit's nodes are labelled with their ids: no caption repeats it under the node
    const byId = buildVisualGraph({ circuit: { ...circuit, nodes: circuit.nodes.map((n) => ({ ...n, label: n.id })) }, activations: {}, ablated: new Set(), extent: 2.5 }, theme);
    assert.ok(byId.nodes.every((n) => n.caption === '' || n.id === OUTPUT_ID), 'no caption that only repeats the id');
  });

  it('colours nodes by activation, greys and dashes ablated ones', () => {
    const byId = new Map(g.nodes.map((n) => [n.id, n]));
    assert.equal(byId.get('0.attn.v.17')!.dashed, true);
    assert.equal(byId.get('0.attn.v.17')!.fill, theme.ablatedFill);
    assert.equal(byId.get('0.mlp.post_act.133')!.fill, toHex(divergingColor(2.31, 2.5, LIGHT_PALETTE)));
    assert.equal(byId.get('0.attn.resid_delta.40')!.key, true);
  });

  it('sizes edges by |weight| and colours them by sign; edges into ablated nodes are dashed', () => {
    const strongest = g.edges.reduce((a, b) => (Math.abs(b.weight) > Math.abs(a.weight) ? b : a));
    assert.equal(strongest.width, 6);
    for (const e of g.edges.filter((x) => x.target !== OUTPUT_ID)) {
      assert.equal(e.color, toHex(e.weight >= 0 ? LIGHT_PALETTE.positive : LIGHT_PALETTE.negative));
      assert.equal(e.dashed, e.source === '0.attn.v.17' || e.target === '0.attn.v.17');
    }
  });

  it('truncates captions by characters, not code units', () => {
    assert.equal(truncate('short', 10), 'short');
    assert.equal(truncate('a very long caption indeed', 10), 'a very lo…');
    assert.equal([...truncate('😀'.repeat(30), 10)].length, 10);
  });
});

describe('edge threshold', () => {
  it('keeps the strongest edges until they carry the share of the total |weight|, ties at the cut included', () => {
    assert.deepEqual([...strongestEdges([0.1, -0.5, 0.3, 0.1], 0.8)].sort(), [1, 2]);
    assert.deepEqual([...strongestEdges([0.1, -0.5, 0.3, 0.1], 0.81)].sort(), [0, 1, 2, 3]);
    assert.deepEqual([...strongestEdges([1, 2, 3], 1)].sort(), [0, 1, 2]);
    assert.deepEqual([...strongestEdges([0, 0], 0.8)].sort(), [0, 1]);
    assert.equal(strongestEdges([], 0.8).size, 0);
  });

  it('defaults to 80 %: the shipped quote circuit draws the fewest of its edges that carry ≥ 80 % of |weight|, and every residual write feeds the output', () => {
    const circuit = shippedQuoteCircuit();
    assert.equal(DEFAULT_EDGE_SHARE, 0.8);
    const w = circuit.edges.map((e) => Math.abs(e.weight));
    const total = w.reduce((a, b) => a + b, 0);
    const kept = strongestEdges(circuit.edges.map((e) => e.weight), DEFAULT_EDGE_SHARE);
    assert.ok(kept.size > 0 && kept.size < circuit.edges.length, `${kept.size} of ${circuit.edges.length} edges drawn`);
    const sum = [...kept].reduce((a, i) => a + w[i], 0);
    assert.ok(sum >= 0.8 * total);
    assert.ok(sum - Math.min(...[...kept].map((i) => w[i])) < 0.8 * total);
    const g = buildVisualGraph({ circuit, activations: {}, ablated: new Set(), extent: 1 }, themeFromCss(() => '', ['vscode-dark']));
    assert.equal(g.shownEdges, kept.size);
    assert.equal(g.edges.filter((e) => e.target !== OUTPUT_ID).length, kept.size);
    const writes = circuit.nodes.filter((n) => n.site.endsWith('resid_delta')).length;
    assert.ok(writes > 0);
    assert.equal(g.edges.filter((e) => e.target === OUTPUT_ID).length, writes);
    assert.ok(g.edges.every((e) => e.bend === 0 || Number.isFinite(e.bend)));
  });
});

describe('fixed colour scale', () => {
  it('is computed once per circuit, from the first activations it arrives with, and kept for later tokens', () => {
    const m = sampleModel();
    let st = S.applyUpdate(S.EMPTY_STATE, m, false);
    const first = S.circuitExtent(st);
    assert.equal(first, 2.5, 'nice extent of the first activations (max 2.31)');
    const louder = { ...m, activations: Object.fromEntries(Object.entries(m.activations).map(([k, v]) => [k, v * 8])) };
    st = S.applyUpdate(st, louder, false);
    assert.equal(S.circuitExtent(st), first, 'not rescaled for another token of the same circuit');
    // another circuit gets its own scale, and coming back restores the first
    const other = { ...m, circuit: { ...m.circuit, task: 'other_task' }, activations: { '0.attn.v.17': 40 } };
    st = S.applyUpdate(st, other, false);
    assert.equal(S.circuitExtent(st), 50);
    st = S.applyUpdate(st, louder, false);
    assert.equal(S.circuitExtent(st), first);
    // it survives the webview being hidden and shown (setState/getState)
    assert.equal(S.circuitExtent(S.restoreState(JSON.parse(JSON.stringify(S.persist(st))))), first);
    // a view where the task does not apply (no activations) does not fix it
    const empty = S.applyUpdate(S.EMPTY_STATE, { ...m, activations: {} }, false);
    assert.equal(empty.scales.size, 0);
  });
});

describe('canvas font family', () => {
  it('rewrites VS Code\'s single-quoted font list into one cytoscape accepts, keeping the monospace families', () => {
    assert.equal(canvasFontFamily("'Droid Sans Mono', 'monospace', monospace", 'x'), '"Droid Sans Mono", "monospace", monospace');
    assert.equal(canvasFontFamily('Menlo, "DejaVu Sans Mono", monospace', 'x'), 'Menlo, "DejaVu Sans Mono", monospace');
    assert.equal(canvasFontFamily("Fira.Code, 'a\\b', ", 'fallback'), 'fallback');
    assert.equal(canvasFontFamily('', 'fallback'), 'fallback');
    // every result matches cytoscape 3.34's font-family pattern
    const cy = /^([\w- "]+(?:\s*,\s*[\w- "]+)*)$/;
    for (const css of ["'Droid Sans Mono', 'monospace', monospace", '-apple-system, BlinkMacSystemFont, "Segoe WPC", system-ui, "Ubuntu", "Droid Sans", sans-serif'])
      assert.match(canvasFontFamily(css, 'x'), cy);
    const theme = themeFromCss((n) => (n === '--vscode-editor-font-family' ? "'Droid Sans Mono', monospace" : ''), ['vscode-dark']);
    assert.equal(theme.monoFontFamily, '"Droid Sans Mono", monospace');
  });
});

describe('SVG and JSON export', () => {
  const theme = themeFromCss(() => '', ['vscode-light']);
  const model = sampleModel();
  const nodes = model.circuit.nodes.map((n, i) => (i === 1 ? { ...n, label: 'a <b> & "c" \u0007' } : n));
  const m = { ...model, circuit: { ...model.circuit, nodes } };
  const g = buildVisualGraph({ circuit: m.circuit, activations: m.activations, ablated: new Set(m.ablated), extent: 2.5 }, theme);
  const svg = graphToSvg(g, { title: 'T <1>', subtitle: 's' });

  it('escapes text and attributes', () => {
    assert.equal(esc('a<b>&c'), 'a&lt;b&gt;&amp;c');
    assert.equal(attr(`"x" 'y'`), '&quot;x&quot; &#39;y&#39;');
    assert.ok(svg.includes('a &lt;b&gt; &amp; "c"'));
    assert.ok(svg.includes('<title>T &lt;1&gt;</title>'));
    assert.ok(!svg.includes('\u0007'));
  });

  it('draws every node, caption and edge', () => {
    assert.equal((svg.match(/marker-end="url\(#arrow\d+\)"/g) ?? []).length, g.edges.length);
    for (const n of g.nodes) assert.ok(svg.includes(`>${esc(n.label)}</text>`), n.label);
    assert.equal((svg.match(/stroke-dasharray="4 3"/g) ?? []).length, 1); // the ablated node
    assert.ok(svg.startsWith('<?xml'));
    assert.ok(svg.trimEnd().endsWith('</svg>'));
  });

  it('clips edge ends to the node border', () => {
    const n = { x: 0, y: 0, width: 68, height: 28 };
    const near = (p: { x: number; y: number }, x: number, y: number): boolean => Math.abs(p.x - x) < 1e-9 && Math.abs(p.y - y) < 1e-9;
    assert.ok(near(clipToNode(n, { x: 0, y: 100 }), 0, 14));
    assert.ok(near(clipToNode(n, { x: -100, y: 0 }), -34, 0));
    assert.ok(near(clipToNode(n, { x: 100, y: 100 }), 14, 14));
    assert.deepEqual(clipToNode(n, { x: 0, y: 0 }), { x: 0, y: 0 });
  });

  it('exports JSON with labels, meanings, activations and ablation state', () => {
    const doc = JSON.parse(graphToJson(m, g)) as {
      format: string;
      nodes: { id: string; label: string; meaning: string; activation: number | null; ablated: boolean; position: { x: number } }[];
      edges: { sourceLabel: string }[];
      ablation: { mode: string; nodes: string[] };
    };
    assert.equal(doc.format, GRAPH_EXPORT_FORMAT);
    assert.equal(doc.nodes.length, m.circuit.nodes.length);
    const v17 = doc.nodes.find((n) => n.id === '0.attn.v.17')!;
    assert.equal(v17.label, 'quote type (V)');
    assert.equal(v17.ablated, true);
    assert.equal(v17.activation, 0.05);
    assert.equal(typeof v17.position.x, 'number');
    assert.ok(doc.edges.every((e) => typeof e.sourceLabel === 'string'));
    assert.deepEqual(doc.ablation, { mode: 'mean', circuitOnly: false, nodes: ['0.attn.v.17'] });
  });
});
