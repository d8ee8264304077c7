// Opens a model bundle with the core (loader, onnxruntime runner, analyzer) and exposes it to the
// editor features through the narrow `Engine` interface.
import type * as vscode from 'vscode';
import { Analyzer } from '../core/analyzer';
import { BundleError, loadBundle } from '../core/modelBundle';
import { OnnxRunner, type ProviderChoice } from '../core/onnxRunner';
import type { Ablation, DocumentResult, Engine, Readout } from './engine';

export type OpenResult = { readonly kind: 'ok'; readonly engine: Engine } | { readonly kind: 'missing' | 'error'; readonly message: string };

export async function openEngine(dir: string, provider: ProviderChoice, log: vscode.LogOutputChannel): Promise<OpenResult> {
  try {
    const bundle = loadBundle(dir);
    const runner = await OnnxRunner.open(bundle.onnxPath, provider);
    log.info(`session created in ${runner.loadMs.toFixed(0)} ms (${runner.provider})`);
    return { kind: 'ok', engine: new AnalyzerEngine(new Analyzer(bundle, runner), runner) };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const missing = e instanceof BundleError && /does not exist|manifest\.json is missing/.test(message);
    return { kind: missing ? 'missing' : 'error', message: missing ? `No model bundle: ${message}` : message };
  }
}

class AnalyzerEngine implements Engine {
  constructor(
    private readonly analyzer: Analyzer,
    private readonly runner: OnnxRunner,
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

  async analyze(key: string, text: string, ablation: Ablation, range?: { start: number; end: number }): Promise<DocumentResult | null> {
    const r = await this.analyzer.analyze(key, text, ablation, range);
    if (!r) return null;
    const tok = this.analyzer.bundle.tokenizer;
    return {
      elapsedMs: r.elapsedMs,
      windowsComputed: r.windowsComputed,
      windowsReused: r.windowsReused,
      partial: range,
      tokens: r.tokens.map((t) => {
        const circuits: Record<string, { fires: boolean; value: number; cls: 0 | 1; strength: number }> = {};
        const logitDiff: Record<string, number> = {};
        for (const c of this.analyzer.circuits) {
          const value = t.firing[c.task] ?? 0;
          const threshold = c.firing?.threshold ?? Infinity;
          const positive = c.firing?.positive_class ?? 0;
          circuits[c.task] = { fires: Math.abs(value) >= threshold, value, cls: value > 0 ? positive : ((1 - positive) as 0 | 1), strength: Math.abs(value) / threshold };
          logitDiff[c.task] = t.readout[c.task]?.logitDiff ?? 0;
        }
        return { text: t.text, start: t.start, end: t.end, circuits, logitDiff, next: t.next.map((n) => ({ text: tok.tokenText(n.id), p: n.p })) };
      }),
    };
  }

  async readout(text: string, offset: number, task: string, ablation: Ablation): Promise<Readout> {
    const r = await this.analyzer.at(text, offset, ablation);
    return r?.token.readout[task] ?? { probs: [0, 0], logitDiff: 0 };
  }

  async activations(text: string, offset: number, task: string, ablation: Ablation): Promise<Record<string, number>> {
    const r = await this.analyzer.at(text, offset, ablation);
    const circuit = this.analyzer.circuits.find((c) => c.task === task);
    const out: Record<string, number> = {};
    if (!r || !circuit) return out;
    for (const n of circuit.nodes) {
      const v = r.watched.get(n.flat);
      if (v !== undefined && Number.isFinite(v)) out[n.id] = v;
    }
    return out;
  }

  async topTokens(text: string, nodeId: string, limit: number) {
    const flat = this.analyzer.bundle.layout.flat(nodeId);
    const col = flat === undefined ? undefined : this.analyzer.column(flat);
    if (col === undefined) return [];
    const r = await this.analyzer.analyze(`topTokens:${nodeId}`, text, { nodes: new Set(), mode: 'mean' });
    if (!r) return [];
    return r.tokens
      .map((t) => ({ start: t.start, end: t.end, text: t.text, value: t.watched[col] }))
      .sort((a, b) => Math.abs(b.value) - Math.abs(a.value))
      .slice(0, limit);
  }

  dispose(): void {
    void this.runner.dispose();
  }
}
