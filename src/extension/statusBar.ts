// Status bar item: which model is loaded, where it runs, how long the last analysis took, and
// whether one is running (after BUSY_AFTER_MS, so the quick re-analysis after an edit never blinks).
import * as vscode from 'vscode';

export type ModelStatus =
  | { readonly kind: 'loading' }
  | { readonly kind: 'ready'; readonly model: string; readonly provider: string; readonly lastMs?: number; readonly note?: string }
  | { readonly kind: 'missing' | 'error'; readonly message: string };

const BUSY_AFTER_MS = 500;

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('circuitInspector.status', vscode.StatusBarAlignment.Right, 100);
  private status: ModelStatus = { kind: 'loading' };
  private busy = false;
  private busyTimer: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    this.item.name = 'Circuit Inspector';
    this.item.command = 'circuitInspector.showOutput';
    this.show({ kind: 'loading' });
    this.item.show();
  }

  /** How many analyses are running now (Documents.onDidChangeRunning). */
  setRunning(running: number): void {
    if (running === 0) {
      clearTimeout(this.busyTimer);
      this.busyTimer = undefined;
      if (this.busy) this.setBusy(false);
    } else if (!this.busy && this.busyTimer === undefined) {
      this.busyTimer = setTimeout(() => this.setBusy(true), BUSY_AFTER_MS);
    }
  }

  private setBusy(busy: boolean): void {
    this.busyTimer = undefined;
    this.busy = busy;
    this.show(this.status);
  }

  show(status: ModelStatus): void {
    this.status = status;
    switch (status.kind) {
      case 'loading':
        this.item.text = '$(loading~spin) Circuits';
        this.item.tooltip = 'Circuit Inspector: loading the model…';
        this.item.backgroundColor = undefined;
        break;
      case 'ready': {
        const ms = status.lastMs === undefined ? '' : ` · ${Math.round(status.lastMs)} ms`;
        this.item.text = `${this.busy ? '$(sync~spin)' : '$(circuit-board)'} ${status.provider.toUpperCase()}${ms}`;
        this.item.tooltip = new vscode.MarkdownString(
          `**Circuit Inspector**\n\nModel \`${status.model}\` on **${status.provider.toUpperCase()}**` +
            (this.busy ? '\n\nAnalysing…' : '') +
            (status.lastMs === undefined ? '' : `\n\nLast analysis: ${status.lastMs.toFixed(0)} ms`) +
            (status.note ? `\n\n${status.note}` : '') +
            '\n\nClick for the log.',
        );
        this.item.backgroundColor = undefined;
        break;
      }
      case 'missing':
      case 'error':
        this.item.text = '$(warning) Circuits';
        this.item.tooltip = `Circuit Inspector: ${status.message}`;
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
        break;
    }
  }

  dispose(): void {
    clearTimeout(this.busyTimer);
    this.item.dispose();
  }
}
