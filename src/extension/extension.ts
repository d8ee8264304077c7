// Thin entry point: wires VS Code to the core. Everything that does not need `vscode` lives in src/core.
import * as vscode from 'vscode';

export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('circuitInspector.showCircuitAtCursor', () => undefined),
  );
}

export function deactivate(): void {
  // nothing to release yet
}
