// Status bar item: which model is loaded, where it runs, and how long the last analysis took.
import * as vscode from 'vscode';

export type ModelStatus =
  | { readonly kind: 'loading' }
  | { readonly kind: 'ready'; readonly model: string; readonly provider: string; readonly lastMs?: number; readonly note?: string }
  | { readonly kind: 'missing' | 'error'; readonly message: string };

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('circuitInspector.status', vscode.StatusBarAlignment.Right, 100);

  constructor() {
    this.item.name = 'Circuit Inspector';
    this.item.command = 'circuitInspector.showOutput';
    this.show({ kind: 'loading' });
    this.item.show();
  }

  show(status: ModelStatus): void {
    switch (status.kind) {
      case 'loading':
        this.item.text = '$(loading~spin) Circuits';
        this.item.tooltip = 'Circuit Inspector: loading the model…';
        this.item.backgroundColor = undefined;
        break;
      case 'ready': {
        const ms = status.lastMs === undefined ? '' : ` · ${Math.round(status.lastMs)} ms`;
        this.item.text = `$(circuit-board) ${status.provider.toUpperCase()}${ms}`;
        this.item.tooltip = new vscode.MarkdownString(
          `**Circuit Inspector**\n\nModel \`${status.model}\` on **${status.provider.toUpperCase()}**` +
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
    this.item.dispose();
  }
}
