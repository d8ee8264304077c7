// "Examples from the validation corpus" in the node details: each example is the token (highlighted,
// coloured by the sign of its activation) in its stored context, with its label (top n / pNN), the
// activation and the corpus file and line. Hidden for a circuit file without examples. All text is
// set with textContent.

import type { CircuitFile, CircuitNode, NodeExample } from '../schemas/circuit';
import { el } from './dom';
import { exampleRows, examplesSummary, exampleSource, visibleWhitespace } from './exampleText';
import { formatValue } from './format';

export interface ExamplesView {
  readonly element: HTMLElement;
  render(circuit: CircuitFile, node: CircuitNode): void;
}

export function createExamples(): ExamplesView {
  const root = el('div', 'node-examples');
  const heading = el('h3', 'subsection-title', 'Examples from the validation corpus');
  const summary = el('p', 'examples-summary muted');
  const list = el('ol', 'example-list');
  root.append(heading, summary, list);

  function render(circuit: CircuitFile, node: CircuitNode): void {
    const ex = node.examples;
    root.hidden = !ex;
    if (!ex) return;
    const source = circuit.node_examples;
    heading.title = source ? `Activation: ${source.value}. ±${source.context} tokens of context.` : '';
    summary.textContent = examplesSummary(ex, source);
    list.replaceChildren(...exampleRows(ex).map((row) => exampleItem(row.label, row.title, row.example)));
  }

  return { element: root, render };
}

function exampleItem(label: string, title: string, e: NodeExample): HTMLElement {
  const li = el('li', 'example');
  const head = el('div', 'example-head');
  const tag = el('span', 'example-label', label);
  tag.title = title;
  const where = el('span', 'example-source', exampleSource(e));
  where.title = `${e.file}, line ${e.line}`;
  head.append(tag, el('span', `num example-value ${e.value < 0 ? 'neg-text' : 'pos-text'}`, formatValue(e.value)), where);
  const context = el('pre', 'example-context');
  const token = el('mark', `example-token ${e.value < 0 ? 'neg' : 'pos'}`);
  token.append(...segments(e.token));
  context.append(...segments(e.before), token, ...segments(e.after));
  li.append(head, context);
  return li;
}

function segments(text: string): HTMLElement[] {
  return visibleWhitespace(text).map((s) => el('span', s.mark ? 'ws' : '', s.text));
}
