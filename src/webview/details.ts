// The details pane for the selected node: id, meaning, value at the cursor, mean, the ablation
// toggle, its inputs/outputs, the top tokens in this file (clicking one reveals it in the editor)
// and, when the circuit file has them, examples from the validation corpus. All text is set with
// textContent.

import type { CircuitNode } from '../schemas/circuit';
import type { AblationMode, PanelModel, TokenRange } from '../schemas/messages';
import { checkbox, dropdown, textField, type Choice } from './controls';
import { el, text } from './dom';
import { createExamples } from './examples';
import { formatPosition, formatValue, visibleToken } from './format';
import { rowOrder, shortLabel } from './layout';
import type { ExamplesEntry, TopTokensEntry } from './state';
import { outputEdges } from './visual';

export interface DetailsHandlers {
  onSelect(nodeId: string): void;
  onToggle(nodeId: string, ablated: boolean): void;
  onReveal(nodeId: string, range: TokenRange): void;
  /** The user typed a label for the node (empty: back to its id). */
  onLabel(nodeId: string, label: string): void;
}

export interface DetailsInput {
  readonly model: PanelModel;
  readonly selected: string | null;
  readonly ablated: ReadonlySet<string>;
  readonly topTokens: TopTokensEntry | undefined;
  readonly examples: ExamplesEntry | undefined;
}

export interface DetailsView {
  readonly element: HTMLElement;
  render(input: DetailsInput): void;
}

export function createDetails(handlers: DetailsHandlers): DetailsView {
  const root = el('section', 'details');
  root.setAttribute('aria-label', 'Node details');
  const head = el('div', 'details-head');
  const picker = dropdown<string>([], { title: 'Choose a node' }, (id) => handlers.onSelect(id));
  picker.element.classList.add('node-picker');
  head.append(el('h2', 'section-title', 'Node'), picker.element);
  const empty = el('p', 'muted', 'Click a node in the graph to see what it does.');
  let current: string | null = null;
  const body = createNodeBody(handlers, () => current);
  root.append(head, body.element, empty);

  function render(input: DetailsInput): void {
    const { model, selected } = input;
    picker.setChoices(nodeChoices(model.circuit.nodes));
    const node = selected ? model.circuit.nodes.find((n) => n.id === selected) : undefined;
    current = node?.id ?? null;
    body.element.hidden = !node;
    empty.hidden = Boolean(node);
    if (!node) return;
    picker.setValue(node.id);
    root.classList.toggle('is-ablated', input.ablated.has(node.id));
    body.render(input, node);
  }

  return { element: root, render };
}

/** Everything shown about one node; `current` names the node the ablation toggle acts on. */
function createNodeBody(handlers: DetailsHandlers, current: () => string | null): { element: HTMLElement; render(input: DetailsInput, node: CircuitNode): void } {
  const element = el('div', 'details-body');
  const toggle = checkbox('Ablate this node', { title: 'Replace this node by its mean (or zero) and re-run the model' }, (checked) => {
    const id = current();
    if (id) handlers.onToggle(id, checked);
  });
  toggle.element.classList.add('ablate-toggle');
  const label = textField('Label', { placeholder: 'Name this node', title: 'Your name for this node: kept in the saved circuit and in JSON export (Enter to keep it)' }, (value) => {
    const id = current();
    if (id) handlers.onLabel(id, value.trim());
  });
  label.element.classList.add('label-field');
  const title = el('div', 'node-title');
  const idLine = el('div', 'node-id');
  const meaning = el('p', 'node-meaning');
  const stats = el('dl', 'stats');
  const links = el('div', 'node-links');
  const topList = el('ol', 'top-tokens');
  const examples = createExamples();
  element.append(title, idLine, label.element, meaning, stats, toggle.element, links, el('h3', 'subsection-title', 'Top tokens in this file'), topList, examples.element);

  function render(input: DetailsInput, node: CircuitNode): void {
    const { model } = input;
    const isKey = (model.circuit.key_nodes ?? []).includes(node.id);
    title.replaceChildren(text(node.label), ...(isKey ? [el('span', 'pill', 'key node')] : []));
    idLine.replaceChildren(el('code', '', node.id), text(`  ·  flat ${node.flat}`));
    label.setValue(node.label === node.id ? '' : node.label);
    meaning.textContent = node.meaning;
    const value = Object.prototype.hasOwnProperty.call(model.activations, node.id) ? model.activations[node.id] : null;
    stats.replaceChildren(...stat('Value at cursor', formatValue(value), 'value'), ...stat('Mean', formatValue(node.mean)), ...stat('Importance', node.importance.toFixed(2)));
    toggle.setChecked(input.ablated.has(node.id));
    toggle.element.textContent = ablateLabel(model.mode, node);
    links.replaceChildren(...linkGroups(model, node, handlers.onSelect));
    topList.replaceChildren(...topTokenItems(node.id, input.topTokens, handlers.onReveal));
    examples.render(model.circuit, input.examples);
  }

  return { element, render };
}

/** The node's inputs and outputs in the circuit, each a link that selects the other node. */
function linkGroups(model: PanelModel, node: CircuitNode, onSelect: (nodeId: string) => void): HTMLElement[] {
  const byId = new Map(model.circuit.nodes.map((n) => [n.id, n]));
  const group = (label: string, items: { id: string; weight: number }[], extra: HTMLElement[] = []): HTMLElement => {
    const row = el('div', 'link-row');
    row.append(el('span', 'link-label', label), ...extra);
    if (items.length === 0 && extra.length === 0) row.append(el('span', 'muted', 'none in circuit'));
    for (const it of items) {
      const other = byId.get(it.id);
      const a = el('a', 'node-link');
      a.href = '#';
      a.textContent = other ? nodeName(other) : it.id;
      a.title = `${it.id}${other ? ` — ${other.label}` : ''} (weight ${formatValue(it.weight)})`;
      a.append(el('span', it.weight >= 0 ? 'weight pos' : 'weight neg', formatValue(it.weight)));
      a.addEventListener('click', (ev) => {
        ev.preventDefault();
        onSelect(it.id);
      });
      row.append(a);
    }
    return row;
  };
  const edges = model.circuit.edges;
  return [
    group('Inputs', edges.filter((e) => e.target === node.id).map((e) => ({ id: e.source, weight: e.weight }))),
    group('Outputs', edges.filter((e) => e.source === node.id).map((e) => ({ id: e.target, weight: e.weight })), outputLink(model, node)),
  ];
}

/** A node that writes to the residual stream feeds the output logits (visual.ts outputEdges): shown with its correlation. */
function outputLink(model: PanelModel, node: CircuitNode): HTMLElement[] {
  const edge = outputEdges(model.circuit).find((o) => o.source === node.id);
  if (!edge) return [];
  const [c0, c1] = model.circuit.classes;
  const item = el('span', 'node-link output-link', `logits ${c0.label} − ${c1.label}`);
  item.title = `Writes to the residual stream the unembedding reads; r = ${formatValue(edge.weight)} with “${c0.label}” (correlation, not a weight)`;
  item.append(el('span', edge.weight >= 0 ? 'weight pos' : 'weight neg', `r ${formatValue(edge.weight)}`));
  return [item];
}

/** The list items of a node's top tokens, each a link that reveals the token in the editor. */
function topTokenItems(nodeId: string, entry: TopTokensEntry | undefined, onReveal: (nodeId: string, range: TokenRange) => void): HTMLElement[] {
  if (!entry || entry.status === 'loading') return [el('li', 'muted', 'Loading…')];
  if (entry.tokens.length === 0) return [el('li', 'muted', 'This node does not fire in this file.')];
  const max = entry.tokens.reduce((m, t) => Math.max(m, Math.abs(t.value)), 0) || 1;
  return entry.tokens.map((t) => {
    const li = el('li', '');
    const a = el('a', 'token-link');
    a.href = '#';
    a.title = `Reveal line ${t.range.line + 1} in the editor`;
    const bar = el('span', t.value >= 0 ? 'bar pos' : 'bar neg');
    bar.style.width = `${Math.round((Math.abs(t.value) / max) * 100)}%`;
    const barBox = el('span', 'bar-box');
    barBox.append(bar);
    a.append(el('code', 'token', visibleToken(t.text)), el('span', 'pos-text', formatPosition(t.range)), barBox, el('span', 'num', formatValue(t.value)));
    a.addEventListener('click', (ev) => {
      ev.preventDefault();
      onReveal(nodeId, t.range);
    });
    li.append(a);
    return li;
  });
}

export function ablateLabel(mode: AblationMode, node: CircuitNode): string {
  return mode === 'mean' ? `Ablate (set to its mean, ${formatValue(node.mean)})` : 'Ablate (set to zero)';
}

/** Dropdown entries for all nodes in layout order: `quote type (V) — 0.attn.v.17`. */
export function nodeChoices(nodes: readonly CircuitNode[]): Choice<string>[] {
  return [...nodes]
    .sort((a, b) => rowOrder(a, b) || a.index - b.index)
    .map((n) => ({ value: n.id, label: `${n.label} — ${n.id}` }));
}

/** `0.mlp in 40`: layer, block and short label, unambiguous within a circuit. */
export function nodeName(n: CircuitNode): string {
  return `${n.layer}.${n.site.split('.')[0]} ${shortLabel(n)}`;
}

function stat(label: string, value: string, cls = ''): HTMLElement[] {
  return [el('dt', '', label), el('dd', cls ? `num ${cls}` : 'num', value)];
}
