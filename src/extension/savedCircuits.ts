// Circuits saved in a workspace folder's `.circuit-inspector/` ("Save as circuit", or files others
// shared): read at activation and again whenever a file there is created, changed or deleted, each
// checked with the circuit schema. A broken file is reported by name and left out; the other files
// (and the model's own circuits) stay. ./circuitSources decides which of them the model runs.
import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import { circuitFile, type CircuitFile } from '../schemas/circuit';
import { parse } from '../schemas/validate';

export const SAVED_DIR = '.circuit-inspector';

export interface SavedCircuit {
  /** The file as the messages name it (relative to the workspace). */
  readonly name: string;
  readonly uri: vscode.Uri;
  readonly circuit: CircuitFile;
}

export class SavedCircuits implements vscode.Disposable {
  private files: readonly SavedCircuit[] = [];
  private reading = Promise.resolve();
  private readonly changed = new vscode.EventEmitter<void>();
  /** The saved circuits were read again. */
  readonly onDidChange: vscode.Event<void> = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];

  constructor(private readonly warn: (message: string) => void) {
    const watcher = vscode.workspace.createFileSystemWatcher(`**/${SAVED_DIR}/*.json`);
    const reread = () => void this.reload();
    this.disposables.push(watcher, watcher.onDidCreate(reread), watcher.onDidChange(reread), watcher.onDidDelete(reread), vscode.workspace.onDidChangeWorkspaceFolders(reread));
  }

  get circuits(): readonly SavedCircuit[] {
    return this.files;
  }

  /** The folder a circuit is saved in: the first workspace folder's (undefined without a folder). */
  get folder(): vscode.Uri | undefined {
    const root = vscode.workspace.workspaceFolders?.[0]?.uri;
    return root && vscode.Uri.joinPath(root, SAVED_DIR);
  }

  /** Reads every folder's saved circuits again (one read at a time: watcher events come in bursts). */
  reload(): Promise<void> {
    return (this.reading = this.reading.then(async () => {
      this.files = (await Promise.all((vscode.workspace.workspaceFolders ?? []).map((f) => this.readFolder(vscode.Uri.joinPath(f.uri, SAVED_DIR))))).flat();
      this.changed.fire();
    }));
  }

  /**
   * Writes `label` into node `nodeId` of the saved file of `task`, leaving the rest of the file as it
   * was (its "found" and "firing" too), and reads the folder again; false when no saved file has the task.
   */
  async setLabel(task: string, nodeId: string, label: string): Promise<boolean> {
    const file = this.files.find((f) => f.circuit.task === task);
    if (!file) return false;
    const json = JSON.parse(new TextDecoder().decode(await vscode.workspace.fs.readFile(file.uri))) as { nodes: { id: string; label: string }[] };
    for (const n of json.nodes) if (n.id === nodeId) n.label = label;
    await vscode.workspace.fs.writeFile(file.uri, new TextEncoder().encode(JSON.stringify(json, null, 1) + '\n'));
    await this.reload();
    return true;
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }

  private async readFolder(dir: vscode.Uri): Promise<SavedCircuit[]> {
    let entries: [string, vscode.FileType][];
    try {
      entries = await vscode.workspace.fs.readDirectory(dir);
    } catch {
      return []; // no saved circuits in this folder
    }
    const names = entries.filter(([n, type]) => type === vscode.FileType.File && n.endsWith('.json')).map(([n]) => n).sort();
    const read = await Promise.all(names.map((n) => this.readFile(vscode.Uri.joinPath(dir, n))));
    return read.filter((c): c is SavedCircuit => c !== undefined);
  }

  private async readFile(uri: vscode.Uri): Promise<SavedCircuit | undefined> {
    const name = vscode.workspace.asRelativePath(uri);
    try {
      const json: unknown = JSON.parse(new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)));
      return { name, uri, circuit: parse(circuitFile, json, name) };
    } catch (e) {
      this.warn(`${name} is not a valid circuit file (${firstSentence(errorMessage(e))}), so it was left out.`);
      return undefined;
    }
  }
}

/** The first sentence of a message, without its full stop (to fit it into one sentence of ours). */
export function firstSentence(message: string): string {
  return message.split(/\.(\s|$)/)[0];
}
