// "Save as circuit": the circuit "Why this token?" found last, as a circuit file in the bundle
// format (core/foundCircuit: the contrast, the position and the evidence under "found") with a
// firing rule (core/foundFiring) so that it highlights code, written to the workspace's
// `.circuit-inspector/` folder; ./savedCircuits then loads it beside the shipped circuits.
import * as vscode from 'vscode';
import { NO_ABLATION } from '../core/analysis';
import { foundFiring } from '../core/foundFiring';
import type { LoadedModel } from './loadedModel';
import { modelFor } from './notebookCells';
import type { SavedCircuits } from './savedCircuits';
import type { WhyThisToken } from './whyThisToken';

export const SAVE_COMMAND = 'circuitInspector.saveFoundCircuit';

/** Returns the file written, or undefined (with a message) when there is nothing to save or nowhere to save it. */
export async function saveFoundCircuit(why: WhyThisToken, model: LoadedModel | undefined, saved: SavedCircuits): Promise<vscode.Uri | undefined> {
  const last = why.last;
  if (!last || !model) {
    void vscode.window.showInformationMessage('Circuit Inspector: no circuit found yet; use "Why this token?" first.');
    return undefined;
  }
  const folder = saved.folder;
  if (!folder) {
    void vscode.window.showInformationMessage('Circuit Inspector: open a folder to save circuits in (they go to its .circuit-inspector folder).');
    return undefined;
  }
  const doc = await vscode.workspace.openTextDocument(last.document);
  const activations = await modelFor(model, doc).activations(doc.getText(), last.discovery.position.offset, last.file.task, NO_ABLATION);
  const firing = foundFiring(last.discovery, activations);
  const file = { ...last.file, ...(firing ? { firing } : {}) };
  const uri = vscode.Uri.joinPath(folder, `${file.task}.json`);
  await vscode.workspace.fs.createDirectory(folder);
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(JSON.stringify(file, null, 1) + '\n'));
  await saved.reload(); // at once, not when the watcher reports it
  return uri;
}
