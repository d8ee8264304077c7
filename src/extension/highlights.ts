// Editor decorations for circuit firing. One colour family per circuit (two contributed theme
// colours: one per side of its contrast, from the Okabe–Ito colour-blind-safe palette) and an
// overview-ruler mark. Nothing covers or strikes through the text: a circuit is drawn either as a
// tinted background ('fill') or as an underline set below the descenders ('line', so `class_name`
// keeps its underscore), and circuits alternate between the two (quote: fill, bracket: line, …), so
// two circuits on one token are both visible. Strength in three clearly different steps: the
// fill's tint at half, then all of its strongest (FILL_PERCENT), then that with a 1 px outline; the
// line dotted 1 px / solid 2 px / solid 3 px. A separate wavy marker shows tokens whose predicted
// class flips under the current ablation.
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

const LEVELS = [1, 2, 4]; // strength (|value| / threshold) where levels 1, 2 and 3 start

export function colorId(task: string, cls: 0 | 1): string {
  // the shipped tasks have colours of their own; any other (a saved or found circuit) shares one pair
  const camel = STYLE_ORDER.includes(task) ? task.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) : 'userCircuit';
  return `circuitInspector.${camel}.class${cls}`;
}

/** The CSS variable VS Code defines for a contributed theme colour (`a.b` → `--vscode-a-b`). */
export function colorVar(id: string): string {
  return `var(--vscode-${id.replace(/\./g, '-')})`;
}

export type HighlightStyle = 'fill' | 'line';

/** The shipped tasks in the order they alternate between fill and line; any other task by its name. */
const STYLE_ORDER = ['single_double_quote', 'bracket_counting', 'while_return_true', 'if_equals'];

export function highlightStyle(task: string): HighlightStyle {
  const i = STYLE_ORDER.indexOf(task);
  const n = i >= 0 ? i : [...task].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  return n % 2 === 0 ? 'fill' : 'line';
}

/**
 * The fill's tint per theme kind and side, in % of the circuit's colour over the editor background,
 * per strength level. The strongest keeps the theme's string text at ≥ 4.5:1 (WCAG AA) on every
 * fill colour's default (package.json) in Light Modern (#a31515 on #ffffff) and Dark Modern (#ce9178
 * on #1f1f1f): on a dark background the light side-1 colours (#56B4E9, …) brighten it, so they
 * tint least (test/unit/highlightContrast.test.ts measures it). The top level adds an outline,
 * which leaves the text's contrast alone, so it stays distinct from the one below.
 */
export const FILL_PERCENT: Readonly<Record<'light' | 'dark', readonly [readonly number[], readonly number[]]>> = {
  light: [
    [15, 30, 30],
    [24, 48, 48],
  ],
  dark: [
    [10, 20, 20],
    [7, 13, 13],
  ],
};
const LINE = ['1px dotted', '2px solid', '3px solid'];

/** The decoration of one circuit side at one strength level (0–2). */
export function decorationOptions(task: string, cls: 0 | 1, level: number): vscode.DecorationRenderOptions {
  const id = colorId(task, cls);
  const color = new vscode.ThemeColor(id);
  const common = {
    overviewRulerColor: level === LEVELS.length - 1 ? color : undefined,
    overviewRulerLane: vscode.OverviewRulerLane.Right,
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  };
  if (highlightStyle(task) === 'fill') {
    const fill = (kind: 'light' | 'dark') => ({ backgroundColor: `color-mix(in srgb, ${colorVar(id)} ${FILL_PERCENT[kind][cls][level]}%, transparent)` });
    const outline = level === LEVELS.length - 1 ? { outline: `1px solid ${colorVar(id)}` } : {};
    return { ...common, light: fill('light'), dark: fill('dark'), borderRadius: '2px', ...outline };
  }
  // text-decoration (VS Code writes the string into the rule as is): the underline sits 3 px below
  // its usual place, under the underscores, and is not broken around descenders
  return { ...common, textDecoration: `underline ${LINE[level]} ${colorVar(id)}; text-underline-offset: 3px; text-decoration-skip-ink: none` };
}

export function strengthLevel(strength: number): number {
  let level = 0;
  for (let i = 0; i < LEVELS.length; i++) if (strength >= LEVELS[i]) level = i;
  return level;
}

export class Highlights implements vscode.Disposable {
  private readonly types = new Map<string, vscode.TextEditorDecorationType>();
  private readonly flipped = vscode.window.createTextEditorDecorationType({
    textDecoration: `underline wavy ${colorVar('circuitInspector.flippedPrediction')}; text-underline-offset: 3px; text-decoration-skip-ink: none`,
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
      t = vscode.window.createTextEditorDecorationType(decorationOptions(task, cls, level));
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
