// Labels users type on nodes in the circuit panel (issue 19). A label lives in the circuit's own
// file, nodes[].label: the found circuit's file (./circuitSources) until it is saved, the saved file
// in `.circuit-inspector/` after that (./savedCircuits). So "Save as circuit", a shared file and the
// panel's JSON export (which writes the circuit's labels) all carry it, and a saved file brings it
// back. The shipped circuits belong to the model bundle, which the extension does not rewrite.
import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import type { CircuitFile } from '../schemas/circuit';
import type { CircuitController } from './circuitController';
import type { CircuitSources } from './circuitSources';
import type { CircuitPanelController, NodeLabelRequest } from './panel/circuitPanel';
import type { SavedCircuits } from './savedCircuits';

/** Why a label was not kept: the circuit is one of the model's own. */
export const SHIPPED_LABELS = 'Labels are kept for circuits found with "Why this token?" and saved circuits; the model\'s own circuits are read-only.';

/** `circuit` with node `nodeId` labelled `label` (empty: the node's id). */
export function relabel<C extends CircuitFile>(circuit: C, nodeId: string, label: string): C {
  const text = label.trim() || nodeId;
  return { ...circuit, nodes: circuit.nodes.map((n) => (n.id === nodeId ? { ...n, label: text } : n)) };
}

/**
 * Keeps `request`'s label in the found circuit and in the saved file of the same task, whichever
 * exist; `changed` then gives the model the circuits again (the panel re-reads the label from
 * there). Returns SHIPPED_LABELS where neither does.
 */
export async function setNodeLabel(request: NodeLabelRequest, sources: CircuitSources, saved: SavedCircuits, changed: () => Promise<void>): Promise<string | undefined> {
  const { task, nodeId, label } = request;
  const found = sources.found;
  const isFound = found?.file.task === task;
  if (found && isFound) sources.setFound({ ...found, file: relabel(found.file, nodeId, label) });
  const wasSaved = await saved.setLabel(task, nodeId, label.trim() || nodeId);
  if (!isFound && !wasSaved) return SHIPPED_LABELS;
  await changed();
  return undefined;
}

/** Keeps every label the panel asks for, then shows the circuit again with it (same ablation); says so where it cannot. */
export function keepNodeLabels(panel: CircuitPanelController, controller: CircuitController, sources: CircuitSources, saved: SavedCircuits, circuitsChanged: () => void): vscode.Disposable {
  const changed = async () => {
    circuitsChanged();
    const { nodes, mode, circuitOnly } = controller.ablation;
    await controller.setAblation([...nodes], mode, circuitOnly !== undefined);
  };
  return panel.onDidRequestLabel((request) =>
    void setNodeLabel(request, sources, saved, changed).then(
      (refused) => refused && void vscode.window.showInformationMessage(`Circuit Inspector: ${refused}`),
      (e: unknown) => void vscode.window.showErrorMessage(`Circuit Inspector: the label was not kept: ${errorMessage(e)}`),
    ),
  );
}
