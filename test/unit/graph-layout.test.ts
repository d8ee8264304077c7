import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { computeLayout, controlPoint, DEFAULT_LAYOUT, type LayoutNodeInput, rowKey, rowOrder, shortLabel, wrapForViewport } from '../../src/webview/layout';
import { sampleCircuit } from './fixtures';

function node(id: string): LayoutNodeInput {
  const [layer, kind, site, index] = id.split('.');
  return { id, layer: Number(layer), site: `${kind}.${site}`, index: Number(index) };
}

describe('layout rows', () => {
  it('puts one row per (layer, site) in model order, q, k and v of a layer in one row', () => {
    const c = sampleCircuit();
    const layout = computeLayout(c.nodes, c.edges);
    assert.deepEqual(
      layout.rows.map((r) => r.key),
      [
        '0.attn.act_in',
        '0.attn.qkv',
        '0.attn.resid_delta',
        '0.mlp.act_in',
        '0.mlp.post_act',
        '0.mlp.resid_delta',
        '1.attn.act_in',
        '1.attn.qkv',
        '1.attn.resid_delta',
        '1.mlp.act_in',
        '1.mlp.post_act',
      ],
    );
    layout.rows.forEach((r, i) => assert.equal(r.y, i * DEFAULT_LAYOUT.rowGap));
    for (const n of c.nodes) {
      const row = layout.rows.find((r) => r.key === rowKey(n))!;
      assert.equal(layout.positions.get(n.id)!.y, row.y);
    }
  });

  it('orders all eight sites of a layer and puts unknown sites after them', () => {
    const sites = ['mlp.resid_delta', 'attn.q', 'mlp.post_act', 'attn.zz_extra', 'attn.act_in', 'attn.resid_delta', 'mlp.act_in', 'attn.v', 'attn.k'];
    const sorted = [...sites].sort((a, b) => rowOrder({ layer: 0, site: a }, { layer: 0, site: b }));
    assert.deepEqual(sorted, ['attn.act_in', 'attn.q', 'attn.k', 'attn.v', 'attn.resid_delta', 'attn.zz_extra', 'mlp.act_in', 'mlp.post_act', 'mlp.resid_delta']);
    assert.ok(rowOrder({ layer: 0, site: 'mlp.resid_delta' }, { layer: 1, site: 'attn.act_in' }) < 0);
    assert.ok(rowOrder({ layer: 2, site: 'attn.act_in' }, { layer: 10, site: 'attn.act_in' }) < 0);
  });

  it('groups rows into one band per layer', () => {
    const c = sampleCircuit();
    const layout = computeLayout(c.nodes, c.edges);
    assert.deepEqual(
      layout.bands.map((b) => b.layer),
      [0, 1],
    );
    for (const r of layout.rows) {
      const band = layout.bands.find((b) => b.layer === r.layer)!;
      assert.ok(band.y0 < r.y && r.y < band.y1);
    }
  });
});

describe('layout positions', () => {
  it('is deterministic and independent of input order', () => {
    const c = sampleCircuit();
    const a = computeLayout(c.nodes, c.edges);
    const b = computeLayout([...c.nodes].reverse(), c.edges);
    assert.deepEqual([...a.positions].sort(), [...b.positions].sort());
    assert.deepEqual(computeLayout(c.nodes, c.edges), a);
  });

  it('centres each row on x = 0 with one column gap between neighbours', () => {
    const nodes = ['0.attn.v.3', '0.attn.v.1', '0.attn.v.2', '0.mlp.post_act.5'].map(node);
    const layout = computeLayout(nodes, []);
    const xs = ['0.attn.v.1', '0.attn.v.2', '0.attn.v.3'].map((id) => layout.positions.get(id)!.x);
    assert.deepEqual(xs, [-DEFAULT_LAYOUT.columnGap, 0, DEFAULT_LAYOUT.columnGap]);
    assert.equal(layout.positions.get('0.mlp.post_act.5')!.x, 0);
  });

  it('orders a row by the barycentre of its inputs, removing a crossing', () => {
    // 0.attn.act_in.1 (left) feeds k.9, 0.attn.act_in.2 (right) feeds k.4: index order would cross.
    const nodes = ['0.attn.act_in.1', '0.attn.act_in.2', '0.attn.k.4', '0.attn.k.9'].map(node);
    const edges = [
      { source: '0.attn.act_in.1', target: '0.attn.k.9' },
      { source: '0.attn.act_in.2', target: '0.attn.k.4' },
    ];
    const p = computeLayout(nodes, edges).positions;
    assert.ok(p.get('0.attn.k.9')!.x < p.get('0.attn.k.4')!.x);
  });

  it('never puts two nodes at the same place', () => {
    const arb = fc.uniqueArray(
      fc.record({ layer: fc.integer({ min: 0, max: 3 }), site: fc.constantFrom('attn.q', 'attn.v', 'mlp.post_act', 'mlp.act_in'), index: fc.integer({ min: 0, max: 60 }) }),
      { selector: (n) => `${n.layer}.${n.site}.${n.index}`, maxLength: 40 },
    );
    fc.assert(
      fc.property(arb, (raw) => {
        const nodes = raw.map((n) => ({ ...n, id: `${n.layer}.${n.site}.${n.index}` }));
        const edges = nodes.slice(1).map((n, i) => ({ source: nodes[i].id, target: n.id }));
        const layout = computeLayout(nodes, edges);
        const seen = new Set([...layout.positions.values()].map((p) => `${p.x},${p.y}`));
        assert.equal(seen.size, nodes.length);
        assert.equal(layout.routes.length, edges.length);
      }),
      { numRuns: 200 },
    );
  });
});

describe('edge routes', () => {
  it('keeps adjacent-row edges straight and bends long edges that would cross nodes', () => {
    const c = sampleCircuit();
    const layout = computeLayout(c.nodes, c.edges);
    const bend = (s: string, t: string): number => layout.routes.find((r) => r.source === s && r.target === t)!.bend;
    assert.equal(bend('0.attn.v.17', '0.attn.resid_delta.40'), 0);
    assert.equal(bend('0.mlp.post_act.133', '0.mlp.resid_delta.88'), 0);
    const long1 = bend('0.attn.resid_delta.40', '1.attn.act_in.40');
    const long2 = bend('0.mlp.resid_delta.88', '1.mlp.act_in.88');
    assert.notEqual(long1, 0);
    assert.notEqual(long2, 0);
    // They overlap in rows 6–7, so they go to opposite sides.
    assert.equal(Math.sign(long1), -Math.sign(long2));
  });

  it('bends enough to clear the column at the first skipped row', () => {
    const nodes = ['0.attn.act_in.1', '0.attn.resid_delta.1', '0.mlp.act_in.1', '0.mlp.post_act.1', '0.mlp.resid_delta.1'].map(node);
    const edges = [{ source: '0.attn.act_in.1', target: '0.mlp.resid_delta.1' }];
    const layout = computeLayout(nodes, edges);
    const a = layout.positions.get('0.attn.act_in.1')!;
    const b = layout.positions.get('0.mlp.resid_delta.1')!;
    const c = controlPoint(a, b, layout.routes[0].bend);
    // two straight segments a → c → b; the first skipped row is a quarter of the way down
    const u = 1 / 4;
    const xAtFirstRow = a.x + 2 * u * (c.x - a.x);
    assert.ok(Math.abs(xAtFirstRow) >= DEFAULT_LAYOUT.columnGap * 0.42 - 1e-6);
  });

  it('uses the cytoscape convention: normal (−dy, dx), so a downward edge with positive bend moves to −x', () => {
    const c = controlPoint({ x: 0, y: 0 }, { x: 0, y: 100 }, 40);
    assert.deepEqual(c, { x: -40, y: 50 });
    const up = controlPoint({ x: 0, y: 100 }, { x: 0, y: 0 }, 40);
    assert.deepEqual(up, { x: 40, y: 50 });
  });
});

describe('short labels', () => {
  it('abbreviates the site and keeps the index', () => {
    assert.equal(shortLabel({ site: 'attn.v', index: 17 }), 'v 17');
    assert.equal(shortLabel({ site: 'attn.act_in', index: 3 }), 'in 3');
    assert.equal(shortLabel({ site: 'mlp.resid_delta', index: 40 }), 'out 40');
    assert.equal(shortLabel({ site: 'mlp.post_act', index: 407 }), 'act 407');
    assert.equal(shortLabel({ site: 'attn.custom', index: 1 }), 'custom 1');
  });
});

describe('layout wrapping', () => {
  // the shape of the shipped quote circuit: 13 residual reads, then short rows
  const wide = [
    ...Array.from({ length: 13 }, (_, i) => node(`0.attn.act_in.${i}`)),
    ...[1, 2].map((i) => node(`0.attn.q.${i}`)),
    ...[1, 2, 3, 4].map((i) => node(`0.attn.k.${i}`)),
    ...Array.from({ length: 8 }, (_, i) => node(`0.attn.v.${i}`)),
    ...[1, 2, 3, 4, 5].map((i) => node(`0.attn.resid_delta.${i}`)),
  ];
  const edges = wide.filter((n) => n.site === 'attn.act_in').map((n, i) => ({ source: n.id, target: `0.attn.v.${i % 8}` }));

  it('a wide row wraps onto lines of maxPerLine under its label, inside its layer band, and rows below move down', () => {
    const layout = computeLayout(wide, edges, { ...DEFAULT_LAYOUT, maxPerLine: 5 });
    const ys = (site: string): number[] => [...new Set(wide.filter((n) => n.site === site).map((n) => layout.positions.get(n.id)!.y))].sort((a, b) => a - b);
    const gap = DEFAULT_LAYOUT.rowGap;
    assert.deepEqual(ys('attn.act_in'), [0, gap, 2 * gap], '13 nodes: lines of 5, 5, 3');
    // q, k, v share a row: 2 + 4 + 8 nodes on three lines (ordered by their inputs' positions)
    const qkv = [...new Set(wide.filter((n) => /attn\.[qkv]$/.test(n.site)).map((n) => layout.positions.get(n.id)!.y))].sort((a, b) => a - b);
    assert.deepEqual(qkv, [3 * gap, 4 * gap, 5 * gap]);
    assert.deepEqual(layout.rows.map((r) => r.y), [0, 3 * gap, 6 * gap], 'a row label sits at its first line');
    for (const y of ys('attn.act_in')) {
      const xs = wide.filter((n) => n.site === 'attn.act_in' && layout.positions.get(n.id)!.y === y).map((n) => layout.positions.get(n.id)!.x);
      assert.ok(xs.length <= 5);
      assert.equal(xs.reduce((a, b) => a + b, 0), 0, 'each line is centred');
    }
    assert.deepEqual(layout.bands, [{ layer: 0, y0: -gap / 2, y1: 6 * gap + gap / 2 }]);
    assert.equal(layout.positions.size, wide.length, 'every node placed once');
    assert.equal(new Set([...layout.positions.values()].map((p) => `${p.x},${p.y}`)).size, wide.length, 'no two nodes overlap');
  });

  it('wraps for a narrow viewport, not for a wide one, and never when the size is unknown', () => {
    const narrow = wrapForViewport(wide, 300, 600);
    assert.ok(narrow !== undefined && narrow >= 4 && narrow < 13, `narrow: ${narrow}`);
    assert.equal(wrapForViewport(wide, 4000, 300), undefined);
    assert.equal(wrapForViewport(wide, 0, 0), undefined);
    // the chosen width makes the fitted graph at least as large as no wrapping does
    const scale = (line: number): number => {
      const lines = [13, 14, 5].reduce((s, n) => s + Math.ceil(n / line), 0);
      return Math.min(300 / (line * DEFAULT_LAYOUT.columnGap), 600 / (lines * DEFAULT_LAYOUT.rowGap));
    };
    assert.ok(scale(narrow) > scale(13) * 1.5, `${scale(narrow)} vs ${scale(13)}`);
  });
});
