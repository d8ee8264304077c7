// What an exported graph may contain before the host writes it to disk: the check for the
// webview's exports (src/webview/export-svg.ts draws the SVG, export-json.ts the JSON, the PNG is
// cytoscape's). It runs on receipt of `exportData` (./messages) and again before writing.

import { ValidationError } from './validate';

export type ExportFormat = 'png' | 'svg' | 'json';

/** Exported file sizes, in characters of the posted string. */
export const EXPORT_LIMITS = {
  exportPng: 40_000_000,
  exportSvg: 10_000_000,
  exportJson: 10_000_000,
} as const;

const PNG_DATA_URL = /^data:image\/png;base64,[A-Za-z0-9+/]+={0,2}$/;

/**
 * Checks exported data before the host writes it to disk: a PNG data URL; an SVG document with no
 * script, event handlers, external references or DTD; or JSON that parses.
 */
export function checkExportData(format: ExportFormat, data: string, path = 'data'): void {
  switch (format) {
    case 'png':
      if (!PNG_DATA_URL.test(data)) throw new ValidationError(path, 'not a PNG data URL');
      return;
    case 'svg':
      if (data.length > EXPORT_LIMITS.exportSvg) throw new ValidationError(path, 'SVG too large');
      checkSvg(data, path);
      return;
    case 'json':
      if (data.length > EXPORT_LIMITS.exportJson) throw new ValidationError(path, 'JSON too large');
      try {
        JSON.parse(data);
      } catch {
        throw new ValidationError(path, 'not valid JSON');
      }
      return;
  }
  throw new ValidationError(path, 'unknown export format');
}

/** Elements an exported graph may use; anything else (script, foreignObject, image, use, …) is refused. */
const SVG_ELEMENTS = new Set([
  'svg', 'title', 'desc', 'defs', 'marker', 'linearGradient', 'radialGradient', 'stop', 'g', 'path',
  'rect', 'circle', 'ellipse', 'line', 'polyline', 'polygon', 'text', 'tspan',
]);

/**
 * An SVG document built only from drawing elements, with no event handlers, no links (other than
 * same-document `#id` / `url(#id)` references), no `javascript:` and no DTD or CDATA.
 */
function checkSvg(data: string, path: string): void {
  const body = data.replace(/^<\?xml[^>]*\?>\s*/, '');
  if (!/^<svg[\s>]/.test(body)) throw new ValidationError(path, 'not an SVG document');
  if (body.includes('<!') || body.includes('<?')) throw new ValidationError(path, 'SVG contains a DTD, comment, CDATA or processing instruction');
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"<>]*"|'[^'<>]*'))*)\s*(\/?)>/y;
  const attribute = /([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  let i = 0;
  while (i < body.length) {
    const lt = body.indexOf('<', i);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(body);
    if (!m) throw new ValidationError(path, 'SVG is not well-formed');
    if (!SVG_ELEMENTS.has(m[2])) throw new ValidationError(path, `SVG element <${m[2].slice(0, 20)}> is not allowed`);
    for (const a of m[3].matchAll(attribute)) {
      const name = a[1].toLowerCase();
      const value = (a[2] ?? a[3] ?? '').trim().toLowerCase();
      if (name.startsWith('on')) throw new ValidationError(path, 'SVG contains an event handler');
      if ((name === 'href' || name.endsWith(':href')) && !value.startsWith('#')) throw new ValidationError(path, 'SVG links outside itself');
      if (value.includes('javascript:') || (value.includes('url(') && !/^url\(#[\w.-]+\)$/.test(value))) {
        throw new ValidationError(path, 'SVG contains a script or external URL');
      }
    }
    i = tag.lastIndex;
  }
}
