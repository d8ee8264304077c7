// The highlights' tints against the text they lie under (src/extension/highlights.ts FILL_PERCENT):
// string text must keep WCAG AA contrast (≥ 4.5:1) on the strongest tint of every fill-style circuit
// colour, in VS Code's Light Modern and Dark Modern themes, with the colours package.json contributes.

import './fake-vscode'; // must come first: installs the fake `vscode` module
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { colorId, FILL_PERCENT, highlightStyle } from '../../src/extension/highlights';
import { contrastRatio, parseColor, type Rgb } from '../../src/webview/colors';

const root = path.resolve(__dirname, '..', '..', '..');

/** The editor background and the string colour of VS Code 1.139's default themes (theme-defaults extension). */
const THEMES = {
  light: { name: 'Light Modern', background: '#ffffff', string: '#a31515' },
  dark: { name: 'Dark Modern', background: '#1f1f1f', string: '#ce9178' },
} as const;

const rgb = (css: string): Rgb => {
  const c = parseColor(css);
  assert.ok(c, css);
  return c;
};

/** `color-mix(in srgb, colour p%, transparent)` drawn over `background`. */
const over = (colour: Rgb, p: number, background: Rgb): Rgb => ({
  r: (p / 100) * colour.r + (1 - p / 100) * background.r,
  g: (p / 100) * colour.g + (1 - p / 100) * background.g,
  b: (p / 100) * colour.b + (1 - p / 100) * background.b,
});

test('string text keeps ≥ 4.5:1 on every fill tint, both sides, every level, in Light Modern and Dark Modern', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { contributes: { colors: { id: string; defaults: Record<string, string> }[] } };
  const colours = new Map(pkg.contributes.colors.map((c) => [c.id, c.defaults]));
  // the shipped fill-style tasks, and a found circuit's (its colour pair is shared by every user circuit)
  const tasks = ['single_double_quote', 'bracket_counting', 'while_return_true', 'if_equals', 'found_1_2_3_vs_4'].filter((t) => highlightStyle(t) === 'fill');
  assert.ok(tasks.includes('single_double_quote'));
  const worst: string[] = [];
  for (const task of tasks) {
    for (const cls of [0, 1] as const) {
      const defaults = colours.get(colorId(task, cls));
      assert.ok(defaults, colorId(task, cls));
      for (const kind of ['light', 'dark'] as const) {
        const theme = THEMES[kind];
        for (const p of FILL_PERCENT[kind][cls]) {
          const ratio = contrastRatio(rgb(theme.string), over(rgb(defaults[kind]), p, rgb(theme.background)));
          if (ratio < 4.5) worst.push(`${colorId(task, cls)} ${defaults[kind]} at ${p} % in ${theme.name}: ${ratio.toFixed(2)}:1`);
        }
      }
    }
  }
  assert.deepEqual(worst, []);
  // the steps stay distinct: each level tints at least as much as the one below, and the first is visible
  for (const kind of ['light', 'dark'] as const) {
    for (const levels of FILL_PERCENT[kind]) {
      assert.ok(levels[0] >= 5 && levels[0] < levels[1] && levels[1] <= levels[2], `${kind}: ${levels.join(', ')}`);
    }
  }
});
