// Editor decorations for circuit firing. One colour family per circuit (two contributed theme
// colours: one per side of its contrast, from the Okabe–Ito colour-blind-safe palette), strength
// shown by the underline's weight in three steps, and an overview-ruler mark. A separate wavy
// marker shows tokens whose predicted class flips under the current ablation.
import * as vscode from 'vscode';

/** What the decorations need to know about one token (UTF-16 offsets into the document). */
export interface FiringSpan {
  readonly start: number;
  readonly end: number;
  readonly task: string;
  /** 0 or 1: the side of the contrast the circuit's value points to. */
  readonly cls: 0 | 1;
  /** |value| / threshold (≥ 1 where the circuit fires). */
  readonly strength: number;
}

export interface RenderedHighlights {
  readonly uri: vscode.Uri;
  readonly spans: readonly FiringSpan[];
  readonly flipped: readonly [number, number][];
}

const LEVELS = [1, 2, 4]; // strength thresholds for 1, 2 and 3 px underlines

export function colorId(task: string, cls: 0 | 1): string {
  const camel = task.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return `circuitInspector.${camel}.class${cls}`;
}

export function strengthLevel(strength: number): number {
  let level = 0;
  for (let i = 0; i < LEVELS.length; i++) if (strength >= LEVELS[i]) level = i;
  return level;
}

export class Highlights implements vscode.Disposable {
  private readonly types = new Map<string, vscode.TextEditorDecorationType>();
  private readonly flipped = vscode.window.createTextEditorDecorationType({
    textDecoration: 'underline wavy',
    color: new vscode.ThemeColor('circuitInspector.flippedPrediction'),
    overviewRulerColor: new vscode.ThemeColor('circuitInspector.flippedPrediction'),
    overviewRulerLane: vscode.OverviewRulerLane.Left,
  });
  private readonly rendered = new vscode.EventEmitter<RenderedHighlights>();
  /** The decorations of a document were replaced (nothing listens in the packaged extension; the test hooks do). */
  readonly onDidRender: vscode.Event<RenderedHighlights> = this.rendered.event;

  private typeFor(task: string, cls: 0 | 1, level: number): vscode.TextEditorDecorationType {
    const key = `${task}/${cls}/${level}`;
    let t = this.types.get(key);
    if (!t) {
      const color = new vscode.ThemeColor(colorId(task, cls));
      t = vscode.window.createTextEditorDecorationType({
        borderStyle: 'none none solid none',
        borderWidth: `0 0 ${level + 1}px 0`,
        borderColor: color,
        overviewRulerColor: level === LEVELS.length - 1 ? color : undefined,
        overviewRulerLane: vscode.OverviewRulerLane.Right,
        rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
      });
      this.types.set(key, t);
    }
    return t;
  }

  /** Replace the decorations of `editor` (spans and flips are for its document's current text). */
  render(editor: vscode.TextEditor, spans: readonly FiringSpan[], flipped: readonly [number, number][]): void {
    const doc = editor.document;
    const byType = new Map<vscode.TextEditorDecorationType, vscode.Range[]>();
    for (const t of this.types.values()) byType.set(t, []);
    for (const s of spans) {
      const t = this.typeFor(s.task, s.cls, strengthLevel(s.strength));
      const list = byType.get(t) ?? [];
      list.push(new vscode.Range(doc.positionAt(s.start), doc.positionAt(s.end)));
      byType.set(t, list);
    }
    for (const [t, ranges] of byType) editor.setDecorations(t, ranges);
    editor.setDecorations(this.flipped, flipped.map(([a, b]) => new vscode.Range(doc.positionAt(a), doc.positionAt(b))));
    this.rendered.fire({ uri: doc.uri, spans, flipped });
  }

  dispose(): void {
    this.rendered.dispose();
    for (const t of this.types.values()) t.dispose();
    this.flipped.dispose();
  }
}
