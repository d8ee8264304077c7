// What a new user met on real files (docs/real-files.md, session 13), in the real editor, on a file
// of the same shapes (new_user_records.py): a `]` that neither answer of the bracket task follows is
// not marked and has no bracket hover, one with nothing after it yet says so; a string in an
// f-string's field is read as the string it is, the field's code is not the f-string's text; every
// token of a name split into several shows the one readout of the point after the whole name.
import * as assert from 'assert';
import * as vscode from 'vscode';
import { hoverText, openFixture, screenshot, type TestState, testState, waitFor } from './helpers';

const BRACKET = 'bracket_counting';

/** Shows the hover at `offset` in the editor and takes a picture of it. */
async function hoverPicture(editor: vscode.TextEditor, offset: number, name: string): Promise<void> {
  const at = editor.document.positionAt(offset);
  editor.selection = new vscode.Selection(at, at);
  await vscode.commands.executeCommand('editor.action.showHover');
  await new Promise((r) => setTimeout(r, 1000)); // let the hover widget paint before the picture
  await screenshot(name);
  await vscode.commands.executeCommand('editor.action.hideHover');
}

suite('A new user\'s file', () => {
  let editor: vscode.TextEditor;
  let doc: vscode.TextDocument;
  let text: string;
  let state: TestState;
  /** Offset of the `k`-th character `ch` after `needle`'s start. */
  const after = (needle: string, ch: string, k = 0) => {
    let i = text.indexOf(needle);
    assert.ok(i >= 0, needle);
    for (let n = 0; n <= k; n++) i = text.indexOf(ch, n === 0 ? i : i + 1);
    return i;
  };

  suiteSetup(async function () {
    this.timeout(120_000);
    editor = await openFixture('new_user_records.py');
    doc = editor.document;
    text = doc.getText();
    state = await waitFor(async () => {
      const s = await testState(doc.uri);
      return s.decorations && s.tokens?.length ? s : undefined;
    }, 60_000, 'analysis of new_user_records.py');
  });

  test('a ] followed by neither answer (x[0].y, d[k] = v, [a], b) is out of the bracket task: no mark, no hover; one with nothing after it yet says so', async function () {
    this.timeout(60_000);
    const tokens = state.tokens ?? [];
    const tokenAt = (offset: number) => tokens.find((t) => t.start <= offset && offset < t.end);
    const marked = new Set((state.decorations?.spans ?? []).filter((s) => s.task === BRACKET).map((s) => s.start));
    const neither = [after('nodes[0][0].name', ']'), after('nodes[0][0].name', ']', 1), after('record["name"] =', ']'), after('attrs["id"], "pairs"', ']'), after('sorted([first], key', ']')];
    for (const offset of neither) {
      const t = tokenAt(offset);
      assert.ok(t, `a token at ${offset}`);
      const what = JSON.stringify(text.slice(offset - 6, offset + 3));
      assert.equal(t.circuits[BRACKET].applies, false, `${what}: the bracket task does not apply`);
      assert.ok(!marked.has(t.start), `${what}: not marked`);
      assert.doesNotMatch(await hoverText(doc.uri, doc.positionAt(offset)), /Bracket depth/, `${what}: no bracket hover`);
    }
    // the two answers: another ] (graph[n]]) and the line's end ([…]\n) are task points with a right answer
    for (const offset of [after('graph[n]]', ']'), after('for n in graph]', ']'), after('return [record', ']')]) {
      assert.equal(tokenAt(offset)?.circuits[BRACKET].applies, true, JSON.stringify(text.slice(offset - 6, offset + 2)));
      assert.match(await hoverText(doc.uri, doc.positionAt(offset)), /At the `\]` on line \d+: The model expects \*\*(nested|flat)\*\* .*(Correct here\.|Wrong here)/);
    }
    // only spaces after it before the line's end: the answer is not written yet
    const pending = after('for r in records]', ']');
    const hover = await hoverText(doc.uri, doc.positionAt(pending));
    assert.match(hover, /At the `\]` on line 19: The model expects \*\*(nested|flat)\*\* [^\n]*Nothing follows here in the code yet, so the prediction is neither right nor wrong\./);
    editor.revealRange(new vscode.Range(0, 0, 0, 0), vscode.TextEditorRevealType.AtTop);
    await screenshot('new-user-highlights');
    await hoverPicture(editor, pending, 'new-user-hover-pending');
  });

  test('f-strings: a string in a field is read at its own close; the field\'s code is neither string\'s text', async function () {
    this.timeout(60_000);
    const line = text.indexOf('label = f"');
    const nested = text.indexOf("'label'", line) + 2;
    const own = await hoverText(doc.uri, doc.positionAt(nested));
    assert.match(own, /At the closing quote on line 11: The model expects \*\*(single|double)\*\*/);
    assert.match(own, /expects \*\*single\*\*[^\n]*Correct here\.|Wrong here: the code has \*\*single\*\*/, 'the nested string closes with a single quote');
    const code = text.indexOf('attrs[', line) + 1;
    assert.doesNotMatch(await hoverText(doc.uri, doc.positionAt(code)), /Quote closing/, 'code in a field');
    assert.ok(!(state.decorations?.spans ?? []).some((s) => s.task === 'single_double_quote' && s.start <= code && code < s.end), 'code in a field is not marked');
    const outer = await hoverText(doc.uri, doc.positionAt(text.indexOf(' of {', line) + 2));
    assert.match(outer, /expects \*\*double\*\*[^\n]*Correct here\.|Wrong here: the code has \*\*double\*\*/, 'the f-string\'s own text closes with a double quote');
    await hoverPicture(editor, nested, 'new-user-hover-fstring');
  });

  test('a name split into tokens: every token of it shows the one readout of the point after the whole name', async function () {
    this.timeout(60_000);
    const name = 'cytoscape_record_elements';
    const start = text.indexOf(`if ${name}`) + 3;
    const sentence = (h: string) => new RegExp(`After \`${name}\` on line 17: [^\\n]+`).exec(h)?.[0];
    const last = await hoverText(doc.uri, doc.positionAt(start + name.length - 1));
    const want = sentence(last);
    assert.ok(want, `the last token's hover reads out after the name:\n${last}`);
    for (const k of [0, 10, 17]) {
      const h = await hoverText(doc.uri, doc.positionAt(start + k));
      assert.match(h, new RegExp(`its task's point is after the whole name \`${name}\`, which only its last token \`[^\`]+\` predicts; this token is not marked`), `character ${k}:\n${h}`);
      assert.equal(sentence(h), want, `character ${k}: the same readout as the name's last token`);
      assert.doesNotMatch(h, /Key nodes at this token/, 'no values of this token: they answer another question');
    }
    await hoverPicture(editor, start + 1, 'new-user-hover-name');
  });
});
