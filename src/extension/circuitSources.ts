// Which circuits the model analyses beside the bundle's own: the ones saved in the workspace
// (./savedCircuits) and the circuit "Why this token?" found last (./whyThisToken). Highlights,
// hover and panel then treat them as they treat the shipped circuits, with no special case.
import * as vscode from 'vscode';
import type { Discovery } from '../core/discoverAt';
import type { FoundCircuitFile } from '../core/foundCircuit';
import type { CircuitFile } from '../schemas/circuit';
import type { LoadedModel } from './loadedModel';
import { firstSentence, type SavedCircuits } from './savedCircuits';

/** What "Why this token?" found last: analysed beside the model's circuits, and what "Save as circuit" saves. */
export interface FoundCircuit {
  readonly discovery: Discovery;
  readonly file: FoundCircuitFile;
  readonly document: vscode.Uri;
}

export class CircuitSources {
  private found_: FoundCircuit | undefined;

  constructor(
    private readonly saved: SavedCircuits,
    private readonly warn: (message: string) => void,
  ) {}

  /** The circuit "Why this token?" found last (one at a time: each adds its nodes to every analysis), until another model loads. */
  get found(): FoundCircuit | undefined {
    return this.found_;
  }

  setFound(found: FoundCircuit): void {
    this.found_ = found;
  }

  /** A found circuit names nodes of the model it was found on: a model loaded since forgets it (and has nothing to save). */
  forgetFound(): void {
    this.found_ = undefined;
  }

  /** Gives `model` the saved circuits that can run on it, and the found one unless it was saved; a saved file that cannot run is reported by name and left out. */
  applyTo(model: LoadedModel | undefined): void {
    if (!model) return;
    const extra: CircuitFile[] = [];
    for (const { name, circuit } of this.saved.circuits) {
      const repeated = extra.some((c) => c.task === circuit.task) ? `${name} repeats task ${circuit.task}, which another saved circuit has` : undefined;
      const why = repeated ?? model.problemWith(circuit, name);
      if (why) this.warn(`${firstSentence(why)}, so it was left out.`);
      else extra.push(circuit);
    }
    const found = this.found_?.file;
    if (found && !extra.some((c) => c.task === found.task)) extra.push(found);
    model.setExtraCircuits(extra);
  }
}

/** Warnings about saved circuits, each shown once per session (the folder is re-read on every change and model load). */
export class Warnings {
  /** The messages shown so far. */
  readonly shown = new Set<string>();

  constructor(private readonly log: vscode.LogOutputChannel) {}

  readonly warn = (message: string): void => {
    this.log.warn(message);
    if (this.shown.has(message)) return;
    this.shown.add(message);
    void vscode.window.showWarningMessage(`Circuit Inspector: ${message}`);
  };
}
