// Webview harness: renders the real panel (dist/webview.js + media/panel.css, inside the exact HTML
// and CSP the extension host produces) in headless Chromium, with a stub `acquireVsCodeApi` that
// plays the host and posts the fixture PanelModel. It exercises the panel (selection, top tokens,
// ablation toggle, reveal, exports, hostile messages), fails on CSP violations or page errors,
// and takes screenshots in VS Code's Light+ and Dark+ colours.
//
//   npm run build && node test/webview-harness/run.mjs            # → out/webview-harness/
//   node test/webview-harness/run.mjs --docs                      # also copy docs/panel-{light,dark}.png
//   node test/webview-harness/run.mjs --serve                     # just serve it, for a browser
//   CIRCUIT_BUNDLE=/tmp/copy node test/webview-harness/run.mjs    # the quote circuit of another bundle folder
//
// Needs Chromium (`apt-get install -y chromium`) or CHROMIUM_PATH. Not part of the extension build.
/* global process, console, URL, Buffer, window, document, getComputedStyle -- Node script; page.evaluate callbacks run in the browser */

import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { darkPlus, lightPlus } from './themes.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const outDir = path.join(root, 'out', 'webview-harness');
const require = createRequire(import.meta.url);
const { renderPanelHtml } = require(path.join(root, 'out', 'src', 'extension', 'panel', 'html.js'));
const { checkExportData } = require(path.join(root, 'out', 'src', 'schemas', 'exportData.js'));

const args = new Set(process.argv.slice(2));
const NONCE = 'harnessNonceAAAAAAAAAAAAAAAA';

function fixture() {
  const circuit = JSON.parse(fs.readFileSync(path.join(root, 'test', 'fixtures', 'circuit-sample.json'), 'utf8'));
  const sample = JSON.parse(fs.readFileSync(path.join(root, 'test', 'fixtures', 'panel-state-sample.json'), 'utf8'));
  const quote = quoteModel(sample.model);
  // as the host does (src/extension/panel/nodeExamples.ts): the circuit goes without its nodes' examples, which the stub hands out per node
  const examples = Object.fromEntries(quote.circuit.nodes.filter((n) => n.examples).map((n) => [n.id, n.examples]));
  quote.circuit = { ...quote.circuit, nodes: quote.circuit.nodes.map(({ examples: _examples, ...n }) => n) };
  return { model: { circuit, ...sample.model }, pinned: false, topTokens: sample.topTokens, quote, examples };
}

/**
 * The shipped quote circuit (models/<first bundle>/circuits/single_double_quote.json) with
 * made-up but deterministic activations (its node means, scaled by a pattern), for the
 * readability checks: edges drawn by default, label size at the default zoom, the fixed scale.
 */
function quoteModel(base) {
  const models = path.join(root, 'models');
  const bundle = process.env.CIRCUIT_BUNDLE ?? path.join(models, fs.readdirSync(models).sort().find((d) => fs.existsSync(path.join(models, d, 'circuits', 'single_double_quote.json'))));
  const circuit = JSON.parse(fs.readFileSync(path.join(bundle, 'circuits', 'single_double_quote.json'), 'utf8'));
  const activations = Object.fromEntries(circuit.nodes.map((n, i) => [n.id, Math.round(n.mean * (((i * 7) % 11) - 4) * 1000) / 1000]));
  const words = { prediction: 'The model expects double (`")`): 93.9 % against single within the contrast; as the next token among all 62.0 %. Correct here.', change: null };
  return { ...base, circuit, activations, ablated: [], documentName: 'demo.py', readout: { ...base.readout, after: null, words } };
}

function page(origin, theme) {
  const html = renderPanelHtml({
    cspSource: origin,
    nonce: NONCE,
    scriptUri: `${origin}/dist/webview.js`,
    styleUri: `${origin}/media/panel.css`,
    title: 'Circuit',
  });
  const harness = `<script nonce="${NONCE}" src="${origin}/harness/fixture.js?theme=${encodeURIComponent(theme)}"></script>\n<script nonce="${NONCE}" src="${origin}/harness/stub.js"></script>\n`;
  const i = html.indexOf(`<script nonce="${NONCE}" src="${origin}/dist/webview.js">`);
  return html.slice(0, i) + harness + html.slice(i);
}

const themes = { light: lightPlus, dark: darkPlus };

function serve() {
  const types = { '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.map': 'application/json' };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const origin = `http://127.0.0.1:${server.address().port}`;
    const send = (status, type, body) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (url.pathname === '/favicon.ico') return send(204, 'image/x-icon', '');
    if (url.pathname === '/') return send(200, 'text/html; charset=utf-8', page(origin, url.searchParams.get('theme') ?? 'light'));
    if (url.pathname === '/harness/fixture.js') {
      const theme = themes[url.searchParams.get('theme') ?? 'light'] ?? lightPlus;
      const body = `/* generated */
document.body.classList.add(${JSON.stringify(theme.bodyClass)});
document.body.setAttribute('data-vscode-theme-kind', ${JSON.stringify(theme.bodyClass)});
// VS Code's webview body is transparent over the editor background; the harness paints that background.
document.documentElement.style.setProperty('background-color', 'var(--vscode-editor-background)');
for (const [k, v] of Object.entries(${JSON.stringify(theme.vars)})) document.documentElement.style.setProperty(k, v);
window.__harnessFixture = ${JSON.stringify(fixture())};`;
      return send(200, 'text/javascript', body);
    }
    const map = { '/dist/': 'dist', '/media/': 'media', '/harness/': path.join('test', 'webview-harness') };
    for (const [prefix, dir] of Object.entries(map)) {
      if (url.pathname.startsWith(prefix)) {
        const file = path.join(root, dir, path.normalize(url.pathname.slice(prefix.length)).replace(/^(\.\.[/\\])+/, ''));
        if (!file.startsWith(path.join(root, dir)) || !fs.existsSync(file)) return send(404, 'text/plain', 'not found');
        return send(200, types[path.extname(file)] ?? 'application/octet-stream', fs.readFileSync(file));
      }
    }
    return send(404, 'text/plain', 'not found');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const failures = [];
function expect(cond, message) {
  if (!cond) failures.push(message);
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${message}`);
}

async function run() {
  fs.mkdirSync(outDir, { recursive: true });
  const server = await serve();
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  try {
    for (const name of ['light', 'dark']) {
      const context = await browser.newContext({ viewport: { width: 1180, height: 760 }, deviceScaleFactor: 2, colorScheme: name });
      const { p, problems } = await openPanel(context, origin, name);
      const posted = () => p.evaluate(() => window.__posted.map((m) => ({ ...m, data: m.data ? `${m.data.length} chars` : undefined })));
      expect((await posted())[0]?.kind === 'ready', `${name}: webview posts ready first`);
      expect((await p.textContent('.node-title'))?.includes('quote type'), `${name}: details pane shows the default key node`);
      expect((await p.textContent('.readout'))?.includes('81%'), `${name}: readout shows faithfulness`);
      await p.screenshot({ path: path.join(outDir, `panel-${name}.png`) });
      await checkExports(p, name);
      await checkHostile(p, name, posted);
      await checkActions(p, name, posted);
      const csp = await p.evaluate(() => window.__csp);
      expect(csp.length === 0, `${name}: no CSP violations ${csp.length ? JSON.stringify(csp) : ''}`);
      expect(problems.length === 0, `${name}: no page errors or console warnings ${problems.length ? JSON.stringify(problems) : ''}`);

      // Narrow layout (side bar width), for review.
      await p.setViewportSize({ width: 380, height: 900 });
      await p.evaluate(() => window.__hostPost({ kind: 'update', model: window.__harnessFixture.model, pinned: true }));
      await p.waitForTimeout(400);
      await p.screenshot({ path: path.join(outDir, `panel-narrow-${name}.png`), fullPage: true });
      await checkQuoteCircuit(p, name);
      await context.close();
    }
  } finally {
    await browser.close();
    server.close();
  }
  if (args.has('--docs')) {
    for (const name of ['light', 'dark']) {
      fs.copyFileSync(path.join(outDir, `panel-${name}.png`), path.join(root, 'docs', `panel-${name}.png`));
      fs.copyFileSync(path.join(outDir, `panel-quote-${name}.png`), path.join(root, 'docs', `panel-quote-${name}.png`));
      const examples = path.join(outDir, `panel-examples-${name}.png`);
      if (fs.existsSync(examples)) fs.copyFileSync(examples, path.join(root, 'docs', `panel-examples-${name}.png`));
    }
    console.log('copied screenshots to docs/');
  }
  console.log(failures.length ? `\n${failures.length} check(s) failed` : `\nall checks passed; output in ${path.relative(root, outDir)}`);
  process.exitCode = failures.length ? 1 : 0;
}

/** The panel page in theme `name`, loaded with its graph and top tokens; page errors, console warnings and CSP violations recorded. */
async function openPanel(context, origin, name) {
  const p = await context.newPage();
  const problems = [];
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  p.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
  });
  await p.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await p.goto(`${origin}/?theme=${name}`);
  await p.waitForSelector('.app.has-model canvas');
  await p.waitForSelector('.top-tokens .token-link');
  await p.evaluate(() => document.fonts.ready);
  await p.waitForTimeout(400);
  return { p, problems };
}

/** Exports asked for by the host, with request ids: each passes the host's checks and is written to outDir. */
async function checkExports(p, name) {
  for (const [i, format] of ['svg', 'png', 'json'].entries()) {
    const requestId = 100 + i;
    await p.evaluate(([id, f]) => window.__hostPost({ kind: 'exportRequest', requestId: id, format: f }), [requestId, format]);
    await p.waitForFunction((id) => window.__posted.some((m) => m.kind === 'exportData' && m.requestId === id), requestId);
    const data = await p.evaluate((id) => window.__posted.find((m) => m.kind === 'exportData' && m.requestId === id).data, requestId);
    let valid = true;
    try {
      checkExportData(format, data);
    } catch (e) {
      valid = false;
      console.log(`   ${e.message}`);
    }
    expect(valid, `${name}: ${format} export passes the host's checks`);
    const file = path.join(outDir, `export-${name}.${format}`);
    if (format === 'png') fs.writeFileSync(file, Buffer.from(data.slice(data.indexOf(',') + 1), 'base64'));
    else fs.writeFileSync(file, data);
  }
}

/** Hostile or malformed host messages are ignored (and logged back); script in free text stays text. */
async function checkHostile(p, name, posted) {
  const before = await p.textContent('.readout');
  await p.evaluate(() => {
    window.__hostPost({ kind: 'update', model: { circuit: '<img src=x onerror=alert(1)>' }, pinned: false });
    window.__hostPost({ kind: 'evil', payload: 1 });
    window.__hostPost('<script>alert(1)</script>');
    window.__hostPost({ kind: 'topTokens', requestId: 1, nodeId: '<script>', tokens: [] });
  });
  await p.waitForTimeout(100);
  const logs = (await posted()).filter((m) => m.kind === 'log');
  expect(logs.length >= 4, `${name}: 4 malformed messages rejected and logged (${logs.length})`);
  expect((await p.textContent('.readout')) === before, `${name}: rejected messages had no effect`);

  await p.evaluate(() => {
    const f = window.__harnessFixture;
    const circuit = { ...f.model.circuit, nodes: f.model.circuit.nodes.map((n, i) => (i === 4 ? { ...n, meaning: '<img src=x onerror="window.__pwned=1">' } : n)) };
    window.__hostPost({ kind: 'update', model: { ...f.model, circuit }, pinned: false });
  });
  await p.waitForTimeout(100);
  expect((await p.textContent('.node-meaning'))?.startsWith('<img'), `${name}: markup in a meaning is shown as text`);
  expect(!(await p.evaluate(() => window.__pwned)), `${name}: markup in a meaning does not execute`);
}

/**
 * The shipped quote circuit in a panel beside the editor (520 × 860, as in a 1400 px window): the default edge threshold
 * draws fewer than all edges, the whole graph fits with node labels ≥ 8 px, the colour scale stays when the
 * same circuit comes back with other activations, and the output node is there.
 */
async function checkQuoteCircuit(p, name) {
  await p.setViewportSize({ width: 520, height: 860 });
  await p.evaluate(() => window.__hostPost({ kind: 'update', model: window.__harnessFixture.quote, pinned: false }));
  await p.waitForTimeout(500);
  const count = await p.textContent('.edge-count');
  const labelPx = Number(await p.getAttribute('.graph', 'data-label-px'));
  const scale = await p.textContent('.legend-scale');
  console.log(`   ${name}: quote circuit: ${count}; node labels drawn at ${labelPx} px; scale ${scale}`);
  const [shown, total] = (count ?? '').match(/\d+/g)?.map(Number) ?? [];
  const edges = await p.evaluate(() => window.__harnessFixture.quote.circuit.edges.length);
  expect(total === edges && shown < total, `${name}: the quote circuit draws the strongest edges by default (${count} of the file's ${edges})`);
  // graph.ts fits the whole graph while its labels stay ≥ SMALLEST_FIT_PX (8) and otherwise zooms to READABLE_PX (10)
  // at the top-left; the shipped quote circuit (55 nodes) fits whole at this size
  expect((await p.getAttribute('.graph', 'data-view')) === 'whole', `${name}: the first layout fits the whole graph in the panel`);
  expect(labelPx >= 8, `${name}: node labels of the whole graph are ≥ 8 px (${labelPx})`);
  // the readout is below the graph here: its prediction in words is said on screen, under the title
  const said = await p.evaluate(() => {
    const words = document.querySelector('.header-words');
    const box = words?.getBoundingClientRect();
    return { text: words?.textContent ?? '', onScreen: !!box && box.height > 0 && box.bottom <= window.innerHeight };
  });
  const expected = await p.evaluate(() => window.__harnessFixture.quote.readout.words.prediction);
  expect(said.onScreen && said.text === expected, `${name}: the prediction in words is on screen without scrolling (${JSON.stringify(said)})`);
  // the legend's notes are small text: at least 4.5:1 against the panel (WCAG AA)
  const ratio = await p.evaluate(() => {
    const rgb = (c) => (c.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
    const lum = ([r, g, b]) => [r, g, b].map((v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)).reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
    const fg = lum(rgb(getComputedStyle(document.querySelector('.edge-count')).color));
    // the first opaque background behind the legend (the page's, from the theme, when none is)
    let el = document.querySelector('.legend');
    let back = '';
    for (; el && !back; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if (!/rgba\(.*, 0\)$|transparent/.test(c)) back = c;
    }
    const bg = lum(rgb(back || getComputedStyle(document.documentElement).getPropertyValue('--vscode-editor-background').replace(/^#(..)(..)(..)$/, (_, r, g, b) => `${parseInt(r, 16)},${parseInt(g, 16)},${parseInt(b, 16)}`)));
    return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
  });
  expect(ratio >= 4.5, `${name}: the legend's notes have contrast ${ratio.toFixed(2)}:1 against the panel (≥ 4.5)`);
  await p.screenshot({ path: path.join(outDir, `panel-quote-${name}.png`) });
  await p.evaluate(() => {
    const q = window.__harnessFixture.quote;
    const activations = Object.fromEntries(Object.entries(q.activations).map(([k, v]) => [k, v * 6]));
    window.__hostPost({ kind: 'update', model: { ...q, activations }, pinned: false });
  });
  await p.waitForTimeout(300);
  expect((await p.textContent('.legend-scale')) === scale, `${name}: the colour scale stays fixed for the circuit when its activations change`);
  await p.evaluate(() => window.__hostPost({ kind: 'update', model: window.__harnessFixture.quote, pinned: false }));
  await checkNodeExamples(p, name);
}

/** The node details show the selected node's validation-corpus examples when the circuit file has them (training/node_examples.py). */
async function checkNodeExamples(p, name) {
  const id = await p.evaluate(() => document.querySelector('.node-id code')?.textContent);
  const stored = await p.evaluate((nodeId) => {
    const ex = window.__harnessFixture.examples[nodeId];
    return ex ? ex.top.length + ex.quantiles.length : 0;
  }, id);
  await p.waitForTimeout(200);
  const asked = await p.evaluate((nodeId) => window.__posted.some((m) => m.kind === 'nodeExamplesRequest' && m.nodeId === nodeId), id);
  expect(asked, `${name}: the details of ${id} ask the host for its examples`);
  const shown = await p.locator('.node-examples:not([hidden]) .example').count();
  expect(shown === stored, `${name}: node details of ${id} show its ${stored} stored validation-corpus examples (${shown})`);
  if (!stored) return fs.rmSync(path.join(outDir, `panel-examples-${name}.png`), { force: true }); // no stale screenshot for --docs
  const marked = await p.locator('.node-examples .example-token').count();
  expect(marked === stored, `${name}: each example highlights its token (${marked})`);
  await p.setViewportSize({ width: 1180, height: 1400 });
  await p.waitForTimeout(300);
  await p.screenshot({ path: path.join(outDir, `panel-quote-wide-${name}.png`) });
  await p.locator('.node-examples').screenshot({ path: path.join(outDir, `panel-examples-${name}.png`) });
}

/** User actions post typed messages. */
async function checkActions(p, name, posted) {
  await p.click('.top-tokens .token-link');
  await p.click('.ablate-toggle');
  await p.click('.label-field');
  await p.keyboard.press('ControlOrMeta+A');
  await p.keyboard.type('my name for it');
  await p.keyboard.press('Enter');
  await p.waitForTimeout(100);
  const kinds = (await posted()).map((m) => m.kind);
  const label = (await posted()).find((m) => m.kind === 'setLabel');
  expect(label?.label === 'my name for it' && typeof label.nodeId === 'string', `${name}: typing a label and Enter posts setLabel with the text`);
  expect(kinds.includes('revealToken'), `${name}: clicking a top token posts revealToken`);
  expect(kinds.includes('toggleNode'), `${name}: the ablation checkbox posts toggleNode`);
  expect(kinds.includes('topTokensRequest'), `${name}: details request top tokens with an id`);
}

if (args.has('--serve')) {
  const server = await serve();
  console.log(`serving the harness at http://127.0.0.1:${server.address().port}/?theme=light (or ?theme=dark); Ctrl-C to stop`);
} else {
  await run();
}
