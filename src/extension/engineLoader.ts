// Opens a model bundle with the core (validated files, onnxruntime session, load-time probe, document
// analyzer) and exposes it to the editor features through the narrow `Engine` interface.
import type * as vscode from 'vscode';
import { type Ablation as CoreAblation, type DocumentAnalysis, DocumentAnalyzer } from '../core/analysis';
import { BundleError } from '../core/bundle';
import { openModel } from '../core/openModel';
import type { ProviderChoice, Runner } from '../core/runner';
import type { Ablation, AnalyzeRequest, DocumentResult, Engine, Readout } from './engine';

export type OpenResult = { readonly kind: 'ok'; readonly engine: Engine } | { readonly kind: 'missing' | 'error'; readonly message: string };

export async function openEngine(dir: string, provider: ProviderChoice, log: vscode.LogOutputChannel): Promise<OpenResult> {
  try {
    const { bundle, runner } = await openModel(dir, provider);
    log.info(`model sessions started in ${runner.loadMs.toFixed(0)} ms (${runner.provider}, ${runner.parallelism} worker thread${runner.parallelism > 1 ? 's' : ''})`);
    return { kind: 'ok', engine: new AnalyzerEngine(new DocumentAnalyzer(bundle, runner, { batch: runner.preferredBatch, inFlight: runner.parallelism }), runner) };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const missing = e instanceof BundleError && e.missing;
    return { kind: missing ? 'missing' : 'error', message: missing ? `No model bundle: ${message}` : message };
  }
}

class AnalyzerEngine implements Engine {
  constructor(
    private readonly analyzer: DocumentAnalyzer,
    private readonly runner: Runner,
  ) {}

  get modelName(): string {
    return this.analyzer.bundle.name;
  }
  get provider(): string {
    return this.runner.provider;
  }
  get providerNotice(): string | undefined {
    return this.runner.notice;
  }
  get circuits() {
    return this.analyzer.circuits;
  }

  /** The engine names a circuit-only ablation by task; the core wants the circuit itself. */
  private core(ab: Ablation): CoreAblation {
    return { nodes: ab.nodes, mode: ab.mode, circuitOnly: ab.circuitOnly === undefined ? undefined : this.analyzer.circuits.find((c) => c.task === ab.circuitOnly) };
  }

  async analyze(key: string, text: string, ablation: Ablation, options: AnalyzeRequest = {}): Promise<DocumentResult | null> {
    const { range, priority, onEarly } = options;
    const r = await this.analyzer.analyze(text, this.core(ablation), { key, range, priority, onProgress: onEarly && ((p) => onEarly(this.result(p, range))) });
    return r.status === 'cancelled' ? null : this.result(r, range);
  }

  /** The core's analysis in the editor's terms: per token, firing strength and each circuit's logit difference. */
  private result(r: DocumentAnalysis, range: AnalyzeRequest['range']): DocumentResult {
    return {
      elapsedMs: r.elapsedMs,
      windowsComputed: r.windowsComputed,
      windowsReused: r.windowsReused,
      partial: range,
      tokens: r.tokens.map((t) => {
        const circuits: Record<string, { fires: boolean; value: number; cls: 0 | 1; strength: number }> = {};
        const logitDiff: Record<string, number> = {};
        for (const c of this.analyzer.circuits) {
          const at = t.circuits[c.task];
          const threshold = c.firing?.threshold ?? Infinity;
          circuits[c.task] = { fires: at.fires, value: at.value, cls: at.cls, strength: Math.abs(at.value) / threshold };
          logitDiff[c.task] = r.readout(t.index, c.task).logitDiff;
        }
        return { text: t.text, start: t.start, end: t.end, circuits, logitDiff };
      }),
    };
  }

  async readout(text: string, offset: number, task: string, ablation: Ablation): Promise<Readout> {
    const r = (await this.analyzer.analyzeAt(text, offset, this.core(ablation)))?.readouts[task];
    return r?.p ? { probs: r.p, logitDiff: r.logitDiff } : { probs: [0, 0], logitDiff: 0 };
  }

  async activations(text: string, offset: number, task: string, ablation: Ablation): Promise<Record<string, number>> {
    const r = await this.analyzer.analyzeAt(text, offset, this.core(ablation));
    const circuit = this.analyzer.circuits.find((c) => c.task === task);
    const out: Record<string, number> = {};
    if (!r || !circuit) return out;
    for (const n of circuit.nodes) {
      const col = this.analyzer.column(n.flat);
      const v = col === undefined ? undefined : r.token.watched[col];
      if (v !== undefined && Number.isFinite(v)) out[n.id] = v;
    }
    return out;
  }

  async topTokens(text: string, nodeId: string, limit: number) {
    const flat = this.analyzer.bundle.layout.flat(nodeId);
    const col = flat === undefined ? undefined : this.analyzer.column(flat);
    if (col === undefined) return [];
    const r = await this.analyzer.analyze(text, { nodes: new Set(), mode: 'mean' }, { key: `topTokens:${nodeId}` });
    if (r.status === 'cancelled') return [];
    return r.tokens
      .map((t) => ({ start: t.start, end: t.end, text: t.text, value: t.watched[col] }))
      .sort((a, b) => Math.abs(b.value) - Math.abs(a.value))
      .slice(0, limit);
  }

  dispose(): Promise<void> {
    return this.runner.dispose();
  }
}
