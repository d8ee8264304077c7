// The status bar item (src/extension/statusBar.ts) against the fake `vscode`: the spinner shows only
// for an analysis that runs longer than its delay, so a quick re-analysis after an edit never blinks.

import './fake-vscode'; // must come first: installs the fake `vscode` module
import * as assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { StatusBar } from '../../src/extension/statusBar';
import type { FakeStatusBarItem } from './fake-vscode';

describe('status bar', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  const ready = { kind: 'ready', model: 'm', provider: 'cpu', lastMs: 12 } as const;
  const text = (bar: StatusBar) => (bar as unknown as { item: FakeStatusBarItem }).item.text;

  it('spins while analyses run past 500 ms, and stops when none is left', () => {
    const bar = new StatusBar();
    bar.show(ready);
    assert.equal(text(bar), '$(circuit-board) CPU · 12 ms');
    bar.setRunning(1);
    bar.setRunning(2); // a second one does not restart the wait
    mock.timers.tick(499);
    assert.equal(text(bar), '$(circuit-board) CPU · 12 ms');
    mock.timers.tick(1);
    assert.equal(text(bar), '$(sync~spin) CPU · 12 ms');
    bar.show({ ...ready, lastMs: 40 }); // a new timing keeps the spinner while work remains
    assert.equal(text(bar), '$(sync~spin) CPU · 40 ms');
    bar.setRunning(1);
    bar.setRunning(0);
    assert.equal(text(bar), '$(circuit-board) CPU · 40 ms');
    bar.dispose();
  });

  it('never spins for an analysis shorter than the delay', () => {
    const bar = new StatusBar();
    bar.show(ready);
    bar.setRunning(1);
    mock.timers.tick(300);
    bar.setRunning(0);
    mock.timers.tick(1_000);
    assert.equal(text(bar), '$(circuit-board) CPU · 12 ms');
    bar.dispose();
  });
});
