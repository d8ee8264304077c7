// Typed view of the `circuitInspector.*` settings. Workspace trust: in an untrusted workspace a
// bundle path set in the workspace's own settings is ignored (it would make us load and run a
// model file chosen by the repository), so only the user's setting or the shipped bundle count.
import * as vscode from 'vscode';
import type { AblationMode } from '../core/analysis';

export type ProviderSetting = 'auto' | 'cuda' | 'cpu';

export interface Settings {
  readonly provider: ProviderSetting;
  /** Absolute path of a user-chosen bundle, or '' for the shipped one. */
  readonly bundlePath: string;
  readonly highlightsEnabled: boolean;
  /** task → highlights on/off; tasks not listed are on. */
  readonly circuits: Readonly<Record<string, boolean>>;
  readonly thresholdScale: number;
  readonly maxFileBytes: number;
  readonly debounceMs: number;
  readonly ablationMode: AblationMode;
}

export const SECTION = 'circuitInspector';

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration(SECTION);
  return {
    provider: c.get<ProviderSetting>('executionProvider', 'auto'),
    bundlePath: trustedBundlePath(c),
    highlightsEnabled: c.get<boolean>('highlights.enabled', true),
    circuits: c.get<Record<string, boolean>>('highlights.circuits', {}),
    thresholdScale: clamp(c.get<number>('highlights.thresholdScale', 1), 0.1, 10),
    maxFileBytes: Math.max(1, c.get<number>('maxFileSizeKB', 256)) * 1024,
    debounceMs: clamp(c.get<number>('debounceMs', 250), 0, 5000),
    ablationMode: c.get<AblationMode>('ablationMode', 'mean') === 'zero' ? 'zero' : 'mean',
  };
}

function trustedBundlePath(c: vscode.WorkspaceConfiguration): string {
  const inspected = c.inspect<string>('bundlePath');
  if (vscode.workspace.isTrusted) return c.get<string>('bundlePath', '');
  return inspected?.globalValue ?? '';
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
