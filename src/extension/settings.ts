// Typed view of the `circuitInspector.*` settings. Workspace trust: in an untrusted workspace a
// bundle path or model folder set in the workspace's own settings is ignored (it would make us load
// and run a model file chosen by the repository), so only the user's settings or the shipped bundle count.
import * as vscode from 'vscode';
import { type AblationMode, DEFAULT_WINDOW_TOKENS, MIN_WINDOW_TOKENS } from '../core/analysis';

export type ProviderSetting = 'auto' | 'cuda' | 'cpu';

export interface Settings {
  readonly provider: ProviderSetting;
  /** A user-chosen bundle: a folder path, or the name of a bundle in models/ or modelFolders; '' for the shipped one. */
  readonly bundlePath: string;
  /** Folders whose bundles "Choose model…" lists beside the shipped ones. */
  readonly modelFolders: readonly string[];
  readonly highlightsEnabled: boolean;
  /** task → highlights on/off; tasks not listed are on. */
  readonly circuits: Readonly<Record<string, boolean>>;
  readonly thresholdScale: number;
  readonly maxFileBytes: number;
  readonly debounceMs: number;
  readonly ablationMode: AblationMode;
  /** Positions per analysis window (core/analysis DEFAULT_WINDOW_TOKENS), capped at the model's context. */
  readonly windowTokens: number;
}

export const SECTION = 'circuitInspector';

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration(SECTION);
  return {
    provider: c.get<ProviderSetting>('executionProvider', 'auto'),
    bundlePath: trusted(c, 'bundlePath', ''),
    modelFolders: trusted<unknown[]>(c, 'modelFolders', []).filter((f): f is string => typeof f === 'string' && f !== ''),
    highlightsEnabled: c.get<boolean>('highlights.enabled', true),
    circuits: c.get<Record<string, boolean>>('highlights.circuits', {}),
    thresholdScale: clamp(c.get<number>('highlights.thresholdScale', 1), 0.1, 10),
    maxFileBytes: Math.max(1, c.get<number>('maxFileSizeKB', 256)) * 1024,
    debounceMs: clamp(c.get<number>('debounceMs', 250), 0, 5000),
    ablationMode: c.get<AblationMode>('ablationMode', 'mean') === 'zero' ? 'zero' : 'mean',
    windowTokens: Math.round(clamp(c.get<number>('windowTokens', DEFAULT_WINDOW_TOKENS), MIN_WINDOW_TOKENS, 65536)),
  };
}

/** A setting that names model files to load: in an untrusted workspace, only the user's own value counts. */
function trusted<T>(c: vscode.WorkspaceConfiguration, key: string, fallback: T): T {
  if (vscode.workspace.isTrusted) return c.get<T>(key, fallback);
  return c.inspect<T>(key)?.globalValue ?? fallback;
}

function clamp(x: number, lo: number, hi: number): number {
  return Number.isFinite(x) ? Math.min(hi, Math.max(lo, x)) : lo;
}

/**
 * Whether a circuit's highlights are drawn: the user's choice for its task when there is one, else
 * on — unless its own evidence says it does not carry its task (core/circuitEvidence), then off.
 */
export function circuitEnabled(settings: Settings, task: string, carriesTask?: boolean): boolean {
  const chosen = Object.hasOwn(settings.circuits, task) ? settings.circuits[task] : undefined;
  return settings.highlightsEnabled && (chosen ?? carriesTask !== false);
}
