// Task scope in the real editor (issue 17): on a file with code, comments, indentation, strings and
// lists, no circuit draws a highlight, a hover section or a readout outside its task's scope.
import * as assert from 'assert';
import * as vscode from 'vscode';
import { analyzeScope } from '../../src/core/taskScope';
import { hoverText, openFixture, testState, type TestState, waitFor } from './helpers';

const QUOTE = 'single_double_quote';

/** scope_mixed.py, open and analysed (every circuit's highlights are on in this suite). */
async function openAnalysed(): Promise<{ doc: vscode.TextDocument; text: string; state: TestState }> {
  const doc = (await openFixture('scope_mixed.py')).document;
  const state = await waitFor(async () => {
    const s = await testState(doc.uri);
    return s.decorations && s.tokens?.length ? s : undefined;
  }, 60_000, 'analysis of scope_mixed.py');
  return { doc, text: doc.getText(), state };
}

suite('Task scope', () => {
  const config = () => vscode.workspace.getConfiguration('circuitInspector');
  suiteSetup(async () => {
    // every circuit's highlights on, the bracket circuit's included
    await config().update('highlights.circuits', { single_double_quote: true, bracket_counting: true, while_return_true: true, if_equals: true }, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('circuitInspector.resetAblations');
  });
  suiteTeardown(() => config().update('highlights.circuits', undefined, vscode.ConfigurationTarget.Global));

  test('task scope: no highlight outside a task\'s scope (code, comments, indentation, strings, lists)', async () => {
    const { text, state } = await openAnalysed();
    const tokens = state.tokens ?? [];
    const byStart = new Map(tokens.map((t) => [t.start, t]));
    const oneLine = analyzeScope(text).strings.filter((s) => s.oneLine);
    // the quote task: inside a one-line string's content, or the token ending at its closing quote
    const inString = (a: number, b: number) => oneLine.some((s) => (b > s.contentStart && a < s.contentEnd) || b === s.contentEnd);
    const spans = state.decorations?.spans ?? [];
    assert.ok(spans.some((s) => s.task === QUOTE), 'the quote circuit marks something');
    for (const s of spans) {
      const t = byStart.get(s.start);
      assert.ok(t, `a highlight at ${s.start} is a token`);
      assert.equal(t.circuits[s.task].applies, true, `${s.task} highlight at ${JSON.stringify(text.slice(s.start, s.end))} lies in its scope`);
      if (s.task === QUOTE) assert.ok(inString(s.start, s.end), `quote highlight ${JSON.stringify(text.slice(s.start, s.end))} at ${s.start} is in a one-line string`);
    }
    for (const t of tokens) for (const [task, c] of Object.entries(t.circuits)) assert.ok(c.applies || !c.fires, `${task} fires out of scope at ${t.start}`);
    const wouldHave = tokens.filter((t) => !t.circuits[QUOTE].applies && Math.abs(t.circuits[QUOTE].value) >= 1).length;
    console.log(`scope_mixed.py: ${spans.length} highlights, all in scope; ${wouldHave} tokens outside the quote scope where the quote circuit's value passes its threshold (not drawn)`);
  });

  test('task scope: a comment, indentation, code, a docstring and a list hover without the quote circuit; a string hovers with it', async () => {
    const { doc, text } = await openAnalysed();
    const at = (needle: string, k = 0) => doc.positionAt(text.indexOf(needle) + k);
    for (const [what, pos] of [
      ['a comment with quotes', at('"quoted"', 2)],
      ['indentation', at('    table', 1)],
      ['code', at('import os', 2)],
      ['a docstring', at('A docstring', 3)],
      ['a list in code', at('[[1, 2]', 1)],
    ] as const) {
      assert.doesNotMatch(await hoverText(doc.uri, pos), /Quote closing/, `no quote section on ${what}`);
    }
    assert.equal(await hoverText(doc.uri, at('# Licence', 3)), '', 'a comment has no hover at all');
    assert.match(await hoverText(doc.uri, at('"alpha"', 3)), /Quote closing/, 'a string has the quote section');
    // the comparison task's prediction is read after the name, not at a close
    assert.match(await hoverText(doc.uri, at('name == "beta"', 2)), /After `name` on line 11: The model expects \*\*(compare|assign)\*\*/, 'the if == readout names its place');
  });

  test('task scope: on code or a quote in a comment the panel says the task does not apply (no numbers); in a string it reads out', async () => {
    const { doc, text } = await openAnalysed();
    type Panel = NonNullable<TestState['panel']> & { applies?: boolean; activations: Record<string, number> };
    const show = async (offset: number) => {
      await vscode.commands.executeCommand('circuitInspector.showCircuitAtCursor', { uri: doc.uri.toString(), offset, task: QUOTE });
      return (await testState(doc.uri)).panel as Panel;
    };
    const onCode = await show(text.indexOf('for name'));
    assert.equal(onCode.applies, false, 'the panel says the task does not apply here');
    assert.equal(onCode.readout, null, 'no readout outside the scope');
    assert.deepEqual(onCode.activations, {}, 'no node values outside the scope');
    const onComment = await show(text.indexOf("'single'") + 2);
    assert.equal(onComment.applies, false, 'a quote inside a comment is not a string');
    const inStr = await show(text.indexOf('"gamma"') + 3);
    assert.notEqual(inStr.applies, false);
    assert.ok(inStr.readout, 'a readout inside a string');
    assert.equal(inStr.readout.target, 0, 'the string opened with "');
  });
});
