// Hover on a token where a circuit's task applies (inside a one-line string for the quote circuit,
// before a list's `]` for the bracket circuit, …: core/tasks DocumentScope.applies): the circuit and
// its firing rule in words, the model's prediction where the task's point is (the closing quote, the
// `]`, after the name), its key nodes at this token with their values and meanings, and a link that
// opens the circuit panel there. A circuit whose task does
// not apply to the token is not mentioned. Every number comes from the analysis the highlights were
// drawn from (the same window for the token; core/analysis analyzeAt).
import * as vscode from 'vscode';
import { NO_ABLATION } from '../core/analysis';
import { taskEvidence } from '../core/circuitEvidence';
import { describeCircuitPrediction, describeFiring, describePlace, describeRuleAgainstModel, type FiringFacts, tokenCode } from '../core/readoutText';
import { documentScope, samePrediction, scopeOf } from '../core/tasks';
import { nameAround, predictionOffsetOf, type TaskPoint } from '../core/taskScope';
import type { CircuitFile } from '../schemas/circuit';
import type { Documents } from './documents';
import type { DocumentResult, EditorToken, LoadedModel } from './loadedModel';
import { modelFor } from './notebookCells';
import { circuitEnabled, type Settings } from './settings';
import { WHY_COMMAND } from './whyThisToken';
import { ATTENTION_COMMAND } from './attentionCommand';

export class CircuitHover implements vscode.HoverProvider {
  constructor(
    private readonly docs: Documents,
    private readonly model: () => LoadedModel | undefined,
    /** The settings in force: highlights.thresholdScale, which the documents' analysis applied to `fires`, and which circuits are drawn. */
    private readonly settings: () => Settings,
  ) {}

  async provideHover(doc: vscode.TextDocument, pos: vscode.Position, cancel: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    const model = modelFor(this.model(), doc);
    if (!model) return undefined;
    const offset = doc.offsetAt(pos);
    const analysed = this.docs.analysedText(doc);
    if (!analysed || cancel.isCancellationRequested) return undefined;
    const { text, range } = analysed;
    if (range && (offset < range.start || offset >= range.end)) return undefined;
    // every circuit's firing and readout, read from the window the highlights score the token in
    const token = await model.tokenAt(text, offset, { range, thresholdScale: this.settings().thresholdScale });
    if (!token || cancel.isCancellationRequested) return undefined;
    // a circuit whose task applies anywhere (one found at a single token) is mentioned only where it fires
    const candidates = model.circuits.filter((c) => token.circuits[c.task]?.applies === true && (scopeOf(c).kind !== 'anywhere' || token.circuits[c.task].fires));
    // a token of a name that only the name's last token predicts (`node` of `node_link`): where the point is, and its one readout
    const names = model.circuits.flatMap((c) => {
      const p = nameAround(scopeOf(c), documentScope(text).map, token.start, token.end);
      return p ? [{ circuit: c, point: p }] : [];
    });
    // a model with no circuits at all (an imported one) says so on every token, and offers discovery
    if (candidates.length === 0 && names.length === 0 && model.circuits.length > 0) return undefined;
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = { enabledCommands: ['circuitInspector.showCircuitAtCursor', WHY_COMMAND, ATTENTION_COMMAND] };
    if (model.circuits.length === 0) md.appendMarkdown(`Model \`${model.modelName.replace(/`/g, '')}\` has no circuits, so nothing is highlighted.\n\n`);
    for (const [i, circuit] of candidates.entries()) {
      // a second circuit of the same prediction (a task's core in the paper's form) gets its firing line and link only
      const repeats = candidates.slice(0, i).some((c) => samePrediction(c, circuit));
      await this.describe(md, model, circuit, doc, text, token, range, repeats);
    }
    for (const { circuit, point } of names) await describeName(md, model, circuit, point, doc, text, range);
    const why = encodeURIComponent(JSON.stringify([{ uri: doc.uri.toString(), offset: token.start }]));
    md.appendMarkdown(`[$(question) Why this token? Find the circuit behind the next token](command:${WHY_COMMAND}?${why})\n`);
    md.appendMarkdown(`\n[$(eye) Where attention looks from this token](command:${ATTENTION_COMMAND}?${why})\n`);
    return new vscode.Hover(md, new vscode.Range(doc.positionAt(token.start), doc.positionAt(token.end)));
  }

  private async describe(md: vscode.MarkdownString, model: LoadedModel, circuit: CircuitFile, doc: vscode.TextDocument, text: string, token: EditorToken, range: DocumentResult['partial'], repeats: boolean): Promise<void> {
    const firing = token.circuits[circuit.task];
    const evidence = warnUnlessItCarries(md, circuit);
    // labels come from the model file: escaped, never rendered as markup (token texts go into code spans)
    const [c0, c1] = circuit.classes;
    const labels = [escape(c0.label), escape(c1.label)] as const;
    md.appendMarkdown(`**${escape(circuit.title)}** circuit`);
    let facts: FiringFacts | undefined;
    if (firing && circuit.firing) {
      const f = circuit.firing;
      const settings = this.settings();
      const shown = circuitEnabled(settings, circuit.task, evidence.carries);
      facts = { value: firing.value, fires: firing.fires, threshold: f.threshold * settings.thresholdScale, terms: f.terms.length, labels, positive: f.positive_class, shown };
      md.appendMarkdown(`${describeFiring(facts)}\n\n`);
    } else md.appendMarkdown('\n\n');
    if (repeats) return appendOpenLink(md, doc, token, circuit, `${circuit.nodes.length} nodes; the prediction is the one above`);
    // the prediction first: the hover's height is bounded, and the key nodes' meanings are long
    const scope = documentScope(text);
    const point = scope.point(circuit, token.start, token.end);
    const at = scope.predictionOffset(circuit, token.start, token.end);
    const r = at !== undefined ? await model.readout(text, at, circuit.task, NO_ABLATION, range) : undefined;
    if (point && r) md.appendMarkdown(predictionLine(circuit, r, scope.truth(circuit, token.start, token.end), point, doc, text.slice(point.construct.start, point.construct.end)));
    // the prediction read at this very token (the last before a close) can be set against the rule's side
    const parting = r && facts && at !== undefined && token.start <= at && at < token.end ? describeRuleAgainstModel(facts, r.logitDiff) : undefined;
    if (parting) md.appendMarkdown(`${parting}\n\n`);
    const acts = await model.activations(text, token.start, circuit.task, NO_ABLATION, range);
    const keys = (circuit.key_nodes ?? circuit.nodes.slice(0, 3).map((n) => n.id)).slice(0, 3);
    const rows = keys.flatMap((id) => {
      const node = circuit.nodes.find((n) => n.id === id);
      const v = acts[id];
      return node ? [`- \`${id}\` = **${v === undefined ? '–' : v.toFixed(3)}** (mean ${node.mean.toFixed(3)}) — ${escape(node.meaning)}\n`] : [];
    });
    if (rows.length) md.appendMarkdown(`Key nodes at this token (activation here, and its mean over validation text):\n\n${rows.join('')}`);
    // after the prediction and the nodes at this token (the hover's height is bounded): what the circuit alone does in real files
    if (evidence.realCode) md.appendMarkdown(`\n$(info) ${escape(evidence.realCode)}\n\n`);
    // a circuit of the bundle with the same prediction and exactly these nodes is shown as this one
    const alsoAs = model.repeats.filter((r) => r.sameAs === circuit.task).map((r) => escape(r.title));
    appendOpenLink(md, doc, token, circuit, alsoAs.length ? `also ${alsoAs.join(' and ')}: the same ${circuit.nodes.length} nodes` : undefined);
  }
}

/** The link that opens `circuit` in the panel at this token, with an optional word on it. */
function appendOpenLink(md: vscode.MarkdownString, doc: vscode.TextDocument, token: EditorToken, circuit: CircuitFile, note?: string): void {
  const args = encodeURIComponent(JSON.stringify([{ uri: doc.uri.toString(), offset: token.start, task: circuit.task }]));
  md.appendMarkdown(`\n[$(type-hierarchy) Open the ${escape(circuit.title.toLowerCase())} circuit](command:circuitInspector.showCircuitAtCursor?${args})${note ? ` (${note})` : ''}\n\n---\n\n`);
}

/**
 * On a token of a name that is not its last: the task's point is after the whole name, predicted by
 * the last token only; the readout shown is that point's, the one the last token's hover shows, and
 * nothing of this token's own (its firing value and key nodes answer another question: the rest of the name).
 */
async function describeName(md: vscode.MarkdownString, model: LoadedModel, circuit: CircuitFile, point: TaskPoint, doc: vscode.TextDocument, text: string, range: DocumentResult['partial']): Promise<void> {
  warnUnlessItCarries(md, circuit);
  const name = text.slice(point.construct.start, point.construct.end);
  const before = await model.tokenAt(text, point.offset - 1, { range }); // the name's last token, when one ends at the point
  const last = before?.end === point.offset ? before : undefined;
  const predictor = last ? `its last token ${tokenCode(last.text)}` : 'its last token';
  md.appendMarkdown(`**${escape(circuit.title)}** circuit: its task's point is after the whole name ${tokenCode(name)}, which only ${predictor} predicts; this token is not marked. The prediction there:\n\n`);
  const scope = documentScope(text);
  const r = await model.readout(text, predictionOffsetOf(scopeOf(circuit), point), circuit.task, NO_ABLATION, range);
  if (r) md.appendMarkdown(predictionLine(circuit, r, scope.truth(circuit, point.offset - 1, point.offset), point, doc, name));
  const args = encodeURIComponent(JSON.stringify([{ uri: doc.uri.toString(), offset: last?.start ?? point.offset - 1, task: circuit.task }]));
  md.appendMarkdown(`[$(type-hierarchy) Open the ${escape(circuit.title.toLowerCase())} circuit at ${tokenCode(last?.text ?? name)}](command:circuitInspector.showCircuitAtCursor?${args})\n\n---\n\n`);
}

/** Where a circuit does not carry its task, its part of the hover says so before anything else. */
function warnUnlessItCarries(md: vscode.MarkdownString, circuit: CircuitFile): ReturnType<typeof taskEvidence> {
  const evidence = taskEvidence(circuit);
  if (evidence.carries === false) md.appendMarkdown(`$(warning) ${escape(evidence.warning)}\n\n`);
  return evidence;
}

/** The prediction at a task point in words, one markdown paragraph: where the point is, what the model expects there, and whether the code agrees. */
function predictionLine(circuit: CircuitFile, r: { logitDiff: number; probs: readonly [number, number] | undefined }, truth: 0 | 1 | undefined, point: TaskPoint, doc: vscode.TextDocument, construct: string): string {
  // labels come from the model file: escaped, never rendered as markup (token texts go into code spans)
  const [c0, c1] = circuit.classes;
  const words = describeCircuitPrediction({ classes: [{ ...c0, label: escape(c0.label) }, { ...c1, label: escape(c1.label) }] }, r.logitDiff, r.probs, truth, point.pending);
  return `${describePlace(point.kind, doc.positionAt(point.offset).line + 1, construct)}: ${words.sentence}\n\n`;
}

/** Markdown-escape text that comes from a model file (never render it as markup). */
function escape(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (c) => `\\${c}`);
}
