// Commands for the integration tests (test/integration), registered only in the test bundle:
// extension.ts calls this under `if (TEST_HOOKS)`, which esbuild defines as false for the packaged
// extension, so none of it ships (scripts/check-package.sh checks the .vsix for `_test`).
import * as vscode from 'vscode';
import type { AblationMode } from '../core/analysis';
import type { AttentionOverlay, RenderedAttention } from './attentionOverlay';
import type { ExportFormat } from '../schemas/messages';
import type { CircuitController } from './circuitController';
import type { Warnings } from './circuitSources';
import type { DocumentState, Documents } from './documents';
import type { DocumentResult } from './loadedModel';
import type { ModelLoader } from './modelLoader';
import type { FiringSpan, Highlights } from './highlights';
import { type CircuitPanelController, PLACEMENT_KEY, VIEW_WIDTH_KEY } from './panel/circuitPanel';
import type { WebviewKind } from './panel/webviewConnection';

export interface TestHookParts {
  readonly loader: ModelLoader;
  readonly docs: Documents;
  readonly highlights: Highlights;
  readonly panel: CircuitPanelController;
  readonly controller: CircuitController;
  readonly warnings: Warnings;
  readonly overlay: AttentionOverlay;
  readonly log: vscode.LogOutputChannel;
}

export function registerTestHooks(context: vscode.ExtensionContext, { loader, docs, highlights, panel, controller, warnings, overlay, log }: TestHookParts): void {
  // what the editor last drew, per document, and when it first drew anything of it (Date.now(): the
  // editor benchmark's first paint, timed here so that the polling test's own interval does not count)
  const shown = new Map<string, { spans: FiringSpan[]; flipped: [number, number][] }>();
  const firstDrawn = new Map<string, number>();
  let attention: RenderedAttention | undefined; // the attention overlay on screen (undefined once cleared)
  let inFlight = 0;
  // every error the extension logs, in order (the output channel has no event for its lines)
  const errors: string[] = [];
  const logError = log.error.bind(log);
  log.error = (message: string | Error, ...args: unknown[]) => {
    errors.push(message instanceof Error ? message.message : message);
    logError(message, ...args);
  };
  context.subscriptions.push(
    docs.onDidChangeRunning((n) => (inFlight = n)),
    highlights.onDidRender((r) => {
      const uri = r.uri.toString();
      shown.set(uri, { spans: [...r.spans], flipped: [...r.flipped] });
      if (!firstDrawn.has(uri)) firstDrawn.set(uri, Date.now());
    }),
    overlay.onDidRender((r) => (attention = r)),
    vscode.commands.registerCommand('circuitInspector._testAttention', () => attention && { ...attention, uri: attention.uri.toString() }),
    vscode.workspace.onDidCloseTextDocument((d) => {
      const uri = d.uri.toString();
      shown.delete(uri);
      firstDrawn.delete(uri);
    }),
    // `painted`: the document's decorations and analysis state without every token's readouts, which
    // start a full analysis of the file (a test timing the first paint must not start one)
    vscode.commands.registerCommand('circuitInspector._testState', async (uri?: string, painted?: boolean) => {
      const state = uri ? docs.state(vscode.Uri.parse(uri)) : undefined;
      const key = uri ? vscode.Uri.parse(uri).toString() : undefined; // the form the maps above are keyed by
      const doc = key ? vscode.workspace.textDocuments.find((d) => d.uri.toString() === key) : undefined;
      const readings = doc && !painted && (await docs.readings(doc));
      return {
        model: loader.model?.modelName,
        circuits: loader.model?.circuits.map((c) => c.task),
        warnings: [...warnings.shown],
        provider: loader.model?.provider,
        error: loader.loadError,
        notice: loader.model?.providerNotice,
        analyzed: uri ? analyzedPart(state) : undefined,
        inFlight,
        errors: [...errors],
        decorations: key ? shown.get(key) : undefined,
        firstDrawnAt: key ? firstDrawn.get(key) : undefined,
        tokens: uri && !painted ? tokenReadouts(state, readings || undefined) : undefined,
        panel: panel.model,
        panelCleared: panel.cleared,
        placement: { viewWidth: panel.viewWidth, opensIn: panel.placement, onScreen: panel.visible },
      };
    }),
    // the user's choice of where "Show circuit at cursor" opens (and with `width`, the side bar's
    // measured width) outlive a run in globalState: a test starts from none
    vscode.commands.registerCommand('circuitInspector._testForgetPlacement', (width?: boolean) =>
      Promise.all([PLACEMENT_KEY, ...(width ? [VIEW_WIDTH_KEY] : [])].map((key) => context.globalState.update(key, undefined))),
    ),
    vscode.commands.registerCommand('circuitInspector._testSetAblation', (nodes: string[], mode?: AblationMode, circuitOnly?: boolean) =>
      controller.setAblation(nodes, mode, circuitOnly),
    ),
    // a label typed in the node details: the webview's setLabel message, as the panel receives it
    // a node selected in the panel: the webview's selectNode message, as the panel receives it
    vscode.commands.registerCommand('circuitInspector._testSelectNode', (nodeId: string) => panel.requestSelect(nodeId)),
    vscode.commands.registerCommand('circuitInspector._testSetLabel', (nodeId: string, label: string) => panel.requestLabel(nodeId, label)),
    // another circuit picked in the panel's circuit dropdown: the webview's chooseCircuit message, as the panel receives it
    vscode.commands.registerCommand('circuitInspector._testChooseCircuit', (task: string) => panel.requestCircuit(task)),
    vscode.commands.registerCommand('circuitInspector._testExport', (format: ExportFormat, target: string, from?: WebviewKind) => panel.exportTo(format, vscode.Uri.file(target), from)),
  );
}

/** Per analysed token, every circuit's firing and logit difference without and with the current ablation. */
function tokenReadouts(state: DocumentState | undefined, readings: DocumentResult | undefined) {
  return readings?.tokens.map((t, i) => ({ start: t.start, end: t.end, circuits: t.circuits, logitDiff: t.logitDiff, ablatedLogitDiff: state?.ablated?.tokens[i]?.logitDiff }));
}

/** Which version of a document the shown results are for, and the part analysed. */
function analyzedPart(state: DocumentState | undefined) {
  return state && { version: state.version, partial: state.base.partial ?? null };
}
