// Circuit panel webview entry point: builds the page, talks to the host through the typed protocol
// (src/schemas/messages.ts), and keeps its state across hide/show with getState/setState.

import { errorMessage } from '../core/errors';
import type { AblationMode, ExportFormat, HostMessage, PanelModel, WebviewMessage } from '../schemas/messages';
import { nodeExamplesRequest, parseHostMessage, PROTOCOL_VERSION, topTokensRequest } from '../schemas/messages';
import { Requests } from '../schemas/request';
import { toHex, divergingColor } from './colors';
import { badge, button, checkbox, dropdown, progressRing, registerControls } from './controls';
import { createDetails } from './details';
import { el } from './dom';
import { graphToJson } from './export-json';
import { graphToSvg } from './export-svg';
import { formatPosition, formatValue, visibleToken } from './format';
import { createGraph } from './graph';
import { createReadout } from './readout';
import * as S from './state';
import { themeFromCss, type Theme } from './theme';
import { bestWrap } from './fitWrap';
import { widestRow, wrapForViewport } from './layout';
import { buildVisualGraph, DEFAULT_EDGE_SHARE, GRAPH_MARGIN_X, GRAPH_MARGIN_Y, layoutFor, outputLayoutNode, type VisualGraph } from './visual';

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): unknown;
  setState(state: S.PersistedState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

registerControls();
const api = acquireVsCodeApi();
let state: S.ViewState = S.restoreState(api.getState());
let theme: Theme = readTheme();
let visual: VisualGraph | null = null;

function post(message: WebviewMessage): void {
  api.postMessage(message);
}
const requests = new Requests<WebviewMessage>(post);

function save(): void {
  api.setState(S.persist(state));
}

// ---------------------------------------------------------------------------------------------
// Page skeleton.

const app = document.getElementById('app') ?? document.body.appendChild(el('div'));
app.replaceChildren();
app.classList.add('app');

const header = el('header', 'toolbar');
const titleBlock = el('div', 'title-block');
const title = el('h1', 'title', 'Circuit');
const subtitle = el('div', 'subtitle');
// the prediction in words where the readout is below the graph (a narrow panel: media/panel.css shows it there only)
const headerWords = el('p', 'header-words');
headerWords.setAttribute('aria-hidden', 'true'); // the readout says the same to a screen reader
titleBlock.append(title, subtitle, headerWords);
const busy = progressRing();
busy.classList.add('busy');

// the circuits whose tasks apply at the cursor's token (a task's circuit and its core in the paper's form): shown only where there is a choice
const circuitSelect = dropdown<string>([], { title: 'Which circuit to show at this token: every circuit whose task applies here' }, (task) => post({ kind: 'chooseCircuit', task }));
const circuitGroup = el('div', 'group');
circuitGroup.append(circuitSelect.element);

const modeSelect = dropdown<AblationMode>(
  [
    { value: 'mean', label: 'Mean ablation' },
    { value: 'zero', label: 'Zero ablation' },
  ],
  { title: 'Ablation mode: replace an ablated node by its mean over validation text, or by zero' },
  (mode) => post({ kind: 'setMode', mode }),
);
const circuitOnlyButton = button('Circuit only', { title: 'Ablate every node outside the circuit' }, () => {
  state = S.clearPending(state);
  post({ kind: 'circuitOnly' });
});
const resetButton = button('Reset', { title: 'Remove all ablations' }, () => {
  state = S.clearPending(state);
  post({ kind: 'reset' });
});
const pinBox = checkbox('Pin', { title: 'When pinned, the panel keeps showing this token instead of following the cursor' }, (pinned) => {
  state = S.setPinned(state, pinned);
  post({ kind: 'setPinned', pinned });
  save();
  renderHeader();
});
/** Share of the total |weight| the drawn edges carry (strongest first). */
let edgeShare = DEFAULT_EDGE_SHARE;
type ShareChoice = '0.5' | '0.8' | '0.95' | '1';
const edgeSelect = dropdown<ShareChoice>(
  [
    { value: '0.8', label: 'Edges: 80 % of |weight|' },
    { value: '0.5', label: 'Edges: 50 % of |weight|' },
    { value: '0.95', label: 'Edges: 95 % of |weight|' },
    { value: '1', label: 'Edges: all' },
  ],
  { title: 'Edge threshold: draw the strongest edges that together carry this share of the circuit’s total |weight|' },
  (share) => {
    edgeShare = Number(share);
    if (state.model) renderGraph(state.model);
  },
);
edgeSelect.element.classList.add('edge-threshold');
const exportButtons = (['png', 'svg', 'json'] as const).map((format) =>
  button(format.toUpperCase(), { title: `Export ${format.toUpperCase()}` }, () => exportGraph(format, null)),
);

const ablationGroup = el('div', 'group');
ablationGroup.append(modeSelect.element, circuitOnlyButton.element, resetButton.element);
const edgeGroup = el('div', 'group');
edgeGroup.append(edgeSelect.element);
const exportGroup = el('div', 'group export-group');
exportGroup.append(el('span', 'group-label', 'Export'), ...exportButtons.map((b) => b.element));
const controlsRow = el('div', 'controls');
controlsRow.append(circuitGroup, ablationGroup, edgeGroup, exportGroup);
const titleRow = el('div', 'title-row');
titleRow.append(titleBlock, busy, pinBox.element);
header.append(titleRow, controlsRow);

const content = el('main', 'content');
const graphPane = el('section', 'graph-pane');
graphPane.setAttribute('aria-label', 'Circuit graph');
const graphHost = el('div', 'graph');
graphHost.setAttribute('role', 'img');
graphHost.setAttribute('aria-label', 'Circuit graph. Choose nodes with the Node list in the details pane.');
const legend = el('div', 'legend');
const fitButton = button('Fit', { appearance: 'secondary', title: 'Fit the graph to the panel' }, () => graph.fit());
fitButton.element.classList.add('fit-button');
graphPane.append(graphHost, legend, fitButton.element);

const side = el('aside', 'side');
const readout = createReadout();
const details = createDetails({
  onSelect: (id) => selectNode(id),
  onToggle: (id, ablated) => toggleNode(id, ablated),
  onReveal: (nodeId, range) => post({ kind: 'revealToken', nodeId, range }),
  onLabel: (nodeId, label) => post({ kind: 'setLabel', nodeId, label }),
});
side.append(readout.element, details.element);
content.append(graphPane, side);

const emptyState = el('div', 'empty-state');
const emptyHeading = el('h2', '', 'No circuit yet');
const emptyText = el('p', '', 'Put the cursor inside a Python string or list and run “Circuit Inspector: Show circuit at cursor”.');
emptyState.append(emptyHeading, emptyText);
const notice = el('div', 'notice');
notice.setAttribute('role', 'status');

app.append(header, content, emptyState, notice);

const graph = createGraph(graphHost, {
  onSelect: (id) => selectNode(id),
  onToggle: (id) => toggleNode(id, !S.effectiveAblated(state).has(id)),
});

// ---------------------------------------------------------------------------------------------
// Rendering.

function render(): void {
  const model = state.model;
  app.classList.toggle('has-model', model !== null);
  emptyState.hidden = model !== null;
  header.hidden = content.hidden = model === null;
  if (!model) return;
  renderHeader();
  renderGraph(model);
  readout.render(model, S.effectiveAblated(state).size);
  renderDetails(model);
}

function renderHeader(): void {
  const model = state.model;
  if (!model) return;
  title.textContent = model.circuit.title;
  title.title = model.circuit.description;
  const parts: (string | Node)[] = [];
  if (model.cursor) {
    parts.push('at ', el('code', 'token', visibleToken(model.cursor.text)));
    parts.push(` · ${model.documentName ?? 'untitled'} ${formatPosition(model.cursor.range)}`);
  } else {
    parts.push(model.documentName ?? '');
  }
  if (state.pinned) parts.push(badge('pinned'));
  subtitle.replaceChildren(...parts);
  const words = model.readout?.words;
  headerWords.textContent = model.applies === false ? "This circuit's task does not apply here." : words ? [words.prediction, words.change ?? ''].join(' ').trim() : '';
  busy.hidden = !model.busy;
  const choices = model.choices ?? [];
  circuitGroup.hidden = choices.length < 2;
  circuitSelect.setChoices(choices.map((c) => ({ value: c.task, label: `${c.title} · ${c.nodes} nodes` })));
  circuitSelect.setValue(model.circuit.task);
  modeSelect.setValue(model.mode);
  pinBox.setChecked(state.pinned);
  const anyAblated = S.effectiveAblated(state).size > 0 || model.circuitOnly;
  resetButton.setDisabled(!anyAblated);
  circuitOnlyButton.element.setAttribute('appearance', model.circuitOnly ? 'primary' : 'secondary');
  circuitOnlyButton.element.setAttribute('aria-pressed', String(model.circuitOnly));
  app.classList.toggle('circuit-only', model.circuitOnly);
}

function renderGraph(model: PanelModel): void {
  visual = layoutToFit(model).graph;
  graph.render(visual, state.selected);
  renderLegend(visual, model);
}

/** The graph laid out with the line width that draws it largest in the graph area (fitWrap.ts). */
function layoutToFit(model: PanelModel): { line: number | undefined; graph: VisualGraph } {
  const input = { circuit: model.circuit, activations: model.activations, ablated: S.effectiveAblated(state), extent: S.circuitExtent(state), edgeShare, readout: model.readout };
  const nodes = [...model.circuit.nodes, outputLayoutNode(model.circuit)];
  const { clientWidth: width, clientHeight: height } = graphHost;
  const build = (line: number | undefined): VisualGraph => buildVisualGraph(input, theme, { ...layoutFor(), maxPerLine: line });
  // Positions depend on the circuit's structure, the shown edges and the view's size, not on
  // activations: choose the line width once for them (a 700-node circuit takes ~90 ms per layout).
  const key = JSON.stringify([model.circuit.task, model.circuit.title, nodes.length, model.circuit.edges.length, edgeShare, width, height]);
  const known = chosenWraps.get(key);
  if (known !== undefined) return { line: known.line, graph: build(known.line) };
  const estimate = wrapForViewport(nodes, width, height, layoutFor(), GRAPH_MARGIN_X, GRAPH_MARGIN_Y);
  const chosen = bestWrap(estimate, widestRow(nodes), width, height, build);
  if (chosenWraps.size > 50) chosenWraps.clear();
  chosenWraps.set(key, { line: chosen.line });
  return chosen;
}
/** Line width chosen per (circuit structure, edge threshold, view size): see layoutToFit. */
const chosenWraps = new Map<string, { line: number | undefined }>();

// Long rows wrap to the graph area's shape (a narrow side bar stacks them, a wide panel does not):
// lay the graph out again once a resize settles (graph.ts re-fits it; it redraws only if the wrap changed).
let relayoutTimer: ReturnType<typeof setTimeout> | undefined;
new ResizeObserver(() => {
  clearTimeout(relayoutTimer);
  relayoutTimer = setTimeout(() => {
    if (state.model) renderGraph(state.model);
  }, 120);
}).observe(graphHost);

function renderLegend(g: VisualGraph, model: PanelModel): void {
  const extent = g.extent;
  const bar = el('span', 'legend-bar');
  const stops = [-1, -0.5, 0, 0.5, 1].map((t) => toHex(divergingColor(t, 1, theme.palette)));
  bar.style.background = `linear-gradient(to right, ${stops.join(', ')})`;
  const scale = el('span', 'legend-scale');
  scale.title = 'One scale per circuit, fixed when it was first shown: a colour means the same value at every token; values beyond it saturate';
  scale.append(el('span', 'num', formatValue(-extent)), bar, el('span', 'num', formatValue(extent)));
  const pos = el('span', 'legend-edge');
  const posLine = el('span', 'edge-swatch');
  posLine.style.background = toHex(theme.palette.positive);
  pos.append(posLine, document.createTextNode('weight > 0'));
  const neg = el('span', 'legend-edge');
  const negLine = el('span', 'edge-swatch');
  negLine.style.background = toHex(theme.palette.negative);
  neg.append(negLine, document.createTextNode('weight < 0'));
  const abl = el('span', 'legend-edge');
  abl.append(el('span', 'ablated-swatch'), document.createTextNode('ablated'));
  const count = el('span', 'legend-note edge-count', `${g.shownEdges} of ${g.totalEdges} edges`);
  count.title = edgeShare >= 1 ? 'every edge of the circuit' : `the strongest edges, together ${Math.round(edgeShare * 100)} % of the circuit’s total |weight|`;
  const out = el('span', 'legend-note', `→ output: edges by correlation with “${model.circuit.classes[0].label}”`);
  out.title = 'Edges into the output node are derived, not weights: every node that writes to the residual stream (which the unembedding reads) is joined to the output, coloured and sized by the correlation of its activation with the first class';
  const items: HTMLElement[] = [el('span', 'legend-title', 'activation at cursor (fixed scale)'), scale, pos, neg, abl, count, out];
  if (model.circuitOnly) items.push(el('span', 'legend-note', 'everything outside the circuit is ablated'));
  legend.replaceChildren(...items);
}

function renderDetails(model: PanelModel): void {
  details.render({
    model,
    selected: state.selected,
    ablated: S.effectiveAblated(state),
    topTokens: state.selected ? state.topTokens.get(state.selected) : undefined,
    examples: state.selected ? state.examples.get(state.selected) : undefined,
  });
}

// ---------------------------------------------------------------------------------------------
// User actions.

function selectNode(id: string | null): void {
  state = S.select(state, id);
  post({ kind: 'selectNode', nodeId: state.selected });
  graph.setSelected(state.selected);
  if (state.model) renderDetails(state.model);
  requestNodeData();
  save();
}

function toggleNode(id: string, ablated: boolean): void {
  state = S.toggleNode(state, id, ablated);
  post({ kind: 'toggleNode', nodeId: id, ablated });
  render();
}

/** What the selected node's details need from the host and the webview does not have yet. */
function requestNodeData(): void {
  requestTopTokens();
  requestExamples();
}

function requestExamples(): void {
  const id = state.selected;
  // a circuit file without `node_examples` has no examples to ask for
  if (!id || !state.model?.circuit.node_examples || state.examples.has(id)) return;
  const key = state.examplesKey;
  state = S.examplesLoading(state, id);
  void requests.request(nodeExamplesRequest, { nodeId: id }).then((answer) => {
    state = S.examplesArrived(state, key, answer.nodeId, answer.examples);
    if (state.model) renderDetails(state.model);
  });
}

function requestTopTokens(): void {
  const id = state.selected;
  if (!id || !state.model || state.topTokens.has(id)) return;
  const key = state.topTokensKey;
  state = S.topTokensLoading(state, id);
  void requests.request(topTokensRequest, { nodeId: id }).then((answer) => {
    state = S.topTokensArrived(state, key, answer.nodeId, answer.tokens);
    if (state.model) renderDetails(state.model);
  });
}

function exportGraph(format: ExportFormat, requestId: number | null): void {
  const model = state.model;
  if (!model || !visual) {
    showNotice('error', 'Nothing to export yet.');
    return;
  }
  let data: string;
  try {
    data = exportData(format, model, visual);
  } catch (e) {
    showNotice('error', `Export failed: ${errorMessage(e)}`);
    return;
  }
  post({ kind: 'exportData', requestId, format, data });
}

function exportData(format: ExportFormat, model: PanelModel, g: VisualGraph): string {
  switch (format) {
    case 'png':
      return graph.png(theme.background);
    case 'svg': {
      const at = model.cursor ? ` at “${model.cursor.text.trim()}” (${model.documentName ?? 'untitled'} ${formatPosition(model.cursor.range)})` : '';
      return graphToSvg(g, { title: model.circuit.title, subtitle: `${model.circuit.task}${at}` });
    }
    case 'json':
      return graphToJson(model, g);
  }
}

let noticeTimer: ReturnType<typeof setTimeout> | undefined;
function showNotice(level: 'info' | 'error', message: string): void {
  notice.textContent = message;
  notice.className = `notice visible ${level}`;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => notice.classList.remove('visible'), level === 'error' ? 10_000 : 5_000);
}

// ---------------------------------------------------------------------------------------------
// Messages from the host.

function handle(message: HostMessage): void {
  switch (message.kind) {
    case 'update':
      state = S.applyUpdate(state, message.model, message.pinned);
      render();
      requestNodeData();
      save();
      return;
    case 'topTokens':
    case 'nodeExamples':
      requests.settle(message); // an answer nobody waits for any more (the webview reloaded) is dropped
      return;
    case 'exportRequest':
      exportGraph(message.format, message.requestId);
      return;
    case 'cleared':
      state = { ...state, model: null, selected: null };
      emptyHeading.textContent = 'No circuit here';
      emptyText.textContent = message.message;
      render();
      save();
      return;
    case 'notice':
      showNotice(message.level, message.message);
      return;
  }
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const parsed = parseHostMessage(event.data);
  if (!parsed.ok) {
    post({ kind: 'log', level: 'warn', message: `webview ignored a message: ${parsed.error}`.slice(0, 2_000) });
    return;
  }
  handle(parsed.message);
});

// Theme changes: VS Code swaps the body class and the --vscode-* variables on <html>.
function readTheme(): Theme {
  const cs = getComputedStyle(document.documentElement);
  return themeFromCss((name) => cs.getPropertyValue(name), Array.from(document.body.classList));
}
const themeObserver = new MutationObserver(() => {
  const next = readTheme();
  if (JSON.stringify(next) === JSON.stringify(theme)) return;
  theme = next;
  if (state.model) renderGraph(state.model);
});
themeObserver.observe(document.body, { attributes: true, attributeFilter: ['class'] });
themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });

window.addEventListener('error', (e) => post({ kind: 'log', level: 'error', message: String(e.message).slice(0, 2_000) }));

render();
post({ kind: 'ready', protocol: PROTOCOL_VERSION });

// The host opens "Show circuit at cursor" in the side-bar view only when it is wide enough for the
// graph: tell it the page's width now and whenever it settles after a resize.
let reportedWidth = -1;
let widthTimer: ReturnType<typeof setTimeout> | undefined;
function reportWidth(): void {
  const width = Math.round(document.documentElement.clientWidth);
  if (width === reportedWidth) return;
  reportedWidth = width;
  post({ kind: 'viewport', width });
}
reportWidth();
new ResizeObserver(() => {
  clearTimeout(widthTimer);
  widthTimer = setTimeout(reportWidth, 150);
}).observe(document.documentElement);
