// Which notebook a Python cell belongs to, and what the model reads before it (core/cellContext):
// the cells are found in the open notebooks at the time of asking, so a cell added, removed, moved
// or edited above is part of the answer as soon as VS Code reports it.
import * as vscode from 'vscode';
import { type CellSource, isPythonCell, leftContext } from '../core/cellContext';
import type { LoadedModel } from './loadedModel';
import { CellModel } from './notebookCellModel';

/** `model` for the features of `doc`: in its notebook's context when `doc` is a cell, else as it is. */
export function modelFor(model: LoadedModel, doc: vscode.TextDocument): LoadedModel;
export function modelFor(model: LoadedModel | undefined, doc: vscode.TextDocument): LoadedModel | undefined;
export function modelFor(model: LoadedModel | undefined, doc: vscode.TextDocument): LoadedModel | undefined {
  const context = model && cellContextOf(doc);
  return model && context !== undefined ? new CellModel(model, context) : model;
}

/** The notebook holding `doc` and the cell's index in it, when `doc` is a cell of an open notebook. */
function cellOf(doc: vscode.TextDocument): { readonly notebook: vscode.NotebookDocument; readonly index: number } | undefined {
  if (doc.uri.scheme !== 'vscode-notebook-cell') return undefined;
  for (const notebook of vscode.workspace.notebookDocuments) {
    const index = notebook.getCells().findIndex((c) => c.document === doc);
    if (index >= 0) return { notebook, index };
  }
  return undefined;
}

/** The cell as core/cellContext reads it; its text is read only if asked for (leftContext reads only the nearest cells). */
function sourceOf(cell: vscode.NotebookCell): CellSource {
  return {
    code: cell.kind === vscode.NotebookCellKind.Code,
    language: cell.document.languageId,
    get text() {
      return cell.document.getText();
    },
  };
}

/** The text the model reads before `doc` when it is a notebook cell (the Python cells above it); undefined for any other document. */
export function cellContextOf(doc: vscode.TextDocument): string | undefined {
  const at = cellOf(doc);
  return at && leftContext(at.notebook.getCells().map(sourceOf), at.index);
}

/** False for a notebook cell that the kernel does not run as Python (`%%bash`, …: core/cellContext); true for any other document. */
export function runsAsPython(doc: vscode.TextDocument): boolean {
  const at = cellOf(doc);
  return !at || isPythonCell(sourceOf(at.notebook.cellAt(at.index)));
}

/** The documents of the cells below `doc` in its notebook (none when `doc` is not a cell): their left context includes `doc`. */
export function cellsBelow(doc: vscode.TextDocument): vscode.TextDocument[] {
  const at = cellOf(doc);
  return at ? at.notebook.getCells().slice(at.index + 1).map((c) => c.document) : [];
}
