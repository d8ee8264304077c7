// Disposable base class (after vscode-extension-samples' custom-editor-sample `dispose.ts`).

import type * as vscode from 'vscode';

export function disposeAll(disposables: vscode.Disposable[]): void {
  while (disposables.length) {
    const d = disposables.pop();
    try {
      d?.dispose();
    } catch {
      // Keep disposing the rest; one failing disposable must not leak the others.
    }
  }
}

export abstract class Disposable implements vscode.Disposable {
  private disposed = false;
  protected readonly disposables: vscode.Disposable[] = [];

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeAll(this.disposables);
  }

  /** Ties `d` to this object's lifetime (disposed immediately if this is already disposed). */
  register<T extends vscode.Disposable>(d: T): T {
    if (this.disposed) d.dispose();
    else this.disposables.push(d);
    return d;
  }
}
