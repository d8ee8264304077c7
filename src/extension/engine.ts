// The one place where the extension meets the core: what the editor features need from a loaded
// model, in editor-neutral terms (UTF-16 offsets, node ids). Keeping this seam narrow lets the
// decorations, hover and panel code stay ignorant of windows, caches and onnxruntime.
import type { CircuitFile } from '../protocol/circuit';

export type AblationMode = 'mean' | 'zero';

export interface Ablation {
  /** Circuit node ids to ablate. */
  readonly nodes: ReadonlySet<string>;
  readonly mode: AblationMode;
  /** Ablate every node outside this circuit (task name). */
  readonly circuitOnly?: string;
}

export const NO_ABLATION: Ablation = { nodes: new Set(), mode: 'mean' };

export function isAblating(a: Ablation): boolean {
  return a.nodes.size > 0 || a.circuitOnly !== undefined;
}

export interface CircuitAtToken {
  readonly fires: boolean;
  /** Σ coef·activation of the firing rule's nodes. */
  readonly value: number;
  /** The side of the contrast the value points to. */
  readonly cls: 0 | 1;
  /** |value| / threshold. */
  readonly strength: number;
}

export interface TokenResult {
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /** task → firing at this token. */
  readonly circuits: Readonly<Record<string, CircuitAtToken>>;
  /** Readout per task: which class the model prefers here (class-0 vs class-1 logit difference). */
  readonly logitDiff: Readonly<Record<string, number>>;
}

export interface DocumentResult {
  readonly tokens: readonly TokenResult[];
  readonly elapsedMs: number;
  readonly windowsComputed: number;
  readonly windowsReused: number;
  /** Set when only part of the text was analysed (size limit). */
  readonly partial?: { readonly start: number; readonly end: number };
}

export interface AnalyzeRequest {
  /** Analyse only this [start, end) slice (files over the size limit). */
  readonly range?: { readonly start: number; readonly end: number };
  /** Offsets to analyse first (the visible lines) … */
  readonly priority?: { readonly start: number; readonly end: number };
  /** … whose tokens arrive here early, when the rest of a cold file still needs computing. */
  readonly onEarly?: (partial: DocumentResult) => void;
}

export interface Readout {
  readonly probs: readonly [number, number];
  readonly logitDiff: number;
}

export interface Engine {
  readonly modelName: string;
  readonly provider: string;
  readonly providerNotice?: string;
  readonly circuits: readonly CircuitFile[];
  /** Analyse `text` (or its options.range slice); resolves null when superseded by a later call with the same key. */
  analyze(key: string, text: string, ablation: Ablation, options?: AnalyzeRequest): Promise<DocumentResult | null>;
  /** Readout of `task` at the token ending at or containing `offset`. */
  readout(text: string, offset: number, task: string, ablation: Ablation): Promise<Readout>;
  /** Activations of the circuit's nodes at the token containing `offset`. */
  activations(text: string, offset: number, task: string, ablation: Ablation): Promise<Record<string, number>>;
  /** The tokens of `text` where node `nodeId` is most active (|value|), best first. */
  topTokens(text: string, nodeId: string, limit: number): Promise<{ start: number; end: number; text: string; value: number }[]>;
  /** Resolves when the model's runs in progress have finished and its worker threads have stopped. */
  dispose(): Promise<void>;
}
