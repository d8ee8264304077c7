// Adapter for existing importers (src/extension/engineLoader.ts): the older Analyzer API, over
// DocumentAnalyzer (./analysis). New code should use ./analysis directly.
import type { CircuitFile } from '../protocol/circuit';
import { type Ablation, type AblationMode, DocumentAnalyzer, type TokenResult } from './analysis';
import type { Bundle } from './bundle';
import type { Runner } from './runner';

export type { AblationMode };

export interface AblationSpec {
  readonly nodes: ReadonlySet<string>;
  readonly mode: AblationMode;
  /** Ablate every node outside this circuit (task name). */
  readonly circuitOnly?: string;
}

export interface ClassReadout {
  readonly probs: readonly [number, number];
  readonly logitDiff: number;
}

export interface TokenAnalysis {
  readonly id: number;
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly next: readonly { readonly id: number; readonly p: number }[];
  readonly readout: Readonly<Record<string, ClassReadout>>;
  readonly firing: Readonly<Record<string, number>>;
  readonly watched: Float32Array;
}

export interface AnalysisResult {
  readonly tokens: TokenAnalysis[];
  readonly elapsedMs: number;
  readonly windowsComputed: number;
  readonly windowsReused: number;
}

export class Analyzer {
  readonly core: DocumentAnalyzer;

  constructor(
    readonly bundle: Bundle,
    runner: Pick<Runner, 'run'>,
  ) {
    this.core = new DocumentAnalyzer(bundle, runner);
  }

  get watch(): readonly number[] {
    return this.core.watch;
  }

  get circuits(): readonly CircuitFile[] {
    return this.bundle.circuits;
  }

  private ablation(ab: AblationSpec): Ablation {
    return { nodes: ab.nodes, mode: ab.mode, circuitOnly: ab.circuitOnly ? this.bundle.circuits.find((c) => c.task === ab.circuitOnly) : undefined };
  }

  /** Calls with the same key supersede each other; a superseded one resolves null. */
  async analyze(key: string, text: string, ab: AblationSpec, range?: { start: number; end: number }): Promise<AnalysisResult | null> {
    const r = await this.core.analyze(text, this.ablation(ab), { key, range });
    if (r.status === 'cancelled') return null;
    const tokens = r.tokens.map((t, i) => this.legacy(t, (task) => r.readout(i, task)));
    return { tokens, elapsedMs: r.elapsedMs, windowsComputed: r.windowsComputed, windowsReused: r.windowsReused };
  }

  async at(text: string, offset: number, ab: AblationSpec): Promise<{ token: TokenAnalysis; watched: Map<number, number> } | undefined> {
    const r = await this.core.analyzeAt(text, offset, this.ablation(ab));
    if (!r) return undefined;
    const watched = new Map<number, number>();
    this.core.watch.forEach((f, k) => watched.set(f, r.token.watched[k]));
    return { token: this.legacy(r.token, (task) => r.readouts[task]), watched };
  }

  column(flat: number): number | undefined {
    return this.core.column(flat);
  }

  clearCache(): void {
    this.core.clearCache();
  }

  private legacy(t: TokenResult, readout: (task: string) => { p: readonly [number, number]; logitDiff: number }): TokenAnalysis {
    const ro: Record<string, ClassReadout> = {};
    const firing: Record<string, number> = {};
    for (const c of this.bundle.circuits) {
      const x = readout(c.task);
      ro[c.task] = { probs: [x.p[0], x.p[1]], logitDiff: x.logitDiff };
      firing[c.task] = t.circuits[c.task]?.value ?? 0;
    }
    return { id: t.id, text: t.text, start: t.start, end: t.end, next: t.next, readout: ro, firing, watched: t.watched };
  }
}
