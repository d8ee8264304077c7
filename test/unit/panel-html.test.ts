import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { contentSecurityPolicy, escapeHtml, makeNonce, renderPanelHtml } from '../../src/extension/panel/html';
import { repoRoot } from './fixtures';

const params = {
  cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
  nonce: 'abcdefghijklmnopqrstuv',
  scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview.js',
  styleUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/media/panel.css',
  title: 'Circuit',
};

describe('panel HTML', () => {
  it('has a strict CSP: nonce scripts, no inline or eval, nothing remote', () => {
    const csp = contentSecurityPolicy(params.cspSource, params.nonce);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'nonce-abcdefghijklmnopqrstuv'(;|$)/);
    assert.ok(!csp.includes('unsafe-inline'));
    assert.ok(!csp.includes('unsafe-eval'));
    assert.ok(!/https?:\/\/(?!file\+\.vscode-resource)/.test(csp));
  });

  it('loads only the bundled script (with the nonce) and the panel stylesheet', () => {
    const html = renderPanelHtml(params);
    const scripts = html.match(/<script[^>]*>/g) ?? [];
    assert.equal(scripts.length, 1);
    assert.ok(scripts[0].includes(`nonce="${params.nonce}"`));
    assert.ok(scripts[0].includes(`src="${params.scriptUri}"`));
    assert.ok(html.includes(`href="${params.styleUri}"`));
    assert.ok(!/\sstyle=/.test(html), 'no inline style attributes');
    assert.ok(!/<style/.test(html), 'no inline style elements');
    assert.ok(html.includes('<meta http-equiv="Content-Security-Policy"'));
  });

  it('escapes interpolated values', () => {
    const html = renderPanelHtml({ ...params, title: '</title><script>alert(1)</script>', styleUri: 'x" onload="alert(1)' });
    assert.ok(!html.includes('<script>alert(1)'));
    assert.ok(html.includes('&lt;/title&gt;&lt;script&gt;'));
    assert.ok(html.includes('x&quot; onload=&quot;alert(1)'));
    assert.equal(escapeHtml(`<a href='x'>&</a>`), '&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('nothing is ever written as HTML: no HTML sinks in the webview or panel code, no HTML in hovers', () => {
    const sources = (dir: string) => fs.readdirSync(path.join(repoRoot, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f));
    const files = [...sources('src/webview'), ...sources('src/extension'), ...sources('src/schemas')];
    assert.ok(files.some((f) => f.endsWith('details.ts')) && files.some((f) => f.endsWith('hover.ts')), 'the scan sees the files that show file content');
    const sink = /\.(innerHTML|outerHTML|insertAdjacentHTML|srcdoc)\b|document\.write|DOMParser|createContextualFragment|supportHtml/;
    const found = files.flatMap((f) =>
      fs
        .readFileSync(path.join(repoRoot, f), 'utf8')
        .split('\n')
        .filter((l) => sink.test(l) && !l.trim().startsWith('//'))
        .map((l) => `${f}: ${l.trim()}`),
    );
    assert.deepEqual(found, [], 'text (token text, file names, meanings) goes through textContent or Markdown escaping only');
  });

  it('refuses weak or malformed nonces and makes fresh strong ones', () => {
    assert.throws(() => renderPanelHtml({ ...params, nonce: 'short' }));
    assert.throws(() => renderPanelHtml({ ...params, nonce: `abc'; script-src *; x='${'a'.repeat(20)}` }));
    const a = makeNonce();
    const b = makeNonce();
    assert.notEqual(a, b);
    assert.match(a, /^[A-Za-z0-9_-]{22}$/);
  });
});

describe('package.json contributions', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
    contributes: {
      viewsContainers: { activitybar: { id: string; icon: string }[] };
      views: Record<string, { id: string; type: string }[]>;
      commands: { command: string }[];
    };
  };

  it('declares the activity-bar container, the webview view and the open-beside command', () => {
    const container = pkg.contributes.viewsContainers.activitybar.find((c) => c.id === 'circuitInspector');
    assert.ok(container);
    assert.ok(fs.existsSync(path.join(repoRoot, container.icon)));
    const view = pkg.contributes.views.circuitInspector.find((v) => v.id === 'circuitInspector.circuitView');
    assert.equal(view?.type, 'webview');
    assert.ok(pkg.contributes.commands.some((c) => c.command === 'circuitInspector.openCircuitBeside'));
  });
});
