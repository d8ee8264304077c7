import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { loadBundle } from '../../src/core/bundle';
import { taskEvidence } from '../../src/core/circuitEvidence';
import { analyzeScope } from '../../src/core/taskScope';
import { freshModel, hoverText, openFixture, paintedState, repoDir, screenshot, type TestState, testState, waitFor, workspaceDir } from './helpers';

const QUOTE = 'single_double_quote';
/** Inside the string "value" of quotes_and_lists.py: the line that starts with `line`, column `col`. */
const IN_VALUE = { line: 'print("value")', col: 'print("val'.length };

/**
 * Each task circuit and its core pruned on the paper's form of the task (training/tasks.py), at a
 * token of quotes_and_lists.py where both apply: the line that starts with `line`, column `col`.
 */
const CORES = [
  { task: QUOTE, core: 'single_double_quote_paper', place: 'a string', ...IN_VALUE, shot: 'panel-paper-core' },
  { task: 'bracket_counting', core: 'bracket_counting_paper', place: 'a list close', line: '    values = [[5, 3, 11], [2, 7]]', col: '    values = [[5, 3, 11], [2, 7'.length, shot: 'panel-paper-bracket-core' },
];

/** The test state of `uri` once `pred` holds for it. */
function stateWhere(uri: vscode.Uri, pred: (s: TestState) => boolean, what: string): Promise<TestState> {
  return waitFor(async () => {
    const s = await testState(uri);
    return pred(s) ? s : undefined;
  }, 60_000, what);
}

type Decorations = NonNullable<TestState['decorations']>;

async function decorations(uri: vscode.Uri, pred: (d: Decorations) => boolean = () => true): Promise<Decorations> {
  return (await stateWhere(uri, (s) => s.decorations !== undefined && pred(s.decorations), 'decorations')).decorations as Decorations;
}

type Token = NonNullable<TestState['tokens']>[number];

/**
 * What a user sees of the quote circuit on a file: the share of tokens with a quote highlight inside
 * single-line string literals and outside any literal (code, comments), and, per quote type, at how
 * many strings the token just before the closing quote is highlighted, in the colour of that quote,
 * and how often the model itself prefers that quote there.
 */
function quoteFigures(text: string, state: TestState) {
  const tokens = state.tokens ?? [];
  // every string literal: its opening quote, its closing quote (-1: unclosed), one-line or not
  const lit = analyzeScope(text).strings.map((s) => ({ open: s.contentStart - (s.triple ? 3 : 1), close: s.terminated ? s.contentEnd : -1, quote: s.quote, triple: !s.oneLine }));
  const marked = new Map((state.decorations?.spans ?? []).filter((s) => s.task === QUOTE).map((s) => [s.start, s]));
  const inside = (t: Token) => lit.some((s) => !s.triple && s.close !== -1 && t.start > s.open && t.end <= s.close);
  const outside = (t: Token) => !lit.some((s) => t.end > s.open && t.start < (s.close === -1 ? text.length : s.close + (s.triple ? 3 : 1)));
  const share = (ts: Token[]) => ({ tokens: ts.length, highlighted: ts.filter((t) => marked.has(t.start)).length });
  const closes = (quote: '"' | "'") => {
    const cls = quote === '"' ? 0 : 1;
    const at = lit
      .filter((s) => s.quote === quote && !s.triple && s.close > s.open + 1)
      .map((s) => tokens.find((t) => t.start <= s.close - 1 && s.close - 1 < t.end))
      .filter((t): t is Token => t !== undefined);
    return {
      strings: at.length,
      highlighted: at.filter((t) => marked.has(t.start)).length,
      rightColour: at.filter((t) => marked.get(t.start)?.cls === cls).length,
      modelRight: at.filter((t) => (t.logitDiff[QUOTE] > 0) === (cls === 0)).length,
    };
  };
  return { inStrings: share(tokens.filter(inside)), outsideStrings: share(tokens.filter(outside)), double: closes('"'), single: closes("'") };
}

/** "Show circuit at cursor" in quotes_and_lists.py on the line that starts with `start`, at column `col`: the document, the cursor and the panel model the command measured. */
async function showCircuitAt(start: string, col: number) {
  const editor = await openFixture('quotes_and_lists.py');
  const doc = editor.document;
  const line = doc.getText().split('\n').findIndex((l) => l.startsWith(start));
  editor.selection = new vscode.Selection(line, col, line, col);
  // the model the command measured (the test state may still hold a model a cursor move before it measured)
  const state = await vscode.commands.executeCommand<NonNullable<TestState['panel']>>('circuitInspector.showCircuitAtCursor');
  return { doc, line, col, state };
}

suite('Highlights, hover and the circuit panel', () => {
  // exports and broken bundles written by these tests; removed when the suite ends
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ci-features-'));
  suiteTeardown(() => fs.rmSync(scratch, { recursive: true, force: true }));

  test('a Python file gets circuit decorations inside its strings, and an edit updates them', async () => {
    const editor = await openFixture('quotes_and_lists.py');
    const doc = editor.document;
    // wait for the quote circuit's spans, not any spans: a suite before may have left this file painted by another bundle
    const first = await decorations(doc.uri, (d) => d.spans.some((s) => s.task === QUOTE));
    const text = doc.getText();
    const quoteSpans = first.spans.filter((s) => s.task === QUOTE);
    assert.ok(quoteSpans.length > 0, 'the quote circuit fires somewhere');
    for (const s of first.spans) assert.ok(s.start >= 0 && s.end <= text.length && s.end > s.start, 'spans lie inside the document');
    const inString = quoteSpans.filter((s) => /["']|\w/.test(text.slice(s.start, s.end)));
    assert.ok(inString.length > 0);
    await screenshot('highlights');
    // type a new string at the end: the highlights follow the edit
    const end = doc.lineAt(doc.lineCount - 1).range.end;
    await editor.edit((b) => b.insert(end, '\nextra = "more text here"\n'));
    const after = await decorations(doc.uri, (d) => d.spans.some((s) => s.start > text.length));
    assert.ok(after.spans.some((s) => s.start > text.length), 'the new line has highlights');
    await vscode.commands.executeCommand('undo');
  });

  test('hovering a string names the circuit, a node id, its value and the prediction where the string closes', async () => {
    const editor = await openFixture('quotes_and_lists.py');
    const doc = editor.document;
    await decorations(doc.uri, (d) => d.spans.length > 0); // the model is loaded (this test may run alone)
    const line = doc.getText().split('\n').findIndex((l) => l.startsWith('print("value")'));
    const pos = new vscode.Position(line, 'print("va'.length);
    const text = await hoverText(doc.uri, pos);
    assert.match(text, /Quote closing/);
    assert.match(text, /`\d+\.(attn|mlp)\.[a-z_]+\.\d+` = \*\*-?\d/, 'a node id with its value');
    assert.match(text, /At the closing quote on line \d+: The model expects \*\*double\*\* \(`"\)?`\): \d+(\.\d)? % against single within the contrast; as the next token among all \d/);
    assert.match(text, /Correct here\./);
    // the hover's height is bounded (VS Code scrolls the rest): the prediction comes before the key nodes' long meanings
    assert.ok(text.indexOf('The model expects') < text.indexOf('Key nodes at this token'), `the prediction first:\n${text}`);
    assert.match(text, /(fires here, pointing to \*\*double\*\*|is quiet here): its firing rule \(.+\) reads [+−]\d+\.\d\d, (beyond|within) ±\d+\.\d\d[.,]/, 'the firing rule in words');
  });

  test('where the rule that marks a token and the model at that token part ways, the hover says the rest of the model outweighs the key nodes', async () => {
    const doc = await vscode.workspace.openTextDocument(path.join(repoDir, 'examples', 'demo.py'));
    const editor = await vscode.window.showTextDocument(doc);
    await decorations(doc.uri, (d) => d.spans.length > 0);
    // `'a` of `['a', 'b']` on the shipped bundle (the CLI: the rule +2.23, the model's logit difference −2.71, right)
    const line = doc.getText().split('\n').findIndex((l) => l.includes("['a', 'b']"));
    const pos = new vscode.Position(line, doc.lineAt(line).text.indexOf("'a") + 1);
    const text = await hoverText(doc.uri, pos);
    assert.match(text, /Quote closing\*\* circuit fires here, pointing to \*\*double\*\*/, text);
    assert.match(text, /The model expects \*\*single\*\* .*Correct here\./);
    assert.match(text, /Here the rule and the model part ways: its \d+ key nodes point to \*\*double\*\*, the whole model to \*\*single\*\*: the rest of the model outweighs them at this token/);
    // one sentence of it per circuit part: the paper-form core repeats no prediction, so it says nothing of parting either
    assert.equal(text.match(/part ways/g)?.length, 1, text);
    editor.selection = new vscode.Selection(pos, pos);
    await vscode.commands.executeCommand('editor.action.showHover');
    await new Promise((r) => setTimeout(r, 1000)); // let the hover widget paint before the picture
    await screenshot('hover-rule-against-model');
  });

  test('a hover on a long file that just opened comes back while the rest still runs, on the screen and off the first paint, with the numbers the finished analysis gives', async () => {
    await decorations((await openFixture('quotes_and_lists.py')).document.uri, (d) => d.spans.length > 0); // the model is loaded
    // a new file each run (nothing of it cached), 15,000 lines: its whole highlight pass outlasts the
    // screen's part several times over on any machine (our model: ~0.5–0.8 s a 5,000 lines)
    const config = vscode.workspace.getConfiguration('circuitInspector');
    await config.update('maxFileSizeKB', 2048, vscode.ConfigurationTarget.Global);
    try {
      // the setting re-runs the open editors: that must be over, so that what runs below is the new file's analysis
      await waitFor(async () => (await testState()).inFlight === 0, 60_000, 'the refresh after the setting');
      const file = path.join(scratch, 'long.py');
      fs.writeFileSync(file, fs.readFileSync(path.join(repoDir, 'bench', 'stdlib-5000.py'), 'utf8').repeat(3));
      const doc = await vscode.workspace.openTextDocument(file);
      const lines = doc.getText().split('\n');
      const line = lines.findIndex((l, i) => i > 2500 && /^__all__ = \["[a-z]{3,}"/.test(l));
      assert.ok(line > 0, 'a one-line string past line 2,500');
      const pos = new vscode.Position(line, lines[line].indexOf('"') + 2);
      const editor = await vscode.window.showTextDocument(doc, { selection: new vscode.Range(pos, pos) });
      editor.revealRange(new vscode.Range(pos, pos), vscode.TextEditorRevealType.InCenter);
      await waitFor(async () => (await paintedState(doc.uri)).decorations, 60_000, 'the screen painted');
      const early = await hoverText(doc.uri, pos);
      assert.ok(((await testState()).inFlight ?? 0) > 0, 'the hover came back while the rest of the file was still being analysed');
      assert.match(early, /Quote closing/);
      assert.match(early, /The model expects \*\*(double|single)\*\*/);
      // a string the first paint does not hold (9,000 lines further or more): its hover runs its own window, not after the whole file
      const farLine = lines.findIndex((l, i) => i >= line + 9_000 && /^__all__ = \["[a-z]{3,}"/.test(l));
      assert.ok(farLine > 0, 'a one-line string 9,000 lines further or more');
      const far = new vscode.Position(farLine, lines[farLine].indexOf('"') + 2);
      const farEarly = await hoverText(doc.uri, far);
      assert.ok(((await testState()).inFlight ?? 0) > 0, 'the hover off the first paint came back while the rest of the file was still being analysed');
      assert.match(farEarly, /The model expects \*\*(double|single)\*\*/);
      await waitFor(async () => (await testState()).inFlight === 0, 120_000, 'the whole file analysed');
      assert.equal(await hoverText(doc.uri, pos), early, 'one token, one set of numbers');
      assert.equal(await hoverText(doc.uri, far), farEarly, 'one token, one set of numbers, off the first paint too');
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    } finally {
      await config.update('maxFileSizeKB', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  test('scrolled away while a long file is first analysed: the new screen is painted before the rest of the file, not after it', async function () {
    this.timeout(300_000);
    await decorations((await openFixture('quotes_and_lists.py')).document.uri, (d) => d.spans.length > 0); // the model is loaded
    const config = vscode.workspace.getConfiguration('circuitInspector');
    await config.update('maxFileSizeKB', 2048, vscode.ConfigurationTarget.Global);
    try {
      // a fresh model: nothing of the file cached (the hover test above analysed the same lines)
      await freshModel();
      // 25,000 lines: its whole highlight pass outlasts a screen's many times over
      const file = path.join(scratch, 'scrolled.py');
      fs.writeFileSync(file, fs.readFileSync(path.join(repoDir, 'bench', 'stdlib-5000.py'), 'utf8').repeat(5));
      const doc = await vscode.workspace.openTextDocument(file);
      const editor = await vscode.window.showTextDocument(doc, { selection: new vscode.Range(0, 0, 0, 0) });
      await waitFor(async () => (await paintedState(doc.uri)).decorations, 60_000, 'the first screen painted');
      // far down, where one-line strings are (the quote circuit fires at string closes)
      const lines = doc.getText().split('\n');
      const line = lines.findIndex((l, i) => i > 21_000 && /^__all__ = \["[a-z]{3,}"/.test(l));
      assert.ok(line > 0, 'a one-line string past line 21,000');
      editor.revealRange(new vscode.Range(line, 0, line, 0), vscode.TextEditorRevealType.AtTop);
      const visible = await waitFor(async () => ((editor.visibleRanges[0]?.start.line ?? 0) > 20_000 ? editor.visibleRanges[0] : undefined), 10_000, 'the editor scrolled');
      const [from, to] = [doc.offsetAt(visible.start), doc.offsetAt(visible.end)];
      const marked = await waitFor(async () => {
        const s = await paintedState(doc.uri);
        return s.decorations?.spans.some((x) => x.start >= from && x.end <= to) ? s : undefined;
      }, 120_000, 'marks on the new screen');
      assert.ok((marked.inFlight ?? 0) > 0, 'the new screen was painted while the rest of the file was still being analysed');
      await waitFor(async () => (await testState()).inFlight === 0, 120_000, 'the whole file analysed');
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    } finally {
      await config.update('maxFileSizeKB', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  test('the readout sentence says right or wrong against the quote the code really has, at every string of the fixture', async () => {
    const editor = await openFixture('quotes_and_lists.py');
    const doc = editor.document;
    await decorations(doc.uri, (d) => d.spans.length > 0); // the model is loaded and the file analysed
    const lines = doc.getText().split('\n');
    let checked = 0;
    for (let line = 0; line < lines.length; line++) {
      const m = /^\s*\w+(?: = |\()(["'])([a-z]+)/.exec(lines[line]);
      if (!m) continue;
      const truth = m[1] === '"' ? 'double' : 'single';
      const pos = new vscode.Position(line, m.index + m[0].length - 1);
      const text = await waitFor(async () => {
        const t = await hoverText(doc.uri, pos);
        return /The model expects/.test(t) ? t : undefined;
      }, 30_000, `a readout sentence in the hover on line ${line + 1}`);
      const said = /The model expects \*\*(double|single)\*\*/.exec(text);
      assert.ok(said, `a readout sentence on line ${line + 1}: ${text}`);
      if (said[1] === truth) assert.match(text, /Correct here\./, `line ${line + 1}`);
      else assert.match(text, new RegExp(`Wrong here: the code has \\*\\*${truth}\\*\\*`), `line ${line + 1}`);
      checked++;
    }
    assert.ok(checked >= 3, `strings checked: ${checked}`);
  });

  test('a file with CRLF line ends (a Windows checkout) or indented with tabs reads as its LF, space-indented twin: the same values, highlights and hovers at the same places', async () => {
    const text = fs.readFileSync(path.join(workspaceDir, 'quotes_and_lists.py'), 'utf8');
    const twins = { crlf: text.replaceAll('\n', '\r\n'), tabs: text.replace(/^(?: {4})+/gmu, (run) => '\t'.repeat(run.length / 4)) };
    assert.ok(/^\t\S/mu.test(twins.tabs), 'the tab twin has indented lines');
    // Where an offset is in the space-indented file: a tab of indentation is four of its columns.
    const place = (doc: vscode.TextDocument, offset: number) => {
      const { line, character } = doc.positionAt(offset);
      const tabs = /^\t*/u.exec(doc.lineAt(line).text)![0].length;
      return `${line}:${character + 3 * Math.min(tabs, character)}`;
    };
    const seen = async (doc: vscode.TextDocument) => {
      const s = await stateWhere(doc.uri, (st) => (st.tokens?.length ?? 0) > 0 && (st.decorations?.spans.length ?? 0) > 0, `${path.basename(doc.fileName)} analysed`);
      return {
        // tokens by index (a token of spaces can take part of a tab, so only its line is the same)
        tokens: s.tokens!.map((t) => ({ line: doc.positionAt(t.start).line, circuits: t.circuits, logitDiff: t.logitDiff })),
        // marks by where they end: each on a quote or bracket, after the indentation
        marks: s.decorations!.spans.map((m) => ({ end: place(doc, m.end), task: m.task, cls: m.cls, strength: m.strength })),
      };
    };
    const line = text.split('\n').findIndex((l) => l.startsWith(IN_VALUE.line));
    const hoverAt = async (doc: vscode.TextDocument) => {
      const hover = await hoverText(doc.uri, new vscode.Position(line, IN_VALUE.col));
      return hover.replace(/\(command:[^)]*\)/g, '(command)'); // its links name the file and the offset
    };
    // each while it is on screen: the highlights are the visible editors'
    const lf = (await openFixture('quotes_and_lists.py')).document;
    const fromLf = await seen(lf);
    assert.ok(fromLf.marks.some((m) => m.task === 'bracket_counting') && fromLf.marks.some((m) => m.task === QUOTE), 'both tasks are marked in the file');
    const hover = await hoverAt(lf);
    assert.match(hover, /The model expects/);
    for (const [name, twin] of Object.entries(twins)) {
      const twinPath = path.join(scratch, `quotes_and_lists_${name}.py`);
      fs.writeFileSync(twinPath, twin);
      const doc = (await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(twinPath))).document;
      if (name === 'crlf') assert.equal(doc.eol, vscode.EndOfLine.CRLF, 'VS Code keeps the file\'s CRLF');
      assert.deepEqual(await seen(doc), fromLf, name);
      assert.equal(await hoverAt(doc), hover, name);
      await screenshot(`${name}-twin-highlights`);
    }
  });

  test('"Show circuit at cursor" in a string opens the quote circuit; ablating its key nodes moves the prediction and marks the flipped predictions in the editor; reset clears them', async () => {
    const { doc, state } = await showCircuitAt(IN_VALUE.line, IN_VALUE.col);
    assert.ok(state, 'the command measures the panel model');
    assert.equal(state.circuit.task, QUOTE);
    assert.ok(state.circuit.nodes.length > 0);
    assert.ok(state.readout);
    const target = state.readout.target;
    assert.equal(target, 0, 'the string opened with a double quote');
    assert.match(state.readout.words?.prediction ?? '', /^The model expects double \(`"\)?`\): [\d.]+ % against single within the contrast; as the next token among all [\d.]+ %\. Correct here\.$/);
    assert.equal(state.readout.words?.change, null, 'nothing is ablated yet');
    // the task's own measure: the target's probability within the contrast {target, alternative}
    const share = (r: { probs: [number, number] }) => r.probs[target] / (r.probs[0] + r.probs[1]);
    const before = share(state.readout.before);
    // the circuit beside the editor too, as "Open circuit beside editor" does; an export from it
    // waits for its ready handshake and its graph, so the screenshot shows it drawn. (Not the
    // side-bar view's: in a fresh-clone CI run it stayed unloaded to the end; the cause is not found.)
    await vscode.commands.executeCommand('circuitInspector.openCircuitBeside');
    const drawn = path.join(scratch, 'ready-panel.json');
    await vscode.commands.executeCommand('circuitInspector._testExport', 'json', drawn, 'panel');
    assert.equal((JSON.parse(fs.readFileSync(drawn, 'utf8')) as { nodes: unknown[] }).nodes.length, state.circuit.nodes.length, 'the panel draws every node');
    await screenshot('panel');
    const root = path.join(repoDir, 'models');
    const circuit = JSON.parse(fs.readFileSync(path.join(root, fs.readdirSync(root).sort()[0], 'circuits', `${QUOTE}.json`), 'utf8')) as { key_nodes: string[] };
    // the quote-type channels, switched off: the attention writes that carry " vs ' (several share the job)
    const ablated = await vscode.commands.executeCommand<{ readout: { after: { probs: [number, number]; logitDiff: number } | null; before: { logitDiff: number }; words?: { change: string | null } } }>('circuitInspector._testSetAblation', circuit.key_nodes, 'zero', false);
    assert.ok(ablated.readout.after, 'the readout shows the ablated prediction');
    const moved = /went from ([+−][\d.]+) to ([+−][\d.]+) nats: (still double|flipped to single)\.$/.exec(ablated.readout.words?.change ?? '');
    assert.ok(moved, `the change in words: ${ablated.readout.words?.change}`);
    assert.equal(moved[3] === 'still double', ablated.readout.after.logitDiff > 0, 'it says flipped exactly when the sign changed');
    // which way it goes is the model's (zeroing channels of both signs); the readout must move, and its
    // probability with its logit difference
    const { after: ablatedAfter, before: ablatedBefore } = ablated.readout;
    assert.ok(Math.abs(ablatedAfter.logitDiff - ablatedBefore.logitDiff) > 1e-3, 'the ablation moves the prediction');
    assert.equal(share(ablatedAfter) < before, ablatedAfter.logitDiff < ablatedBefore.logitDiff, `target probability ${before} → ${share(ablatedAfter)} moves with the logit difference`);
    // the editor marks exactly the tokens where the quote task applies (in one-line strings) and the ablation flips the sign of the model's " vs ' logit difference
    const marked = await stateWhere(doc.uri, (s) => !!s.decorations?.flipped.length && !!s.tokens?.every((t) => t.ablatedLogitDiff), 'flipped-prediction marks');
    const signChanged = (marked.tokens ?? []).filter((t) => t.circuits[QUOTE]?.applies && Math.sign(t.logitDiff[QUOTE]) !== Math.sign(t.ablatedLogitDiff?.[QUOTE] ?? NaN));
    assert.deepEqual(marked.decorations?.flipped, signChanged.map((t) => [t.start, t.end]), 'flip marks lie where the logit difference changes sign, and only there');
    await vscode.commands.executeCommand('circuitInspector._testExport', 'json', path.join(scratch, 'ablated.json'), 'panel');
    await screenshot('panel-ablated');
    const reset = await vscode.commands.executeCommand<{ readout: { after: unknown; before: { probs: [number, number] } } }>('circuitInspector.resetAblations');
    assert.equal(reset.readout.after, null);
    assert.ok(Math.abs(share(reset.readout.before as { probs: [number, number] }) - before) < 1e-6);
    const cleared = await stateWhere(doc.uri, (s) => s.decorations?.flipped.length === 0 && !!s.tokens?.every((t) => !t.ablatedLogitDiff), 'flip marks cleared by reset');
    assert.ok(cleared.decorations && cleared.decorations.spans.length > 0, 'the circuit highlights stay');
  });

  // a core pruned on the paper's form that found the task circuit's own nodes is shown as that circuit (core/tasks withoutRepeats)
  const shipped = loadBundle(path.join(repoDir, 'models', 'pysparse-depth'));
  const repeats = shipped.repeats;
  for (const { task, core: coreTask, place, line: start, col: at, shot } of CORES) {
    if (repeats.some((r) => r.task === coreTask && r.sameAs === task)) {
      test(`at ${place} the ${coreTask} core has the ${task} circuit's own nodes: the panel offers one circuit and the hover names the core once, with one firing line`, async () => {
        const { doc, line, col, state } = await showCircuitAt(start, at);
        assert.equal(state.circuit.task, task);
        assert.deepEqual(state.choices?.map((c) => c.task), [task], 'one choice: the same graph is not offered twice');
        const hover = await hoverText(doc.uri, new vscode.Position(line, col));
        assert.equal(hover.match(/The model expects/g)?.length, 1, `one prediction:\n${hover}`);
        assert.match(hover, new RegExp(`Open the [a-z ]+ circuit\\]\\([^)]*\\) \\(also [^:]+, the paper's form: the same ${state.circuit.nodes.length} nodes\\)`), hover);
        assert.equal(hover.match(/its firing rule/g)?.length, 1, `one firing line, the circuit's:\n${hover}`);
        assert.ok(!hover.includes('the prediction is the one above'), 'no second entry for the core');
        // what the circuit alone does on real code, where its evidence has it (training/evaluate.py): in the hover and the panel
        const realCode = taskEvidence(shipped.circuits.find((c) => c.task === task)!).realCode;
        assert.equal(/\$\(info\) On real code the model never saw, this circuit alone \\\(every other node ablated\\\) is right at \d+ %/.test(hover), realCode !== '', hover);
        assert.equal(state.warning, realCode || undefined, "the panel's caveat is the evidence's sentence, or there is none");
        await screenshot(shot);
      });
      continue;
    }
    test(`at ${place} the panel offers the ${task} circuit and its core pruned on the paper's form: the core has its own nodes, the same prediction, and no highlights; the hover states the prediction once`, async () => {
      const { doc, line, col, state: full } = await showCircuitAt(start, at);
      assert.equal(full.circuit.task, task, '"Show circuit at cursor" opens the task\'s own circuit first');
      assert.deepEqual(full.choices?.map((c) => c.task), [task, coreTask]);
      const hover = await hoverText(doc.uri, new vscode.Position(line, col));
      assert.equal(hover.match(/The model expects/g)?.length, 1, `one prediction, stated once:\n${hover}`);
      assert.match(hover, /Open the [a-z ]+, the paper's form circuit\]\([^)]*\) \(\d+ nodes; the prediction is the one above\)/);
      await vscode.commands.executeCommand('circuitInspector._testChooseCircuit', coreTask);
      const core = (await waitFor(async () => {
        const s = await testState(doc.uri);
        return s.panel?.circuit.task === coreTask && !s.panel.busy ? s : undefined;
      }, 60_000, 'the core in the panel')).panel!;
      assert.ok(core.readout && full.readout);
      assert.equal(core.readout.before.logitDiff, full.readout.before.logitDiff, 'one token, one prediction, whichever circuit is shown');
      assert.equal(core.readout.words?.prediction, full.readout.words?.prediction);
      // pruning on the paper's form may find the task circuit itself (the shipped bracket core: the same 7 nodes); then
      // its circuit-alone share is the same number, and otherwise the core is smaller and keeps its own share
      const ids = (c: { nodes: { id: string }[] }) => c.nodes.map((n) => n.id).sort().join(' ');
      if (ids(core.circuit) === ids(full.circuit)) {
        assert.equal(core.readout.faithfulness, full.readout.faithfulness, 'the same nodes alone keep the same share');
      } else {
        assert.notEqual(core.readout.faithfulness, full.readout.faithfulness, 'the circuit alone is each circuit\'s own');
        assert.ok(core.circuit.nodes.length < full.circuit.nodes.length, `the core is smaller: ${core.circuit.nodes.length} of ${full.circuit.nodes.length}`);
      }
      assert.ok(Number.isFinite(full.readout.allAblated), 'every node ablated, which the circuit alone is read against');
      assert.equal(core.readout.allAblated, full.readout.allAblated, 'every node ablated is the same whichever circuit is shown');
      assert.deepEqual(core.choices, full.choices, 'the same choices at the same token');
      await vscode.commands.executeCommand('circuitInspector.openCircuitBeside');
      const drawn = path.join(scratch, `${coreTask}-panel.json`);
      await vscode.commands.executeCommand('circuitInspector._testExport', 'json', drawn, 'panel');
      assert.equal((JSON.parse(fs.readFileSync(drawn, 'utf8')) as { nodes: unknown[] }).nodes.length, core.circuit.nodes.length, 'the panel draws the core');
      await screenshot(shot);
      const marks = await decorations(doc.uri, (d) => d.spans.length > 0);
      assert.ok(marks.spans.some((m) => m.task === task) && !marks.spans.some((m) => m.task === coreTask), `the core marks nothing: its places are the ${task} circuit's`);
      await vscode.commands.executeCommand('circuitInspector._testChooseCircuit', task);
      await waitFor(async () => ((await testState(doc.uri)).panel?.circuit.task === task ? true : undefined), 60_000, `back to the ${task} circuit`);
    });
  }

  test('ablating the firing-rule node keeps the highlights where the unablated circuit fires (its identity); the effect shows as flip marks', async () => {
    const editor = await openFixture('quotes_and_lists.py');
    const doc = editor.document;
    const quote = (d: Decorations | undefined) => (d?.spans ?? []).filter((s) => s.task === QUOTE).map((s) => `${s.start}-${s.end}:${s.cls}`);
    const before = await stateWhere(doc.uri, (s) => quote(s.decorations).length > 0 && s.decorations?.flipped.length === 0 && !!s.tokens?.every((t) => !t.ablatedLogitDiff), 'unablated highlights');
    const root = path.join(repoDir, 'models');
    const circuit = JSON.parse(fs.readFileSync(path.join(root, fs.readdirSync(root).sort()[0], 'circuits', `${QUOTE}.json`), 'utf8')) as { firing: { terms: { node: string }[] } };
    const offset = doc.getText().indexOf('print("value")') + 'print("val'.length;
    await vscode.commands.executeCommand('circuitInspector.showCircuitAtCursor', { uri: doc.uri.toString(), offset });
    try {
      // zero ablation of every node of the firing rule: under the ablation its value is 0 everywhere, so highlights drawn from the ablated run would all vanish
      await vscode.commands.executeCommand('circuitInspector._testSetAblation', circuit.firing.terms.map((t) => t.node), 'zero', false);
      const ablated = await stateWhere(doc.uri, (s) => !!s.tokens?.length && s.tokens.every((t) => t.ablatedLogitDiff), 'the analysis under the ablation');
      assert.deepEqual(quote(ablated.decorations), quote(before.decorations), 'the quote highlights stay where the unablated circuit fires');
      const signChanged = (ablated.tokens ?? []).filter((t) => t.circuits[QUOTE]?.applies && Math.sign(t.logitDiff[QUOTE]) !== Math.sign(t.ablatedLogitDiff?.[QUOTE] ?? NaN));
      assert.deepEqual(ablated.decorations?.flipped, signChanged.map((t) => [t.start, t.end]), 'flip marks where the prediction changes sign, and only there');
      console.log(`[features] firing-rule node ablated: ${quote(ablated.decorations).length} quote highlights kept, ${signChanged.length} flip marks`);
      await screenshot('firing-rule-ablated');
    } finally {
      await vscode.commands.executeCommand('circuitInspector.resetAblations');
    }
  });

  test('the panel exports valid PNG, SVG and JSON', async () => {
    const dir = fs.mkdtempSync(path.join(scratch, 'export-'));
    for (const format of ['png', 'svg', 'json'] as const) {
      const file = path.join(dir, `graph.${format}`);
      await vscode.commands.executeCommand('circuitInspector._testExport', format, file);
      const bytes = fs.readFileSync(file);
      if (format === 'png') assert.deepEqual([...bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      if (format === 'svg') assert.match(bytes.toString('utf8'), /<svg[\s>]/);
      if (format === 'json') assert.ok((JSON.parse(bytes.toString('utf8')) as { nodes: unknown[] }).nodes.length > 0);
    }
  });

  test('a broken model bundle gives a clear message and the editor keeps working', async () => {
    const dir = fs.mkdtempSync(path.join(scratch, 'broken-'));
    fs.writeFileSync(path.join(dir, 'manifest.json'), '{"format": "circuit-inspector-bundle/1"');
    const config = vscode.workspace.getConfiguration('circuitInspector');
    await config.update('bundlePath', dir, vscode.ConfigurationTarget.Global);
    try {
      const state = await waitFor(async () => (await testState()).error, 30_000, 'load error');
      assert.match(state, /manifest\.json is not valid JSON/);
      assert.ok(state.includes(dir), 'the message names the bundle');
      const editor = await openFixture('quotes_and_lists.py');
      assert.ok(await editor.edit((b) => b.insert(new vscode.Position(0, 0), '# still editable\n')));
      await vscode.commands.executeCommand('undo');
    } finally {
      await config.update('bundlePath', undefined, vscode.ConfigurationTarget.Global);
      await waitFor(async () => (await testState()).model, 60_000, 'model reload');
    }
  });

  test('on real files (this repository\'s training/tasks.py, 100 lines of the standard library\'s ntpath.py) the quote highlights sit in strings and mark double-quoted strings where they close', async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    // each with the line to scroll to for the picture: its lists of short strings
    for (const [file, top] of [[path.join(repoDir, 'training', 'tasks.py'), 26], [path.join(workspaceDir, 'stdlib_ntpath.py'), 12]] as const) {
      const editor = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(file));
      const doc = editor.document;
      const state = await stateWhere(doc.uri, (s) => s.decorations !== undefined && !!s.tokens?.length, `analysis of ${path.basename(file)}`);
      const figures = quoteFigures(doc.getText(), state);
      console.log(`quote circuit on ${path.relative(repoDir, file)}: ${JSON.stringify(figures)}`);
      const density = (f: { tokens: number; highlighted: number }) => f.highlighted / f.tokens;
      assert.ok(density(figures.inStrings) > density(figures.outsideStrings), 'highlights are denser inside string literals than outside them');
      assert.ok(figures.double.strings > 0 && figures.double.rightColour >= figures.double.strings / 2, 'at least half of the double-quoted strings are marked "double" where they close');
      editor.revealRange(new vscode.Range(top, 0, top, 0), vscode.TextEditorRevealType.AtTop);
      await screenshot(`real-${path.basename(file, '.py')}`);
    }
    // a single-quoted string: the hover gives the model's prediction where it closes (the two-sided rule marks it too)
    const editor = vscode.window.activeTextEditor as vscode.TextEditor;
    const at = editor.document.positionAt(editor.document.getText().indexOf("'surrogateescape'") + 3);
    editor.selection = new vscode.Selection(at, at);
    editor.revealRange(new vscode.Range(at.line - 12, 0, at.line - 12, 0), vscode.TextEditorRevealType.AtTop);
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', editor.document.uri, at);
    assert.ok(hovers.length > 0, 'a single-quoted string has a hover with the prediction where it closes');
    await vscode.commands.executeCommand('editor.action.showHover');
    await new Promise((r) => setTimeout(r, 1000)); // let the hover widget paint before the picture
    await screenshot('real-stdlib_ntpath-hover');
  });
});
