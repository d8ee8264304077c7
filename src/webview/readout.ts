// The prediction readout: target vs alternative class probability and logit difference, before
// (no ablation) and after (current ablations), and the circuit's faithfulness at the cursor.

import type { PanelModel } from '../schemas/messages';
import { el, text } from './dom';
import { faithfulnessWords } from './faithfulnessWords';
import { formatProb, formatRatio, formatSigned, readoutRows, visibleToken, type OrientedReadout } from './format';

export interface ReadoutView {
  readonly element: HTMLElement;
  render(model: PanelModel, ablatedCount: number): void;
}

export function createReadout(): ReadoutView {
  const root = el('section', 'readout');
  root.setAttribute('aria-label', 'Prediction readout');
  root.setAttribute('aria-live', 'polite');

  function render(model: PanelModel, ablatedCount: number): void {
    const r = model.readout;
    root.classList.toggle('is-busy', model.busy);
    const title = el('h2', 'section-title', 'Prediction');
    const warning = model.warning ? [el('p', 'evidence-warning', `⚠ ${model.warning}`)] : [];
    if (model.applies === false) {
      root.replaceChildren(title, ...warning, el('p', 'muted not-applicable', "This circuit's task does not apply here."));
      return;
    }
    if (!r) {
      root.replaceChildren(title, el('p', 'muted', 'No prediction at this token.'));
      return;
    }
    const target = model.circuit.classes[r.target];
    const alt = model.circuit.classes[r.target === 0 ? 1 : 0];
    const rows = readoutRows(r);
    const versus = el('div', 'versus');
    versus.append(classChip('target', target.label, target.tokens[0]?.text), el('span', 'vs', 'vs'), classChip('alt', alt.label, alt.tokens[0]?.text));
    const parts: HTMLElement[] = [title, ...warning, versus];
    if (r.words) parts.push(el('p', 'prediction-words', r.words.prediction));
    parts.push(readoutTable([target.label, alt.label], rows, ablatedCount > 0 || model.circuitOnly ? 'With ablations' : 'After'));
    if (rows.after && rows.change !== null) parts.push(changeLine(rows.change, r.words?.change ?? null));
    else if (!rows.after) parts.push(el('p', 'muted', 'Nothing is ablated. Toggle a node, or use “Circuit only”, to see the effect.'));
    parts.push(faithfulnessMeter(r.faithfulness), el('p', 'muted faith-words', faithfulnessWords(rows.before.diff, r.faithfulness, r.allAblated, model.mode)));
    root.replaceChildren(...parts);
  }

  return { element: root, render };
}

/** Target and alternative probabilities and the logit difference: the full model, and with the ablations when there are any. */
function readoutTable([target, alt]: [string, string], rows: ReturnType<typeof readoutRows>, afterLabel: string): HTMLTableElement {
  const table = el('table', 'readout-table');
  const thead = el('thead', '');
  const hr = el('tr', '');
  hr.append(el('th', '', ''), th(`P(${target})`), th(`P(${alt})`), th('logit diff', 'logsumexp(target logits) − logsumexp(alternative logits)'));
  thead.append(hr);
  const tbody = el('tbody', '');
  tbody.append(row('Full model', rows.before, false));
  if (rows.after) tbody.append(row(afterLabel, rows.after, true));
  table.append(thead, tbody);
  return table;
}

/** "Ablation changes the logit difference by −2.59", then the host's sentence of what changed from what. */
function changeLine(change: number, words: string | null): HTMLElement {
  const line = el('p', 'change');
  line.append(text('Ablation changes the logit difference by '), el('strong', change < 0 ? 'neg-text' : 'pos-text', formatSigned(change)));
  if (words) line.append(text(`. ${words}`));
  return line;
}

function faithfulnessMeter(faithfulness: number | null): HTMLElement {
  const faith = el('div', 'faithfulness');
  const label = el('span', 'faith-label', 'Faithfulness of the circuit');
  label.title = 'Logit difference with only the circuit kept (everything else ablated) ÷ logit difference of the full model, at this token.';
  const meter = el('span', 'meter');
  const fill = el('span', 'meter-fill');
  fill.style.width = `${Math.round((faithfulness === null ? 0 : Math.max(0, Math.min(1, faithfulness))) * 100)}%`;
  meter.append(fill);
  faith.append(label, meter, el('span', 'num faith-value', formatRatio(faithfulness)));
  if (faithfulness === null) faith.classList.add('unknown');
  return faith;
}

function row(label: string, o: OrientedReadout, isAfter: boolean): HTMLTableRowElement {
  const tr = el('tr', isAfter ? 'after' : 'before');
  tr.append(el('th', 'row-head', label), probCell(o.pTarget, 'target'), probCell(o.pAlt, 'alt'), el('td', `num ${o.diff < 0 ? 'neg-text' : ''}`, formatSigned(o.diff)));
  return tr;
}

function probCell(p: number, cls: string): HTMLTableCellElement {
  const td = el('td', 'prob');
  const bar = el('span', `pbar ${cls}`);
  bar.style.width = `${Math.round(Math.max(0, Math.min(1, p)) * 100)}%`;
  const box = el('span', 'pbar-box');
  box.append(bar);
  td.append(el('span', 'num', formatProb(p)), box);
  return td;
}

function classChip(cls: string, label: string, token: string | undefined): HTMLElement {
  const chip = el('span', `class-chip ${cls}`);
  chip.append(el('span', 'class-role', cls === 'target' ? 'target' : 'alternative'), el('strong', '', label));
  if (token !== undefined) chip.append(el('code', 'token', visibleToken(token)));
  return chip;
}

function th(label: string, title?: string): HTMLTableCellElement {
  const e = el('th', 'num', label);
  if (title) e.title = title;
  return e;
}
