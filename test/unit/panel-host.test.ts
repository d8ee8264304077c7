// The panel host (src/extension/panel) against a fake `vscode` and fake webviews: handshake,
// validation on receipt, ablation requests, pin, request/response ids, exports.

import './fake-vscode'; // must come first: installs the fake `vscode` module
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeEach, describe, it } from 'node:test';
import * as fc from 'fast-check';
import type * as vscode from 'vscode';
import { CircuitPanelController, GRAPH_NEEDS_PX, type NodeLabelRequest, OPEN_BESIDE_COMMAND, registerCircuitPanel } from '../../src/extension/panel/circuitPanel';
import type { AblationMessage, HostMessage } from '../../src/schemas/messages';
import { LIMITS, parseWebviewMessage, PROTOCOL_VERSION } from '../../src/schemas/messages';
import { fake, FakeUri, type FakeWebview, FakeWebviewView } from './fake-vscode';
import { sampleModel, sampleTopTokens, shippedQuoteCircuit } from './fixtures';
import { tempDir } from './tempDirs';

const extensionUri = FakeUri.file('/ext') as unknown as vscode.Uri;

function setup(options: ConstructorParameters<typeof CircuitPanelController>[1] = {}): {
  controller: CircuitPanelController;
  view: FakeWebviewView;
  actions: AblationMessage[];
  logs: string[];
  posted: () => HostMessage[];
} {
  const logs: string[] = [];
  const controller = new CircuitPanelController(extensionUri, { log: (m) => logs.push(m), ...options });
  const view = new FakeWebviewView();
  controller.resolveWebviewView(view as unknown as vscode.WebviewView);
  const actions: AblationMessage[] = [];
  controller.onDidRequestAblation((a) => actions.push(a));
  return { controller, view, actions, logs, posted: () => view.webview.posted as HostMessage[] };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

/** Plays a webview that loads while `done` (an exportTo) waits: handshake, then the answer to its export request. */
async function loadAndAnswerExport(webview: FakeWebview, done: Promise<void>, format: 'json' | 'svg' = 'json', data = '{"nodes":[]}'): Promise<void> {
  webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
  await tick();
  const request = (webview.posted as HostMessage[]).find((m) => m.kind === 'exportRequest');
  assert.ok(request && request.kind === 'exportRequest' && request.format === format);
  webview.send({ kind: 'exportData', requestId: request.requestId, format, data });
  await done;
}

describe('panel host', () => {
  beforeEach(() => fake.reset());

  it('limits resources to dist/ and media/ and serves a nonce CSP page', () => {
    const { view } = setup();
    const options = view.webview.options as { enableScripts: boolean; localResourceRoots: FakeUri[] };
    assert.equal(options.enableScripts, true);
    assert.deepEqual(
      options.localResourceRoots.map((u) => u.fsPath),
      ['/ext/dist', '/ext/media'],
    );
    // The CSP sits in an attribute, so its quotes are HTML-escaped (&#39;).
    const nonce = /script-src &#39;nonce-([A-Za-z0-9_-]+)&#39;/.exec(view.webview.html)?.[1];
    assert.ok(nonce);
    assert.ok(view.webview.html.includes(`<script nonce="${nonce}" src="https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview.js">`));
    assert.ok(!view.webview.html.includes('unsafe-inline'));
  });

  it('posts nothing before the ready handshake, then the current model', () => {
    const { controller, view, posted } = setup();
    controller.update(sampleModel());
    assert.equal(posted().length, 0);
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    assert.equal(posted().length, 1);
    const m = posted()[0];
    assert.equal(m.kind, 'update');
    if (m.kind === 'update') assert.equal(m.model.circuit.task, 'single_double_quote');
    // A reload (hide/show) sends ready again and gets the model again.
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    assert.equal(posted().length, 2);
  });

  it('ignores messages before ready, malformed messages and other protocol versions', () => {
    const { controller, view, actions, logs } = setup();
    controller.update(sampleModel());
    view.webview.send({ kind: 'reset' });
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION + 1 });
    view.webview.send({ kind: 'reset' });
    assert.equal(actions.length, 0);
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    for (const bad of [
      { kind: 'toggleNode', nodeId: '<script>alert(1)</script>', ablated: true },
      { kind: 'toggleNode', nodeId: '0.attn.v.17', ablated: true, extra: 1 },
      { kind: 'nope' },
      'reset',
      null,
      { kind: 'exportData', requestId: null, format: 'svg', data: '<svg onload="alert(1)"></svg>' },
    ]) {
      view.webview.send(bad);
    }
    assert.equal(actions.length, 0);
    assert.ok(logs.length >= 8, logs.join('\n'));
  });

  it('rejects 200 generated malformed or hostile messages without any effect', async () => {
    const { controller, view, actions, logs, posted } = setup({ topTokens: () => assert.fail('no hostile message may reach the top-token source') });
    controller.update(sampleModel());
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    const dir = tempDir('circuit-hostile-');
    fake.saveDialogAnswer = FakeUri.file(path.join(dir, 'export.svg')); // a save that a hostile export would reach
    const before = { model: controller.model, json: JSON.stringify(controller.model), posted: posted().length, pinned: controller.pinned };
    const script = fc.constantFrom('<script>alert(1)</script>', '<img src=x onerror=alert(1)>', 'javascript:alert(1)', '"><svg onload=alert(1)>', '${process.exit()}', '__proto__');
    const big = fc.constantFrom('x'.repeat(LIMITS.log + 1), '<'.repeat(LIMITS.exportSvg + 1), 'A'.repeat(LIMITS.exportPng + 1));
    const junk = fc.oneof(script, big, fc.anything(), fc.constant(undefined), fc.constant(Number.NaN), fc.constant(-1), fc.constant(2 ** 64));
    const withKind = (kind: fc.Arbitrary<unknown>, fields: Record<string, fc.Arbitrary<unknown>>) => fc.record({ kind, ...fields }, { requiredKeys: [] });
    const hostile: fc.Arbitrary<unknown> = fc.oneof(
      // unknown kinds, including prototype names and markup
      withKind(fc.oneof(script, fc.constantFrom('evil', 'toString', 'constructor', 'update', 'READY'), fc.string()), { nodeId: junk }),
      // known kinds with wrong types, markup in ids, out-of-range numbers or oversized payloads
      withKind(fc.constant('toggleNode'), { nodeId: fc.oneof(script, fc.string(), junk), ablated: junk }),
      withKind(fc.constant('setMode'), { mode: fc.oneof(script, junk) }),
      withKind(fc.constant('revealToken'), { nodeId: script, range: fc.record({ line: junk, character: junk, endLine: junk, endCharacter: junk }) }),
      withKind(fc.constant('topTokensRequest'), { requestId: junk, nodeId: fc.oneof(script, big) }),
      withKind(fc.constant('exportData'), { requestId: fc.constant(null), format: fc.constantFrom('svg', 'json', 'png'), data: fc.oneof(script, big, fc.constantFrom('<svg><script>alert(1)</script></svg>', '<svg onload="alert(1)"/>', 'data:text/html;base64,PHNjcmlwdD4=', '{"a":')) }),
      withKind(fc.constant('setPinned'), { pinned: junk }),
      withKind(fc.constant('log'), { level: fc.constantFrom('debug', 'fatal', '<b>'), message: fc.oneof(script, big) }),
      // extra keys on an otherwise valid message, and things that are not message objects at all
      fc.record({ kind: fc.constant('reset'), ['__proto__']: fc.constant({ polluted: true }), extra: junk }),
      fc.constantFrom(null, undefined, 'reset', 42, [{ kind: 'reset' }], new Uint8Array(8)),
    );
    const messages = fc.sample(hostile, { seed: 8, numRuns: 200 });
    let rejected = 0;
    for (const m of messages) {
      if (parseWebviewMessage(m).ok) continue; // fc.anything() may stumble on a well-formed one; only rejected ones count
      rejected++;
      view.webview.send(m);
    }
    for (let i = 0; i < 5; i++) await tick();
    assert.ok(rejected >= 190, `${rejected} of 200 generated messages are malformed`);
    assert.deepEqual(actions, [], 'no action reached the extension');
    assert.equal(posted().length, before.posted, 'nothing was posted back');
    assert.equal(controller.model, before.model, 'the panel model is the same object…');
    assert.equal(JSON.stringify(controller.model), before.json, '…with the same content');
    assert.equal(controller.pinned, before.pinned);
    assert.deepEqual(fs.readdirSync(dir), [], 'nothing was written');
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched');
    assert.equal(logs.length, rejected, 'each rejection is logged once');
    for (const l of logs) assert.ok(l.length < 500, `one short log line, not the payload: ${l.slice(0, 200)}`);
  });

  it('passes ablation requests on as the webview sent them, dropping toggles of nodes outside the circuit', async () => {
    const { controller, view, actions } = setup();
    controller.update(sampleModel());
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    view.webview.send({ kind: 'toggleNode', nodeId: '1.attn.v.9', ablated: true });
    view.webview.send({ kind: 'toggleNode', nodeId: '1.attn.q.3', ablated: true });
    view.webview.send({ kind: 'setMode', mode: 'zero' });
    view.webview.send({ kind: 'circuitOnly' });
    view.webview.send({ kind: 'reset' });
    await tick();
    assert.deepEqual(actions, [{ kind: 'toggleNode', nodeId: '1.attn.v.9', ablated: true }, { kind: 'setMode', mode: 'zero' }, { kind: 'circuitOnly' }, { kind: 'reset' }]);
  });

  it('passes a typed node label on with the circuit\'s task, dropping labels of nodes outside the circuit', async () => {
    const { controller, view, logs } = setup();
    const labels: NodeLabelRequest[] = [];
    controller.onDidRequestLabel((l) => labels.push(l));
    controller.update(sampleModel());
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    view.webview.send({ kind: 'setLabel', nodeId: '1.attn.v.9', label: 'reads the opening quote' });
    view.webview.send({ kind: 'setLabel', nodeId: '1.attn.q.3', label: 'not in the circuit' });
    await tick();
    assert.deepEqual(labels, [{ task: sampleModel().circuit.task, nodeId: '1.attn.v.9', label: 'reads the opening quote' }]);
    assert.ok(logs.some((l) => l.includes('label for unknown node 1.attn.q.3')));
  });

  it('passes a circuit choice on only when the shown model offers that circuit', async () => {
    const { controller, view, logs } = setup();
    const chosen: string[] = [];
    controller.onDidChooseCircuit((task) => chosen.push(task));
    const m = sampleModel();
    controller.update({ ...m, choices: [{ task: m.circuit.task, title: m.circuit.title, nodes: m.circuit.nodes.length }, { task: 'single_double_quote_paper', title: 'core', nodes: 18 }] });
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    view.webview.send({ kind: 'chooseCircuit', task: 'single_double_quote_paper' });
    view.webview.send({ kind: 'chooseCircuit', task: 'if_equals' });
    await tick();
    assert.deepEqual(chosen, ['single_double_quote_paper']);
    assert.ok(logs.some((l) => l.includes('if_equals is not a circuit of this token')));
  });

  it('pins: cursor updates are dropped while pinned, action updates are not', async () => {
    const { controller, view, actions, posted } = setup();
    controller.update(sampleModel());
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    view.webview.send({ kind: 'setPinned', pinned: true });
    await tick();
    assert.deepEqual(actions, [], 'pinning is the panel\'s own business');
    assert.equal(controller.pinned, true);
    const n = posted().length;
    assert.equal(controller.update({ ...sampleModel(), documentVersion: 9 }, { origin: 'cursor' }), false);
    assert.equal(posted().length, n);
    assert.equal(controller.update({ ...sampleModel(), busy: true }, { origin: 'action' }), true);
    const last = posted()[posted().length - 1];
    assert.equal(last.kind === 'update' && last.pinned && last.model.busy, true);
  });

  it('refuses a malformed model, logging the field, and keeps the last good one', () => {
    const { controller, logs } = setup();
    controller.update(sampleModel());
    const shown = controller.model;
    assert.equal(controller.update({ ...sampleModel(), ablated: ['9.attn.v.1'] }), false);
    assert.match(logs.at(-1) ?? '', /invalid PanelModel: ablated/);
    assert.equal(controller.update({ ...sampleModel(), activations: { '0.attn.v.17': Number.NaN } }), false);
    assert.match(logs.at(-1) ?? '', /activations/);
    assert.equal(controller.model, shown);
  });

  it('answers top-token requests with the same request id', async () => {
    const { controller, view, posted } = setup({ topTokens: (id) => sampleTopTokens()[id] ?? [] });
    controller.update(sampleModel());
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    view.webview.send({ kind: 'topTokensRequest', requestId: 41, nodeId: '0.attn.resid_delta.40' });
    view.webview.send({ kind: 'topTokensRequest', requestId: 42, nodeId: '1.attn.v.9' });
    await tick();
    const answers = posted().filter((m) => m.kind === 'topTokens');
    assert.deepEqual(
      answers.map((m) => m.kind === 'topTokens' && [m.requestId, m.nodeId, m.tokens.length]),
      [
        [41, '0.attn.resid_delta.40', 5],
        [42, '1.attn.v.9', 0],
      ],
    );
  });

  it('sends the circuit without its nodes\' examples and answers a node\'s examples on request', async () => {
    const { controller, view, posted } = setup();
    const circuit = shippedQuoteCircuit();
    const withExamples = circuit.nodes.find((n) => n.examples);
    assert.ok(withExamples?.examples, 'the shipped quote circuit carries node examples (training/node_examples.py)');
    assert.ok(controller.update({ ...sampleModel(), circuit, activations: {}, ablated: [], readout: null }));
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    view.webview.send({ kind: 'nodeExamplesRequest', requestId: 7, nodeId: withExamples.id });
    view.webview.send({ kind: 'nodeExamplesRequest', requestId: 8, nodeId: '9.attn.v.1' });
    await tick();
    const update = posted().find((m) => m.kind === 'update');
    assert.ok(update?.kind === 'update');
    assert.equal(update.model.circuit.nodes.length, circuit.nodes.length);
    assert.ok(update.model.circuit.nodes.every((n) => n.examples === undefined), 'no examples in the update');
    assert.ok(JSON.stringify(update).length < JSON.stringify(circuit).length / 2, 'the update is much smaller than the circuit file');
    assert.ok(circuit.nodes.some((n) => n.examples), 'the caller\'s circuit is left as it was');
    const answers = posted().filter((m) => m.kind === 'nodeExamples');
    assert.deepEqual(
      answers.map((m) => m.kind === 'nodeExamples' && [m.requestId, m.nodeId, m.examples]),
      [
        [7, withExamples.id, withExamples.examples],
        [8, '9.attn.v.1', null],
      ],
    );
  });

  it('reveals a top token in the analysed document', async () => {
    const { controller, view, actions } = setup();
    controller.update(sampleModel(), { document: FakeUri.file('/work/quotes_demo.py') as unknown as vscode.Uri });
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    const range = { line: 6, character: 16, endLine: 6, endCharacter: 22 };
    view.webview.send({ kind: 'revealToken', nodeId: '0.attn.resid_delta.40', range });
    await tick();
    await tick();
    assert.equal(fake.shown.length, 1);
    assert.equal(fake.shown[0].uri, 'file:///work/quotes_demo.py');
    assert.deepEqual(actions, []);
  });

  it('exportTo asks the webview by request id and writes the answer, ignoring unsolicited answers', async () => {
    const { controller, view, logs } = setup();
    controller.update(sampleModel());
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    const dir = tempDir('circuit-export-');
    const target = FakeUri.file(path.join(dir, 'graph.json'));
    const done = controller.exportTo('json', target as unknown as vscode.Uri);
    await tick();
    const request = (view.webview.posted as HostMessage[]).find((m) => m.kind === 'exportRequest');
    assert.ok(request && request.kind === 'exportRequest' && request.format === 'json');
    view.webview.send({ kind: 'exportData', requestId: request.requestId + 100, format: 'json', data: '{"wrong":true}' });
    view.webview.send({ kind: 'exportData', requestId: request.requestId, format: 'svg', data: '<svg></svg>' });
    view.webview.send({ kind: 'exportData', requestId: request.requestId, format: 'json', data: '{"nodes":[]}' });
    await done;
    assert.equal(fs.readFileSync(target.fsPath, 'utf8'), '{"nodes":[]}');
    assert.equal(logs.filter((l) => l.includes('nobody asked for')).length, 2, 'the wrong id and the wrong format are both ignored');
  });

  it('exportTo waits for a side-bar view that is on screen and still loading, instead of opening a second webview', async () => {
    const { controller, view } = setup();
    controller.update(sampleModel());
    const target = FakeUri.file(path.join(tempDir('circuit-export-'), 'graph.json'));
    const done = controller.exportTo('json', target as unknown as vscode.Uri);
    await tick();
    assert.equal(fake.panels.length, 0, 'no panel beside the editor while the view loads');
    await loadAndAnswerExport(view.webview, done);
    assert.equal(fs.readFileSync(target.fsPath, 'utf8'), '{"nodes":[]}');
  });

  it('exportTo opens the panel beside the editor when a loading side-bar view stays silent past its grace', async () => {
    const { controller } = setup({ viewGraceMs: 20 });
    controller.update(sampleModel());
    const done = controller.exportTo('json', FakeUri.file(path.join(tempDir('circuit-export-'), 'g.json')) as unknown as vscode.Uri);
    await tick();
    assert.equal(fake.panels.length, 0, 'the view gets its grace first');
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(fake.panels.length, 1);
    await loadAndAnswerExport(fake.panels[0].webview, done);
  });

  it('exportTo from the panel opens it beside the editor and waits for its own handshake, not the view\'s', async () => {
    const { controller, view } = setup();
    controller.update(sampleModel());
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    const target = FakeUri.file(path.join(tempDir('circuit-export-'), 'graph.svg'));
    const done = controller.exportTo('svg', target as unknown as vscode.Uri, 'panel');
    await tick();
    assert.equal(fake.panels.length, 1);
    assert.ok(!(view.webview.posted as HostMessage[]).some((m) => m.kind === 'exportRequest'), 'the ready view is not asked');
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION }); // the view reloading does not satisfy the wait
    await loadAndAnswerExport(fake.panels[0].webview, done, 'svg', '<svg xmlns="http://www.w3.org/2000/svg"></svg>');
    assert.match(fs.readFileSync(target.fsPath, 'utf8'), /^<svg/);
  });

  it('exportTo opens the panel beside the editor when the side-bar view is hidden', async () => {
    const { controller, view } = setup();
    controller.update(sampleModel());
    view.visible = false;
    const done = controller.exportTo('json', FakeUri.file(path.join(tempDir('circuit-export-'), 'g.json')) as unknown as vscode.Uri);
    await tick();
    assert.equal(fake.panels.length, 1);
    await loadAndAnswerExport(fake.panels[0].webview, done);
  });

  it('show() opens the side-bar view only when its measured width fits the graph, until the user chooses', async () => {
    const stored = new Map<string, unknown>();
    const memento = { get: <T>(key: string) => stored.get(key) as T, update: async (key: string, value: unknown) => void stored.set(key, value) };
    const { controller, view } = setup({ placement: memento });
    controller.update(sampleModel());
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    assert.equal(controller.placement, 'beside', 'never measured: beside the editor');
    view.webview.send({ kind: 'viewport', width: GRAPH_NEEDS_PX - 1 });
    await tick();
    assert.equal(controller.viewWidth, GRAPH_NEEDS_PX - 1);
    assert.equal(controller.placement, 'beside', 'a side bar narrower than the graph');
    view.webview.send({ kind: 'viewport', width: GRAPH_NEEDS_PX });
    view.webview.send({ kind: 'viewport', width: 0 }); // a collapsed page measures nothing
    await tick();
    assert.equal(controller.placement, 'view', 'a side bar the user widened');
    view.visible = false;
    await controller.show();
    assert.equal(view.visible, true, 'the view is shown');
    assert.equal(fake.panels.length, 0, 'no panel beside the editor');
    // the beside panel's own width says nothing about the side bar
    controller.openBeside();
    fake.panels[0].webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    fake.panels[0].webview.send({ kind: 'viewport', width: 200 });
    await tick();
    assert.equal(controller.viewWidth, GRAPH_NEEDS_PX);
    // "Open beside" is a choice that outlasts the measurement
    controller.chooseBeside();
    assert.equal(controller.placement, 'beside');
  });

  it('saves a user-initiated PNG export where the save dialog says', async () => {
    const { controller, view, posted } = setup();
    controller.update(sampleModel());
    view.webview.send({ kind: 'ready', protocol: PROTOCOL_VERSION });
    const dir = tempDir('circuit-export-');
    fake.saveDialogAnswer = FakeUri.file(path.join(dir, 'graph.png'));
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    view.webview.send({ kind: 'exportData', requestId: null, format: 'png', data: `data:image/png;base64,${png.toString('base64')}` });
    for (let i = 0; i < 5; i++) await tick();
    assert.deepEqual(fs.readFileSync(path.join(dir, 'graph.png')), png);
    assert.ok(posted().some((m) => m.kind === 'notice' && m.message === 'Saved graph.png'));
  });

  it('registers the open-beside command, which opens one panel beside the editor', () => {
    const subscriptions: { dispose(): void }[] = [];
    const controller = registerCircuitPanel({ extensionUri, subscriptions } as unknown as vscode.ExtensionContext);
    fake.commands.get(OPEN_BESIDE_COMMAND)!();
    fake.commands.get(OPEN_BESIDE_COMMAND)!();
    assert.equal(fake.panels.length, 1);
    assert.equal(fake.panels[0].viewType, 'circuitInspector.circuitPanel');
    controller.update(sampleModel());
    assert.equal(fake.panels[0].title, 'Circuit: Quote closing');
    for (const s of subscriptions) s.dispose();
  });
});
