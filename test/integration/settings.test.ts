// Every setting applies without a reload (issue 17). Covered elsewhere: ablationMode (panel.test),
// highlights.circuits (scope.test), debounceMs, executionProvider and bundlePath (robustness.test).
// Here: highlights.thresholdScale, highlights.enabled, maxFileSizeKB and windowTokens on an open editor.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { openFixture, repoDir, type TestState, testState, waitFor } from './helpers';

const QUOTE = 'single_double_quote';

type State = TestState & { analyzed?: { version: number; partial: { start: number; end: number } | null } };

async function setting(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('circuitInspector').update(key, value, vscode.ConfigurationTarget.Global);
}

/** The quote circuit's highlights as `start-end`, in document order. */
function quoteSpans(s: State): string[] {
  return (s.decorations?.spans ?? []).filter((x) => x.task === QUOTE).map((x) => `${x.start}-${x.end}`);
}

suite('Settings read live', () => {
  test('highlights.thresholdScale (below and above 1), highlights.enabled and maxFileSizeKB change the open editor at once', async () => {
    // 100 lines of the standard library's ntpath.py (3.5 KB): many strings, so every scale shows a different set
    const doc = (await openFixture('stdlib_ntpath.py')).document;
    const root = path.join(repoDir, 'models');
    const circuit = JSON.parse(fs.readFileSync(path.join(root, fs.readdirSync(root).sort()[0], 'circuits', `${QUOTE}.json`), 'utf8')) as { firing: { threshold: number } };
    const first = await waitFor(async () => {
      const s = (await testState(doc.uri)) as State;
      return s.analyzed?.version === doc.version && s.tokens?.length && s.decorations ? s : undefined;
    }, 60_000, 'the fixture analysed');
    // what each scale should show: the tokens in the task's scope whose firing value reaches threshold × scale
    const expected = (scale: number): string[] =>
      (first.tokens ?? []).filter((t) => t.end > t.start && t.circuits[QUOTE]?.applies && Math.abs(t.circuits[QUOTE].value) >= circuit.firing.threshold * scale).map((t) => `${t.start}-${t.end}`);
    assert.equal(first.analyzed?.partial, null, 'the whole file is analysed');
    assert.deepEqual(quoteSpans(first), expected(1));
    const [low, high] = [expected(0.5), expected(2)];
    assert.ok(low.length > expected(1).length && expected(1).length > high.length, `the fixture tells the scales apart: ${low.length} / ${expected(1).length} / ${high.length} tokens`);
    const shows = (what: string, pred: (s: State) => boolean): Promise<State> =>
      waitFor(async () => {
        const s = (await testState(doc.uri)) as State;
        return pred(s) ? s : undefined;
      }, 30_000, what);
    try {
      await setting('highlights.thresholdScale', 0.5);
      await shows('more highlights at half the threshold', (s) => JSON.stringify(quoteSpans(s)) === JSON.stringify(low));
      await setting('highlights.thresholdScale', 2);
      await shows('fewer highlights at twice the threshold', (s) => JSON.stringify(quoteSpans(s)) === JSON.stringify(high));
      await setting('highlights.enabled', false);
      await shows('no highlights', (s) => s.decorations?.spans.length === 0);
      await setting('highlights.enabled', undefined);
      await setting('highlights.thresholdScale', undefined);
      await shows('the highlights back', (s) => JSON.stringify(quoteSpans(s)) === JSON.stringify(expected(1)));
      // a 3.5 KB file under a 1 KB limit: only the visible part is analysed, with no reload
      await setting('maxFileSizeKB', 1);
      await waitFor(async () => ((await testState(doc.uri)) as State).analyzed?.partial ?? undefined, 30_000, 'a partial analysis under the size limit');
    } finally {
      for (const key of ['highlights.thresholdScale', 'highlights.enabled', 'maxFileSizeKB']) await setting(key, undefined);
    }
  });

  test('windowTokens: shorter windows load the model again and re-read the open file; the first window\'s tokens keep their values, later ones change, and the default brings them back', async () => {
    const doc = (await openFixture('stdlib_ntpath.py')).document;
    const values = (s: State) => (s.tokens ?? []).map((t) => t.circuits[QUOTE]?.value ?? NaN);
    const analysed = (what: string, pred: (v: number[]) => boolean): Promise<number[]> =>
      waitFor(async () => {
        const s = (await testState(doc.uri)) as State;
        const v = values(s);
        return s.analyzed?.version === doc.version && v.length && pred(v) ? v : undefined;
      }, 60_000, what);
    const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
    const wide = await analysed('the fixture analysed in windows of 256', () => true);
    assert.ok(wide.length > 400, `${wide.length} tokens: more than one window of 128`);
    try {
      await setting('windowTokens', 128);
      const short = await analysed('the fixture analysed again in windows of 128', (v) => !same(v, wide));
      // window 0 scores its first positions with the same tokens before them in either length
      assert.ok(same(short.slice(0, 100), wide.slice(0, 100)), 'the first 100 tokens keep their values');
      const changed = short.filter((x, i) => !Object.is(x, wide[i])).length;
      assert.ok(changed > 0, `${changed} later tokens read with less context`);
    } finally {
      await setting('windowTokens', undefined);
    }
    await analysed('the values of windows of 256 back', (v) => same(v, wide));
  });
});
