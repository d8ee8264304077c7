// The panel's HTML document. Pure (no `vscode` import) so it can be unit-tested and reused by the
// webview harness. Strict CSP: scripts only with the per-load nonce, styles and fonts only from the
// extension's own resources (plus nonce'd <style> elements, for FAST's feature probe, which reads
// the nonce from <meta property="csp-nonce">), images only from those or data:/blob: (cytoscape PNG export). No
// 'unsafe-inline', no 'unsafe-eval', no remote origins.

import { randomBytes } from 'crypto';

export interface PanelHtmlParams {
  /** `webview.cspSource` */
  readonly cspSource: string;
  /** Fresh per page load; see `makeNonce`. */
  readonly nonce: string;
  /** `webview.asWebviewUri(dist/webview.js)` as a string. */
  readonly scriptUri: string;
  /** `webview.asWebviewUri(media/panel.css)` as a string. */
  readonly styleUri: string;
  readonly title: string;
}

/** 128 random bits, base64url (letters, digits, `-`, `_`): valid in a CSP nonce source. */
export function makeNonce(): string {
  return randomBytes(16).toString('base64url');
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    // The nonce covers the one <style> the UI toolkit (FAST) creates to probe :focus-visible support.
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    `img-src ${cspSource} data: blob:`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function renderPanelHtml(p: PanelHtmlParams): string {
  if (!/^[A-Za-z0-9_-]{16,}$/.test(p.nonce)) throw new Error('nonce must be at least 16 base64url characters');
  const csp = contentSecurityPolicy(p.cspSource, p.nonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta property="csp-nonce" content="${escapeHtml(p.nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeHtml(p.styleUri)}">
<title>${escapeHtml(p.title)}</title>
</head>
<body>
<div id="app" class="app"><p class="loading">Loading circuit panel…</p></div>
<script nonce="${escapeHtml(p.nonce)}" src="${escapeHtml(p.scriptUri)}"></script>
</body>
</html>
`;
}

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
