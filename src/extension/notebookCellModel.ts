// The model as a notebook cell's features see it (issue 19): every call reads the cell after its
// left context (the Python cells above it: core/cellContext, ./notebookCells), and every offset in
// and out is the cell's own, so highlights, hover, panel and "Why this token?" need no notebook
// case of their own.
import type { Ablation, Cancelled } from '../core/analysis';
import type { AttentionAt } from '../core/attention';
import { joinedText, linesBefore, spansInCell } from '../core/cellContext';
import type { DiscoverAtOptions, Discovery } from '../core/discoverAt';
import type { FoundCircuitFile } from '../core/foundCircuit';
import type { RepeatedCircuit } from '../core/tasks';
import type { CircuitFile } from '../schemas/circuit';
import type { ClassReadout } from '../schemas/messages';
import type { AnalysisResult, AnalyzeRequest, DocumentResult, EditorToken, FiringToken, HighlightResult, LoadedModel, TopTokenAt } from './loadedModel';

type Range = AnalyzeRequest['range'];

/** `model` reading each text after `context` (core/cellContext leftContext); offsets are the text's own. */
export class CellModel implements LoadedModel {
  private readonly shift: number;

  constructor(
    private readonly model: LoadedModel,
    private readonly context: string,
  ) {
    this.shift = context.length;
  }

  get modelName(): string {
    return this.model.modelName;
  }
  get provider(): string {
    return this.model.provider;
  }
  get providerNotice(): string | undefined {
    return this.model.providerNotice;
  }
  get circuits(): readonly CircuitFile[] {
    return this.model.circuits;
  }
  get repeats(): readonly RepeatedCircuit[] {
    return this.model.repeats;
  }

  analyze(key: string | undefined, text: string, ablation: Ablation, options: AnalyzeRequest = {}): Promise<DocumentResult | Cancelled> {
    return this.inCell(options, (o) => this.model.analyze(key, this.joined(text), ablation, o));
  }

  highlight(key: string, text: string, tasks: readonly string[], options: AnalyzeRequest = {}): Promise<HighlightResult | Cancelled> {
    return this.inCell(options, (o) => this.model.highlight(key, this.joined(text), tasks, o));
  }

  async tokenAt(text: string, offset: number, options: Pick<AnalyzeRequest, 'range' | 'thresholdScale'> = {}): Promise<EditorToken | undefined> {
    const r = await this.model.tokenAt(this.joined(text), offset + this.shift, { ...options, range: this.into(options.range) });
    return r && spansInCell([r], this.shift)[0];
  }

  /** An analysis of the joined text, asked for and answered in the cell's offsets. */
  private async inCell<T extends FiringToken>(options: AnalyzeRequest, analyze: (o: AnalyzeRequest) => Promise<AnalysisResult<T> | Cancelled>): Promise<AnalysisResult<T> | Cancelled> {
    const { onProgress } = options;
    const r = await analyze({
      ...options,
      range: this.into(options.range),
      priority: this.into(options.priority),
      onProgress: onProgress && ((partial) => onProgress(this.outOf(partial))),
    });
    return r.status === 'cancelled' ? r : this.outOf(r);
  }

  readout(text: string, offset: number, task: string, ablation: Ablation, range?: Range): Promise<ClassReadout | undefined> {
    return this.model.readout(this.joined(text), offset + this.shift, task, ablation, this.into(range));
  }

  activations(text: string, offset: number, task: string, ablation: Ablation, range?: Range): Promise<Record<string, number>> {
    return this.model.activations(this.joined(text), offset + this.shift, task, ablation, this.into(range));
  }

  /** The cell's own tokens where the node is most active (the cells above rank too, then are left out). */
  async topTokens(text: string, nodeId: string, limit: number): Promise<TopTokenAt[]> {
    return spansInCell(await this.model.topTokens(this.joined(text), nodeId, Infinity), this.shift).slice(0, limit);
  }

  async nextTokens(text: string, offset: number): ReturnType<LoadedModel['nextTokens']> {
    const r = await this.model.nextTokens(this.joined(text), offset + this.shift);
    // a token wholly in the cells above (the cursor at the start of an empty cell) is not the cell's
    return r && spansInCell([r], this.shift)[0];
  }

  /** Positions come back in the cell's lines and offsets; averaged places in the cells above get lines ≤ 0. */
  async discover(text: string, offset: number, options: DiscoverAtOptions, signal?: AbortSignal): Promise<Discovery> {
    const d = await this.model.discover(this.joined(text), offset + this.shift, options, signal);
    const lines = linesBefore(this.context);
    const position = { ...d.position, line: d.position.line - lines, offset: d.position.offset - this.shift };
    return { ...d, position, ...(d.averaged ? { averaged: { positions: d.averaged.positions.map((p) => ({ ...p, line: p.line - lines })) } } : {}) };
  }

  /**
   * Every head of `layer` from the cell's token at `offset`, over the cell's tokens of its window. The
   * tokens of the window in the cells above are not in the cell's editor, so not tinted: their weight
   * is each head's `above` (weights, startOfText, above and sink still make 1). A token that starts in
   * the separator before the cell is the cell's from its start, like the analysis's (spansInCell).
   */
  async attention(text: string, offset: number, layer: number): Promise<AttentionAt> {
    const at = await this.model.attention(this.joined(text), offset + this.shift, layer);
    const first = at.tokens.findIndex((t) => t.end > this.shift); // tokens are in order: those of the cell end the window
    if (first < 0) throw new Error('the cell has no tokens to look from');
    // the text the user sees: a magic line's first character is the cell's, not the `#` the model read
    const tokens = spansInCell(at.tokens.slice(first), this.shift).map((t) => ({ ...t, text: text.slice(t.start, t.end) }));
    const heads = at.heads.map((h) => ({ ...h, weights: h.weights.subarray(first), above: h.weights.subarray(0, first).reduce((a, w) => a + w, 0) }));
    return { ...at, query: tokens[tokens.length - 1], tokens, heads };
  }

  get layers(): number {
    return this.model.layers;
  }

  circuitFileOf(found: Discovery): FoundCircuitFile {
    return this.model.circuitFileOf(found);
  }

  problemWith(circuit: CircuitFile, name: string): string | undefined {
    return this.model.problemWith(circuit, name);
  }

  setExtraCircuits(circuits: readonly CircuitFile[]): void {
    this.model.setExtraCircuits(circuits);
  }

  /** Nothing of its own to stop: the wrapped model is its loader's to dispose. */
  dispose(): Promise<void> {
    return Promise.resolve();
  }

  private joined(text: string): string {
    return joinedText(this.context, text);
  }

  private into(range: Range): Range {
    return range && { start: range.start + this.shift, end: range.end + this.shift };
  }

  private outOf<T extends FiringToken>(r: AnalysisResult<T>): AnalysisResult<T> {
    const partial = r.partial && { start: r.partial.start - this.shift, end: r.partial.end - this.shift };
    return { ...r, tokens: spansInCell(r.tokens, this.shift), partial };
  }
}
