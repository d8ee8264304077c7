// The attention overlay in the editor: the tokens a head attends to from the query token, tinted with
// a background whose strength follows the weight (core/attentionText tint levels), the query token
// outlined, and the head's sentence (sink share, top tokens) in the status bar. It stays until the
// cursor moves, the text changes, its editor is closed or hidden, or another overlay replaces it.
import * as vscode from 'vscode';
import type { AttentionAt, HeadPattern } from '../core/attention';
import { describeHead, TINT_LEVELS, tintedTokens, type TintedToken } from '../core/attentionText';
import { Disposable } from './panel/disposable';

/** What the overlay drew, for the integration tests (test hooks). */
export interface RenderedAttention {
  readonly uri: vscode.Uri;
  readonly layer: number;
  readonly head: number;
  readonly query: { readonly start: number; readonly end: number };
  readonly tinted: readonly TintedToken[];
  /** The head's weight on every token of its window, the start of the file, a notebook cell's cells above and the sink (they make 1). */
  readonly weights: readonly number[];
  readonly startOfText: number;
  readonly above: number;
  readonly sink: number;
  readonly message: string;
}

// alpha of each tint level: light enough at the top that the text stays readable in both themes
const ALPHA = [0.1, 0.2, 0.32, 0.45, 0.6];
const tint = (rgb: string, level: number) => `rgba(${rgb}, ${ALPHA[level]})`;

export class AttentionOverlay extends Disposable {
  private readonly levels = TINT_LEVELS.map((_, level) =>
    this.register(
      vscode.window.createTextEditorDecorationType({
        // orange (Okabe–Ito), darker on light backgrounds
        dark: { backgroundColor: tint('230, 159, 0', level) },
        light: { backgroundColor: tint('213, 94, 0', level) },
        borderRadius: '2px',
        overviewRulerColor: level === TINT_LEVELS.length - 1 ? 'rgba(230, 159, 0, 0.8)' : undefined,
        overviewRulerLane: vscode.OverviewRulerLane.Center,
      }),
    ),
  );
  private readonly queryMark = this.register(vscode.window.createTextEditorDecorationType({ border: '1px solid', borderColor: new vscode.ThemeColor('editorCursor.foreground'), borderRadius: '2px' }));
  private readonly status = this.register(vscode.window.createStatusBarItem('circuitInspector.attention', vscode.StatusBarAlignment.Left, 10));
  private readonly rendered = this.register(new vscode.EventEmitter<RenderedAttention | undefined>());
  /** Fires with what was drawn, and with undefined when the overlay is cleared. */
  readonly onDidRender = this.rendered.event;
  private shownIn: vscode.TextEditor | undefined;

  constructor() {
    super();
    this.status.name = 'Circuit Inspector: where attention looks';
    this.register(vscode.window.onDidChangeTextEditorSelection((e) => e.textEditor === this.shownIn && this.clear()));
    this.register(vscode.workspace.onDidChangeTextDocument((e) => e.document === this.shownIn?.document && e.contentChanges.length > 0 && this.clear()));
    // its editor closed or hidden: the status bar would go on naming a token of a file no longer shown
    this.register(vscode.window.onDidChangeVisibleTextEditors((editors) => this.shownIn && !editors.includes(this.shownIn) && this.clear()));
  }

  /** Draws `head`'s pattern; `why`: the head was drawn by default, for this reason (said in the status bar). */
  show(editor: vscode.TextEditor, at: AttentionAt, head: HeadPattern, why?: string): RenderedAttention {
    this.clear();
    const doc = editor.document;
    const range = (t: { start: number; end: number }) => new vscode.Range(doc.positionAt(t.start), doc.positionAt(t.end));
    const tinted = tintedTokens(at, head);
    this.levels.forEach((type, level) => editor.setDecorations(type, tinted.filter((t) => t.level === level).map(range)));
    editor.setDecorations(this.queryMark, [range(at.query)]);
    const message = `${describeHead(at, head)}${why ? `; drawn by default: ${why}` : ''}`;
    this.status.text = `$(eye) ${message}`;
    // markdown, so that the tokens' code spans show as code (the status bar itself renders none)
    this.status.tooltip = new vscode.MarkdownString(`Circuit Inspector: where attention looks — ${message}. Tinted: the tokens it attends to, stronger for more weight. Moving the cursor clears it.`);
    this.status.show();
    this.shownIn = editor;
    const out = { uri: doc.uri, layer: at.layer, head: head.head, query: at.query, tinted, weights: [...head.weights], startOfText: head.startOfText, above: head.above ?? 0, sink: head.sink, message };
    this.rendered.fire(out);
    return out;
  }

  clear(): void {
    if (!this.shownIn) return;
    const editor = this.shownIn;
    if (vscode.window.visibleTextEditors.includes(editor)) for (const type of [...this.levels, this.queryMark]) editor.setDecorations(type, []);
    this.status.hide();
    this.shownIn = undefined;
    this.rendered.fire(undefined);
  }
}
