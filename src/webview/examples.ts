// "Example contexts" in the node details (from the validation corpus, or the pretraining samples an imported circuit carries): each example is the token (highlighted,
// coloured by the sign of its activation) in its stored context, with its label (top n / pNN), the
// activation and the corpus file and line. Hidden for a circuit file without examples. The host
// sends them per node on request (they are megabytes per circuit). All text is set with textContent.

import type { CircuitFile, NodeExample } from '../schemas/circuit';
import { el } from './dom';
import { exampleRows, examplesSummary, exampleSource, visibleWhitespace } from './exampleText';
import { formatValue } from './format';
import type { ExamplesEntry } from './state';

export interface ExamplesView {
  readonly element: HTMLElement;
  /** `entry`: the node's examples as asked of the host (main.ts requests them when the details open). */
  render(circuit: CircuitFile, entry: ExamplesEntry | undefined): void;
}

export function createExamples(): ExamplesView {
  const root = el('div', 'node-examples');
  const heading = el('h3', 'subsection-title', 'Example contexts');
  const summary = el('p', 'examples-summary muted');
  const list = el('ol', 'example-list');
  root.append(heading, summary, list);

  function render(circuit: CircuitFile, entry: ExamplesEntry | undefined): void {
    const source = circuit.node_examples;
    root.hidden = !source || (entry?.status === 'done' && !entry.examples);
    if (!source || root.hidden) return;
    heading.title = `Activation: ${source.value}. ±${source.context} tokens of context.`;
    if (entry?.status !== 'done' || !entry.examples) {
      summary.textContent = 'Loading…';
      list.replaceChildren();
      return;
    }
    summary.textContent = examplesSummary(entry.examples, source);
    list.replaceChildren(...exampleRows(entry.examples).map((row) => exampleItem(row.label, row.title, row.example)));
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
