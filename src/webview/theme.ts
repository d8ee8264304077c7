// The colours and fonts the graph uses, read from VS Code's `--vscode-*` CSS variables. Pure: the
// caller passes a getter (in the webview, `getComputedStyle(document.documentElement)`), so this is
// testable and the SVG export uses exactly what the canvas shows.

import { DARK_PALETTE, type DivergingPalette, isDark, LIGHT_PALETTE, mixOklab, parseColor, type Rgb, toHex } from './colors';

export type ThemeKind = 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';

export interface Theme {
  readonly kind: ThemeKind;
  readonly background: string;
  readonly foreground: string;
  /** Secondary text (row labels, captions). */
  readonly muted: string;
  /** Hairlines and node borders. */
  readonly border: string;
  /** Selection / focus ring. */
  readonly focus: string;
  /** Layer band fill (slightly off the background). */
  readonly band: string;
  readonly fontFamily: string;
  readonly monoFontFamily: string;
  readonly palette: DivergingPalette;
  /** Fill of an ablated node. */
  readonly ablatedFill: string;
}

/** `get(name)` returns the computed value of a CSS custom property, or '' when unset. */
export function themeFromCss(get: (name: string) => string, bodyClasses: readonly string[]): Theme {
  const kind: ThemeKind = bodyClasses.includes('vscode-high-contrast-light')
    ? 'high-contrast-light'
    : bodyClasses.includes('vscode-high-contrast')
      ? 'high-contrast'
      : bodyClasses.includes('vscode-dark')
        ? 'dark'
        : 'light';
  const darkDefault = kind === 'dark' || kind === 'high-contrast';
  const bgText = first(get, ['--vscode-editor-background', '--vscode-sideBar-background'], darkDefault ? '#1e1e1e' : '#ffffff');
  const bg: Rgb = parseColor(bgText) ?? (darkDefault ? { r: 30, g: 30, b: 30 } : { r: 255, g: 255, b: 255 });
  const dark = isDark(bg);
  const fgText = first(get, ['--vscode-editor-foreground', '--vscode-foreground'], dark ? '#cccccc' : '#3b3b3b');
  const fg: Rgb = parseColor(fgText) ?? (dark ? { r: 204, g: 204, b: 204 } : { r: 59, g: 59, b: 59 });
  const mutedText = first(get, ['--vscode-descriptionForeground'], '');
  const muted = parseColor(mutedText) ?? mixOklab(fg, bg, 0.35);
  const highContrast = kind === 'high-contrast' || kind === 'high-contrast-light';
  const borderText = first(get, highContrast ? ['--vscode-contrastBorder'] : [], '');
  const border = parseColor(borderText) ?? mixOklab(fg, bg, 0.55);
  const focus = parseColor(first(get, ['--vscode-focusBorder'], '')) ?? (dark ? { r: 0x00, g: 0x7f, b: 0xd4 } : { r: 0x00, g: 0x5f, b: 0xb8 });
  const palette = dark ? DARK_PALETTE : LIGHT_PALETTE;
  return {
    kind,
    background: toHex(bg),
    foreground: toHex(fg),
    muted: toHex(muted),
    border: toHex(border),
    focus: toHex(focus),
    band: toHex(mixOklab(bg, fg, dark ? 0.045 : 0.03)),
    fontFamily: canvasFontFamily(first(get, ['--vscode-font-family'], ''), 'system-ui, -apple-system, "Segoe UI", sans-serif'),
    monoFontFamily: canvasFontFamily(first(get, ['--vscode-editor-font-family'], ''), 'ui-monospace, "SF Mono", Menlo, Consolas, monospace'),
    palette,
    ablatedFill: toHex(mixOklab(bg, fg, dark ? 0.12 : 0.08)),
  };
}

/**
 * A CSS font-family list in the form cytoscape's style parser accepts: it allows only word
 * characters, spaces, hyphens and double quotes per family (regex `[\w- "]+`), so VS Code's
 * `'Droid Sans Mono', 'monospace', monospace` (single quotes) was refused with a console warning
 * per style and the labels fell back to the default font. Single quotes become double quotes;
 * a family with any other character (a dot, an escape) is dropped; `fallback` if nothing is left.
 */
export function canvasFontFamily(css: string, fallback: string): string {
  const families = css
    .split(',')
    .map((f) => f.trim().replace(/^'(.*)'$/, '"$1"'))
    .filter((f) => f.length > 0 && /^(?:"[\w -]+"|[\w -]+)$/.test(f));
  return families.length > 0 ? families.join(', ') : fallback;
}

function first(get: (name: string) => string, names: readonly string[], fallback: string): string {
  for (const n of names) {
    const v = get(n).trim();
    if (v) return v;
  }
  return fallback;
}
