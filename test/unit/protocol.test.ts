import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { circuitFile } from '../../src/schemas/circuit';
import {
  type ExportFormat,
  hostMessages,
  LIMITS,
  panelModel,
  parseHostMessage,
  parseWebviewMessage,
  PROTOCOL_VERSION,
  type WebviewMessage,
  webviewMessages,
} from '../../src/schemas/messages';
import { checkExportData } from '../../src/schemas/exportData';
import { check, ValidationError } from '../../src/schemas/validate';
import { graphToSvg } from '../../src/webview/export-svg';
import { themeFromCss } from '../../src/webview/theme';
import { buildVisualGraph } from '../../src/webview/visual';
import { sampleCircuit, sampleModel, sampleTopTokens } from './fixtures';

const range = { line: 6, character: 16, endLine: 6, endCharacter: 22 };

/** One valid example of every webview → host message kind. */
const validWebviewMessages: WebviewMessage[] = [
  { kind: 'ready', protocol: PROTOCOL_VERSION },
  { kind: 'toggleNode', nodeId: '0.attn.v.17', ablated: true },
  { kind: 'setMode', mode: 'zero' },
  { kind: 'circuitOnly' },
  { kind: 'reset' },
  { kind: 'revealToken', nodeId: '0.attn.v.17', range },
  { kind: 'selectNode', nodeId: '1.attn.q.40' },
  { kind: 'topTokensRequest', requestId: 3, nodeId: '1.mlp.post_act.407' },
  { kind: 'nodeExamplesRequest', requestId: 4, nodeId: '1.mlp.post_act.407' },
  { kind: 'exportData', requestId: null, format: 'json', data: '{"a":1}' },
  { kind: 'exportData', requestId: 7, format: 'png', data: 'data:image/png;base64,iVBORw0KGgo=' },
  { kind: 'setPinned', pinned: true },
  { kind: 'chooseCircuit', task: 'single_double_quote_paper' },
  { kind: 'setLabel', nodeId: '0.attn.v.17', label: 'closes the string' },
  { kind: 'viewport', width: 301 },
  { kind: 'log', level: 'warn', message: 'something' },
];

function rejectsWebview(raw: unknown, why: RegExp | string = /./): void {
  const r = parseWebviewMessage(raw);
  if (r.ok) assert.fail(`expected rejection of ${show(raw)}`);
  assert.match(r.error, typeof why === 'string' ? new RegExp(why) : why);
}

function show(raw: unknown): string {
  try {
    return String(JSON.stringify(raw)).slice(0, 120);
  } catch {
    return String(typeof raw);
  }
}

function svgFor(model = sampleModel()): string {
  const theme = themeFromCss(() => '', ['vscode-light']);
  const g = buildVisualGraph({ circuit: model.circuit, activations: model.activations, ablated: new Set(model.ablated), extent: 2.5 }, theme);
  return graphToSvg(g, { title: model.circuit.title, subtitle: 'test' });
}

describe('circuit file', () => {
  it('accepts the fixture and keeps every node and edge', () => {
    const r = check(circuitFile, sampleCircuit());
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.equal(r.value.nodes.length, 13);
    assert.equal(r.value.edges.length, 12);
    assert.deepEqual(r.value.classes.map((c) => c.label), ['double', 'single']);
  });

  it('drops unknown keys and non-numeric metrics', () => {
    const c = { ...sampleCircuit(), extra: { deep: true }, metrics: { a: 1, nested: { b: 2 }, s: 'x' } };
    const r = check(circuitFile, c);
    assert.ok(r.ok);
    assert.equal('extra' in r.value, false);
    assert.deepEqual({ ...r.value.metrics }, { a: 1 });
  });

  it('rejects edges to unknown nodes, duplicate nodes, inconsistent ids and a third class', () => {
    const c = sampleCircuit();
    assert.equal(check(circuitFile, { ...c, edges: [...c.edges, { source: '0.attn.v.17', target: '1.attn.q.99', weight: 1 }] }).ok, false);
    assert.equal(check(circuitFile, { ...c, nodes: [...c.nodes, c.nodes[0]] }).ok, false);
    assert.equal(check(circuitFile, { ...c, nodes: [{ ...c.nodes[0], index: 4 }, ...c.nodes.slice(1)] }).ok, false);
    assert.equal(check(circuitFile, { ...c, classes: [...c.classes, c.classes[0]] }).ok, false);
    assert.equal(check(circuitFile, { ...c, key_nodes: ['9.attn.v.1'] }).ok, false);
  });
});

describe('panel model', () => {
  it('accepts the fixture', () => {
    const r = check(panelModel, sampleModel());
    assert.ok(r.ok, r.ok ? '' : r.error.message);
  });

  it('rejects an ablated id outside the circuit, NaN activations and probabilities above 1', () => {
    const m = sampleModel();
    assert.equal(check(panelModel, { ...m, ablated: ['1.attn.q.3'] }).ok, false);
    assert.equal(check(panelModel, { ...m, activations: { '0.attn.v.17': Number.NaN } }).ok, false);
    assert.equal(check(panelModel, { ...m, activations: { '0.attn.v.17': Infinity } }).ok, false);
    const readout = { ...m.readout!, before: { probs: [1.2, 0], logitDiff: 1 } };
    assert.equal(check(panelModel, { ...m, readout }).ok, false);
  });

  it('rejects prototype-polluting keys in records', () => {
    const m = sampleModel();
    const activations = JSON.parse('{"__proto__": {"polluted": 1}, "0.attn.v.17": 1}') as Record<string, number>;
    assert.equal(check(panelModel, { ...m, activations }).ok, false);
    assert.equal(check(panelModel, { ...m, activations: { constructor: 1 } }).ok, false);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('offers choices only with the shown circuit among them, and bounded', () => {
    const m = sampleModel();
    const shown = { task: m.circuit.task, title: m.circuit.title, nodes: m.circuit.nodes.length };
    const core = { task: 'single_double_quote_paper', title: 'Quote closing, the paper\'s form', nodes: 18 };
    assert.ok(check(panelModel, { ...m, choices: [shown, core] }).ok);
    const without = check(panelModel, { ...m, choices: [core] });
    assert.ok(!without.ok && /not among them/.test(without.error.message), 'the shown circuit is missing');
    assert.equal(check(panelModel, { ...m, choices: [shown, { ...core, task: 'a b' }] }).ok, false, 'a task name with a space');
    assert.equal(check(panelModel, { ...m, choices: Array.from({ length: LIMITS.choices + 1 }, () => shown) }).ok, false);
  });

  it('rejects a backwards range', () => {
    const m = sampleModel();
    const cursor = { text: 'x', range: { line: 3, character: 5, endLine: 3, endCharacter: 2 } };
    assert.equal(check(panelModel, { ...m, cursor }).ok, false);
  });
});

describe('webview → host messages', () => {
  it('accepts one valid example of every kind', () => {
    const kinds = new Set<string>();
    for (const m of validWebviewMessages) {
      const r = parseWebviewMessage(m);
      assert.ok(r.ok, r.ok ? '' : r.error);
      assert.deepEqual(r.message, m);
      kinds.add(m.kind);
    }
    assert.deepEqual([...kinds].sort(), Object.keys(webviewMessages).sort());
  });

  it('returns fresh objects, not the received ones', () => {
    const m = { kind: 'toggleNode', nodeId: '0.attn.v.17', ablated: true };
    const r = parseWebviewMessage(m);
    assert.ok(r.ok);
    assert.notEqual(r.message, m);
  });

  it('rejects non-objects and unknown kinds', () => {
    for (const raw of [null, undefined, 42, 'ready', [], [{ kind: 'ready' }], () => 1]) rejectsWebview(raw, /not an object|unknown/);
    for (const kind of ['evil', '__proto__', 'toString', 'constructor', 'hasOwnProperty', '', 'READY', 'update']) {
      rejectsWebview({ kind }, 'unknown message kind');
    }
    rejectsWebview({ kind: 7 }, 'unknown message kind');
    rejectsWebview({ protocol: 1 }, 'unknown message kind');
  });

  it('rejects wrong types, missing and extra keys', () => {
    rejectsWebview({ kind: 'toggleNode', nodeId: '0.attn.v.17', ablated: 'yes' }, 'boolean');
    rejectsWebview({ kind: 'toggleNode', nodeId: '0.attn.v.17' }, 'missing key');
    rejectsWebview({ kind: 'setLabel', nodeId: '0.attn.v.17', label: 'x'.repeat(201) }, /./);
    rejectsWebview({ kind: 'setLabel', nodeId: '<b>', label: 'x' }, /./);
    rejectsWebview({ kind: 'toggleNode', nodeId: '0.attn.v.17', ablated: true, extra: 1 }, 'unexpected key');
    rejectsWebview({ kind: 'setMode', mode: 'resample' }, 'one of');
    rejectsWebview({ kind: 'ready', protocol: '1' });
    rejectsWebview({ kind: 'topTokensRequest', requestId: -1, nodeId: '0.attn.v.17' });
    rejectsWebview({ kind: 'topTokensRequest', requestId: 1.5, nodeId: '0.attn.v.17' });
    rejectsWebview({ kind: 'topTokensRequest', requestId: Number.NaN, nodeId: '0.attn.v.17' });
    rejectsWebview({ kind: 'revealToken', nodeId: '0.attn.v.17', range: { line: 1, character: 0 } });
    rejectsWebview({ kind: 'exportData', requestId: null, format: 'gif', data: '' });
    rejectsWebview({ kind: 'circuitOnly', nodes: ['0.attn.v.17'] }, 'unexpected key');
  });

  it('rejects markup and other junk where an id is expected', () => {
    for (const nodeId of [
      '<script>alert(1)</script>',
      '0.attn.v.17<img src=x onerror=alert(1)>',
      '0.attn.v.17 ',
      '__proto__',
      '../../etc/passwd',
      '0.attn.V.17',
      '0.attn.v.-1',
      '0.attn.v.017',
      `0.attn.v.${'9'.repeat(40)}`,
    ]) {
      rejectsWebview({ kind: 'toggleNode', nodeId, ablated: true }, 'nodeId');
    }
  });

  it('rejects oversized payloads', () => {
    rejectsWebview({ kind: 'log', level: 'info', message: 'x'.repeat(LIMITS.log + 1) }, 'longer than');
    rejectsWebview({ kind: 'exportData', requestId: null, format: 'png', data: 'data:image/png;base64,' + 'A'.repeat(LIMITS.exportPng) }, 'longer than');
    rejectsWebview({ kind: 'exportData', requestId: null, format: 'svg', data: `<svg>${' '.repeat(LIMITS.exportSvg)}</svg>` }, 'too large');
  });

  it('treats objects with throwing getters or class instances as malformed, without throwing', () => {
    const hostile = {
      kind: 'toggleNode',
      get nodeId(): string {
        throw new Error('boom');
      },
      ablated: true,
    };
    rejectsWebview(hostile, /could not be read/);
    const withKindGetter = Object.defineProperty({}, 'kind', {
      get() {
        throw new Error('boom');
      },
    });
    rejectsWebview(withKindGetter, /could not be read/);
    class Fake {
      kind = 'reset';
    }
    rejectsWebview(new Fake(), 'expected an object');
  });

  it('never throws, whatever arrives', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true }), (raw) => {
        const r = parseWebviewMessage(raw);
        assert.equal(typeof r.ok, 'boolean');
        const h = parseHostMessage(raw);
        assert.equal(typeof h.ok, 'boolean');
      }),
      { numRuns: 500 },
    );
  });

  it('never accepts a random object with a valid kind and random fields unless it is well-typed', () => {
    const kinds = Object.keys(webviewMessages);
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.dictionary(fc.string(), fc.anything()), (kind, fields) => {
        const r = parseWebviewMessage({ ...fields, kind });
        if (r.ok) assert.equal(r.message.kind, kind);
      }),
      { numRuns: 500 },
    );
  });
});

describe('host → webview messages', () => {
  it('accepts update, topTokens, exportRequest, cleared, notice and nodeExamples', () => {
    const model = sampleModel();
    const messages = [
      { kind: 'update', model, pinned: false },
      { kind: 'topTokens', requestId: 1, nodeId: '0.attn.resid_delta.40', tokens: sampleTopTokens()['0.attn.resid_delta.40'] },
      { kind: 'exportRequest', requestId: 2, format: 'svg' },
      { kind: 'cleared', message: 'The model changed to csp_yolo1, which has no circuit whose task applies here.' },
      { kind: 'notice', level: 'info', message: 'Saved' },
      { kind: 'nodeExamples', requestId: 3, nodeId: '0.attn.resid_delta.40', examples: null },
    ];
    for (const m of messages) {
      const r = parseHostMessage(m);
      assert.ok(r.ok, r.ok ? '' : r.error);
    }
    assert.deepEqual(messages.map((m) => m.kind).sort(), Object.keys(hostMessages).sort());
  });

  it('keeps markup in free text as plain data (the webview renders it as text)', () => {
    const model = sampleModel();
    const nodes = model.circuit.nodes.map((n, i) => (i === 0 ? { ...n, meaning: '<script>alert(1)</script>' } : n));
    const r = parseHostMessage({ kind: 'update', model: { ...model, circuit: { ...model.circuit, nodes } }, pinned: false });
    assert.ok(r.ok);
    if (r.ok && r.message.kind === 'update') assert.equal(r.message.model.circuit.nodes[0].meaning, '<script>alert(1)</script>');
  });

  it('rejects too many top tokens and malformed updates', () => {
    const tokens = Array.from({ length: LIMITS.topTokens + 1 }, () => ({ text: 'a', value: 1, range }));
    assert.equal(parseHostMessage({ kind: 'topTokens', requestId: 1, nodeId: '0.attn.v.17', tokens }).ok, false);
    assert.equal(parseHostMessage({ kind: 'update', model: { circuit: '<img src=x onerror=alert(1)>' }, pinned: false }).ok, false);
    assert.equal(parseHostMessage({ kind: 'update', model: sampleModel() }).ok, false);
  });
});

describe('export data checks', () => {
  it('accepts what the webview produces', () => {
    assert.doesNotThrow(() => checkExportData('svg', svgFor()));
    assert.doesNotThrow(() => checkExportData('json', '{"nodes": []}'));
    assert.doesNotThrow(() => checkExportData('png', 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='));
  });

  it('accepts an SVG whose labels contain markup-like text (escaped)', () => {
    const m = sampleModel();
    const nodes = m.circuit.nodes.map((n, i) => (i === 0 ? { ...n, label: '<script>"x" onload=1 javascript:' } : n));
    const svg = svgFor({ ...m, circuit: { ...m.circuit, nodes } });
    assert.ok(!svg.includes('<script'));
    assert.doesNotThrow(() => checkExportData('svg', svg));
  });

  it('rejects hostile SVG', () => {
    const bad = [
      '<html><svg></svg></html>',
      '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
      '<svg onload="alert(1)"></svg>',
      '<svg><rect ONCLICK="alert(1)"/></svg>',
      '<svg><foreignObject><div/></foreignObject></svg>',
      '<svg><a href="https://example.com"><text>x</text></a></svg>',
      '<svg><image href="https://example.com/x.png"/></svg>',
      '<svg><use xlink:href="file:///etc/passwd#x"/></svg>',
      '<svg><rect fill="url(https://evil/x)"/></svg>',
      '<svg><rect style="background:url(javascript:alert(1))"/></svg>',
      '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]><svg></svg>',
      '<svg><!-- hidden --></svg>',
      '<svg><text>a</text><scr ipt></svg>',
    ];
    for (const s of bad) assert.throws(() => checkExportData('svg', s), ValidationError, s);
  });

  it('rejects a PNG that is not a PNG data URL and JSON that does not parse', () => {
    for (const s of ['iVBORw0KGgo=', 'data:image/svg+xml;base64,PHN2Zz4=', 'data:image/png;base64,<script>', 'javascript:alert(1)']) {
      assert.throws(() => checkExportData('png', s), ValidationError, s);
    }
    assert.throws(() => checkExportData('json', '{"a":'));
    assert.throws(() => checkExportData('gif' as ExportFormat, 'x'));
  });
});
