// Browser-side stub of the VS Code webview API for the harness page (loaded before dist/webview.js
// with the page's CSP nonce). It records what the webview posts in `window.__posted`, keeps the
// webview state in memory, answers `topTokensRequest` and `nodeExamplesRequest` from the fixture, and when the webview says
// `ready` it posts the fixture `update` the way the extension host would.
/* global window, setTimeout */
(function () {
  'use strict';
  const fixture = window.__harnessFixture; // { model, pinned, topTokens } set by the runner
  const posted = [];
  let state;
  window.__posted = posted;
  window.__hostPost = (message) => window.postMessage(message, '*');
  window.acquireVsCodeApi = () => ({
    postMessage(message) {
      posted.push(message);
      if (!fixture) return;
      if (message.kind === 'ready') {
        window.__hostPost({ kind: 'update', model: fixture.model, pinned: Boolean(fixture.pinned) });
      } else if (message.kind === 'nodeExamplesRequest') {
        const examples = (fixture.examples && fixture.examples[message.nodeId]) || null;
        setTimeout(() => window.__hostPost({ kind: 'nodeExamples', requestId: message.requestId, nodeId: message.nodeId, examples }), 10);
      } else if (message.kind === 'topTokensRequest') {
        const tokens = (fixture.topTokens && fixture.topTokens[message.nodeId]) || [];
        setTimeout(() => window.__hostPost({ kind: 'topTokens', requestId: message.requestId, nodeId: message.nodeId, tokens }), 10);
      }
    },
    getState() {
      return state;
    },
    setState(next) {
      state = next;
      return next;
    },
  });
})();
