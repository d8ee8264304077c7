// The extension's output channel ("Circuit Inspector"), with timestamps and levels from VS Code.
import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

export function logChannel(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel('Circuit Inspector', { log: true });
  return channel;
}
