// Pure colour maths for the circuit graph: a diverging blue–neutral–orange scale for activations
// and edge signs. Blue/orange stays distinguishable under the common colour-vision deficiencies
// (deuteranopia, protanopia, tritanopia keeps the lightness contrast). Interpolation runs in
// OKLab so equal steps in value look like equal steps in colour. The neutral midpoint follows the
// theme: near-white on light backgrounds, a dark grey on dark ones, so "zero" never glows.

export interface Rgb {
  readonly r: number; // 0…255
  readonly g: number;
  readonly b: number;
}

export interface DivergingPalette {
  /** Colour of the most negative value. */
  readonly negative: Rgb;
  /** Colour of zero. */
  readonly neutral: Rgb;
  /** Colour of the most positive value. */
  readonly positive: Rgb;
}

/** Palette for a light background (ends from ColorBrewer RdBu / PuOr). */
export const LIGHT_PALETTE: DivergingPalette = {
  negative: { r: 0x21, g: 0x66, b: 0xac },
  neutral: { r: 0xf4, g: 0xf4, b: 0xf2 },
  positive: { r: 0xd9, g: 0x5f, b: 0x02 },
};

/** Palette for a dark background: lighter ends, dark neutral. */
export const DARK_PALETTE: DivergingPalette = {
  negative: { r: 0x4f, g: 0x9b, b: 0xe8 },
  neutral: { r: 0x3b, g: 0x3d, b: 0x42 },
  positive: { r: 0xf5, g: 0x9a, b: 0x3c },
};

/** Parses `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`, `rgb(…)` and `rgba(…)`; alpha is ignored. */
export function parseColor(css: string): Rgb | null {
  const s = css.trim().toLowerCase();
  let m = /^#([0-9a-f]{3,4})$/.exec(s);
  if (m) {
    const h = m[1];
    return { r: parseInt(h[0] + h[0], 16), g: parseInt(h[1] + h[1], 16), b: parseInt(h[2] + h[2], 16) };
  }
  m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/.exec(s);
  if (m) {
    const h = m[1];
    return { r: parseInt(h.slice(0, 2), 16), g: parseInt(h.slice(2, 4), 16), b: parseInt(h.slice(4, 6), 16) };
  }
  m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/.exec(s);
  if (m) return { r: clamp255(Number(m[1])), g: clamp255(Number(m[2])), b: clamp255(Number(m[3])) };
  return null;
}

export function toHex(c: Rgb): string {
  const h = (v: number): string => Math.round(clamp255(v)).toString(16).padStart(2, '0');
  return `#${h(c.r)}${h(c.g)}${h(c.b)}`;
}

/** WCAG relative luminance, 0 (black) … 1 (white). */
export function luminance(c: Rgb): number {
  return 0.2126 * toLinear(c.r) + 0.7152 * toLinear(c.g) + 0.0722 * toLinear(c.b);
}

export function contrastRatio(a: Rgb, b: Rgb): number {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

export function isDark(background: Rgb): boolean {
  return luminance(background) < 0.2;
}

/** Black or white, whichever is more legible on `background`. */
export function textColorOn(background: Rgb): Rgb {
  const black = { r: 0, g: 0, b: 0 };
  const white = { r: 0xff, g: 0xff, b: 0xff };
  return contrastRatio(black, background) >= contrastRatio(white, background) ? black : white;
}

/** Linear interpolation in OKLab, t in [0, 1]. */
export function mixOklab(a: Rgb, b: Rgb, t: number): Rgb {
  const la = toOklab(a);
  const lb = toOklab(b);
  const u = Math.min(1, Math.max(0, t));
  return fromOklab([la[0] + (lb[0] - la[0]) * u, la[1] + (lb[1] - la[1]) * u, la[2] + (lb[2] - la[2]) * u]);
}

/**
 * Colour of `value` on a symmetric scale [−extent, +extent]. Values beyond the extent saturate;
 * a non-finite value or extent ≤ 0 gives the neutral colour.
 */
export function divergingColor(value: number, extent: number, palette: DivergingPalette): Rgb {
  if (!Number.isFinite(value) || !(extent > 0)) return palette.neutral;
  const t = Math.max(-1, Math.min(1, value / extent));
  return t < 0 ? mixOklab(palette.neutral, palette.negative, -t) : mixOklab(palette.neutral, palette.positive, t);
}

/**
 * A "nice" symmetric extent for a set of values: the largest magnitude rounded up to 1, 2, 2.5 or
 * 5 × 10^k, so the legend reads cleanly. Returns 1 when there are no non-zero values.
 */
export function niceExtent(values: Iterable<number>): number {
  let max = 0;
  for (const v of values) if (Number.isFinite(v)) max = Math.max(max, Math.abs(v));
  if (max === 0) return 1;
  const exp = Math.floor(Math.log10(max));
  const base = 10 ** exp;
  for (const step of [1, 2, 2.5, 5, 10]) if (max <= step * base + 1e-12) return step * base;
  return 10 * base;
}

function clamp255(v: number): number {
  return Math.min(255, Math.max(0, v));
}

function toLinear(v: number): number {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

function fromLinear(c: number): number {
  const v = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
  return clamp255(v * 255);
}

type Lab = [number, number, number];

function toOklab(c: Rgb): Lab {
  const r = toLinear(c.r);
  const g = toLinear(c.g);
  const b = toLinear(c.b);
  const l = Math.cbrt(0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b);
  const m = Math.cbrt(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b);
  const s = Math.cbrt(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b);
  return [
    0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s,
    1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s,
    0.0259040371 * l + 0.7827717662 * m - 0.808675766 * s,
  ];
}

function fromOklab([L, a, b]: Lab): Rgb {
  const l = (L + 0.3963377774 * a + 0.2158037573 * b) ** 3;
  const m = (L - 0.1055613458 * a - 0.0638541728 * b) ** 3;
  const s = (L - 0.0894841775 * a - 1.291485548 * b) ** 3;
  return {
    r: fromLinear(4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s),
    g: fromLinear(-1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s),
    b: fromLinear(-0.0041960863 * l - 0.7034186147 * m + 1.707614701 * s),
  };
}
