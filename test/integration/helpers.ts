// Shared helpers for the integration tests (they run inside the VS Code extension host).
import * as path from 'path';
import * as vscode from 'vscode';

export const EXTENSION_ID = 'circuit-inspector.circuit-inspector';
// compiled to out/test/integration/, so the repository is three levels up
export const repoDir = path.resolve(__dirname, '..', '..', '..');
export const fixturesDir = path.join(repoDir, 'test', 'fixtures');
export const workspaceDir = path.join(fixturesDir, 'workspace');

/** Ask the offline driver for a screenshot of the whole workbench (no-op under test-electron). */
export async function screenshot(name: string): Promise<void> {
  const port = process.env.VSCODE_TEST_DRIVER_PORT;
  if (port) await fetch(`http://127.0.0.1:${port}/screenshot?name=${encodeURIComponent(name)}`).catch(() => undefined);
}

/** The text of every hover VS Code's providers give at `pos` (Markdown), joined by newlines. */
export async function hoverText(uri: vscode.Uri, pos: vscode.Position): Promise<string> {
  const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, pos);
  return hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : (c as vscode.MarkdownString).value))).join('\n');
}

export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && (v as unknown) !== false) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function openFixture(name: string): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument(path.join(workspaceDir, name));
  return vscode.window.showTextDocument(doc);
}

export interface TestState {
  model?: string;
  provider?: string;
  error?: string;
  /** Analyses of documents running now. */
  inFlight?: number;
  /** Every error the extension has logged since it started, in order. */
  errors?: string[];
  decorations?: { spans: { start: number; end: number; task: string; cls: 0 | 1; strength: number }[]; flipped: [number, number][] };
  /** When the editor first drew the document's highlights (Date.now() in the extension host). */
  firstDrawnAt?: number;
  /** Per analysed token: each task's firing, and its logit difference without and (while ablating) with the ablation. */
  tokens?: { start: number; end: number; circuits: Record<string, { fires: boolean; applies: boolean; value: number }>; logitDiff: Record<string, number>; ablatedLogitDiff?: Record<string, number> }[];
  panel?: { circuit: { task: string; nodes: { id: string }[] }; readout: { target: 0 | 1; before: { probs: [number, number]; logitDiff: number }; after: { probs: [number, number]; logitDiff: number } | null; words?: { prediction: string; change: string | null }; faithfulness: number | null; allAblated: number | null } | null; ablated: string[]; busy: boolean; choices?: { task: string; title: string; nodes: number }[]; warning?: string };
}

/** The extension's test-only state; activates the extension first, so that a test run alone (VSCODE_TEST_GREP) finds the command. */
export async function testState(uri?: vscode.Uri): Promise<TestState> {
  await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
  return vscode.commands.executeCommand<TestState>('circuitInspector._testState', uri?.toString());
}

/** The model loaded again (its window cache empty) and no analysis running: a test's file is then never found cached from another test. */
export async function freshModel(): Promise<void> {
  await vscode.commands.executeCommand('circuitInspector.reloadModel');
  await waitFor(async () => {
    const s = await testState();
    return s.model && s.inFlight === 0;
  }, 120_000, 'the reloaded model idle');
}

/** testState without every token's readouts, which would start a full analysis of the document: what is painted now. */
export async function paintedState(uri: vscode.Uri): Promise<TestState> {
  await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
  return vscode.commands.executeCommand<TestState>('circuitInspector._testState', uri.toString(), true);
}

/** Runs `command` and presses Enter in each QuickPick it shows (their defaults) until it returns; `beforeEnter` runs once, before the first Enter (a screenshot of the first QuickPick). */
export async function acceptDefaults<T>(command: string, beforeEnter?: () => Promise<void>): Promise<T | undefined> {
  let done = false;
  const run = Promise.resolve(vscode.commands.executeCommand<T | undefined>(command)).finally(() => (done = true));
  while (!done) {
    await new Promise((r) => setTimeout(r, 400));
    await beforeEnter?.();
    beforeEnter = undefined;
    if (!done) await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
  }
  return run;
}
