// The model reads a document as code of its training (core/documentReading): CRLF line ends as LF and tabs of
// indentation as four spaces each — the ids of that text, ranges in the document's own offsets, and, on the
// real model, every number of a CRLF or tab-indented twin equal to the LF, space-indented file's.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { DocumentAnalyzer, type DocumentAnalysis, NO_ABLATION, type TokenResult } from '../../src/core/analysis';
import { loadBundle } from '../../src/core/bundle';
import { encodeDocument, encodeDocumentCompact } from '../../src/core/documentReading';
import { Runner } from '../../src/core/runner';
import { Tokenizer } from '../../src/core/tokenizer';
import { crlfTwin, tabTwin } from './fixtures';

const root = path.resolve(__dirname, '..', '..', '..');
const tok = Tokenizer.fromJson(fs.readFileSync(path.join(root, 'test/fixtures/tokenizer.json'), 'utf8'));
const lf = fs.readFileSync(path.join(root, 'test/fixtures/workspace/stdlib_ntpath.py'), 'utf8');
/**
 * The text the model should read, written independently of the module: CRLF as LF, and the tabs in the
 * white space that starts a line (after an LF: a lone `\r` is no line end here) as four spaces each.
 */
const expected = (text: string): string => text.replaceAll('\r\n', '\n').replace(/(?<=^|\n)[ \t]+/gu, (indent) => indent.replaceAll('\t', '    '));

/**
 * The encoding of `text` as the model reads it: the read text's ids, and ranges that tile `text` where
 * each token's end, read, is where the read token ends — or up to three spaces past it, when the token
 * ends inside the four spaces of a tab (the token then takes the whole tab).
 */
function assertReadAsTrained(text: string): void {
  const read = expected(text);
  const want = tok.encode(read);
  const got = encodeDocument(tok, text);
  assert.deepEqual(got.ids, want.ids);
  let at = 0;
  got.ids.forEach((_, i) => {
    assert.equal(got.starts[i], at, `token ${i} starts where the one before ends`);
    assert.ok(got.ends[i] >= got.starts[i], `token ${i} has no negative length`);
    const readTo = expected(text.slice(0, got.ends[i]));
    assert.equal(readTo.slice(0, want.ends[i]), read.slice(0, want.ends[i]), `token ${i}: the document up to its end reads as the text up to the read token's end`);
    assert.match(readTo.slice(want.ends[i]), /^ {0,3}$/u, `token ${i} ends at most inside the tab it ends in`);
    at = got.ends[i];
  });
  assert.equal(at, text.length);
  const compact = encodeDocumentCompact(tok, text);
  assert.deepEqual([Array.from(compact.ids), Array.from(compact.starts), Array.from(compact.ends)], [got.ids, got.starts, got.ends]);
}

test('a CRLF file is tokenized as its LF twin, each line-end token covering its \\r\\n', () => {
  assertReadAsTrained(crlfTwin(lf));
  const e = encodeDocument(tok, 'x = [1]\r\ny = 2\r\n');
  const closer = e.starts.findIndex((s, i) => 'x = [1]\r\ny = 2\r\n'.slice(s, e.ends[i]).includes(']'));
  assert.equal('x = [1]\r\ny = 2\r\n'.slice(e.starts[closer], e.ends[closer]), ']\r\n', 'the list close takes the whole line end, as `]\\n` would');
  assert.deepEqual(encodeDocument(tok, lf), tok.encode(lf), 'an LF, space-indented file: the tokenizer\'s own encoding');
  assert.deepEqual(encodeDocument(tok, 'a\rb\r\r'), tok.encode('a\rb\r\r'), 'a lone \\r stays');
});

test('a tab-indented file is tokenized as its space-indented twin; a token ending inside a tab takes the whole tab', () => {
  const tabs = tabTwin(lf);
  assert.ok(/^\t\t\S/mu.test(tabs), 'the twin has lines indented by two tabs');
  assertReadAsTrained(tabs);
  assert.deepEqual(encodeDocument(tok, tabs).ids, tok.encode(lf).ids);
  assertReadAsTrained(crlfTwin(tabs));
  const text = 'def f(a):\n\tif a:\n\t\treturn [a]\n';
  const e = encodeDocument(tok, text);
  const texts = e.ids.map((_, i) => text.slice(e.starts[i], e.ends[i]));
  assert.ok(texts.includes('return'), `\` return\` after two tabs covers \`return\` (tokens: ${JSON.stringify(texts)})`);
  assert.equal(texts.join(''), text);
  const after = 'x = 1\t# a tab after code\ny = "\t"\n';
  assert.deepEqual(encodeDocument(tok, after), tok.encode(after), 'a tab after the indentation is read as written');
});

test('any mix of line ends, tabs and spaces reads as the text with each \\r\\n folded and each tab of indentation as four spaces', () => {
  const piece = fc.oneof(
    fc.constantFrom('\r\n', '\r', '\n', '\r\r\n', '\n\r', ' ', '  ', '    ', '\t', '\t\t', ' \t', '\t ', ']', '"', "'", 'x = [', 'def f():', 'return', '🐍', '<|endoftext|>'),
    fc.string({ maxLength: 6 }),
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 24 }), (ps) => assertReadAsTrained(ps.join(''))),
    { numRuns: 5_000 },
  );
});

const modelsDir = path.join(root, 'models');
const shipped = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).sort().find((d) => fs.existsSync(path.join(modelsDir, d, 'manifest.json'))) : undefined;

test('the real model gives a CRLF or tab-indented document the very numbers of its LF, space-indented twin, at the same places in each', { skip: shipped ? false : 'no model bundle under models/' }, async () => {
  const b = loadBundle(path.join(modelsDir, shipped!));
  const runner = await Runner.create(b.onnxPath, { provider: 'cpu' });
  try {
    const a = new DocumentAnalyzer(b, runner, { topK: 3 });
    const done = (r: DocumentAnalysis | { status: 'cancelled' }): DocumentAnalysis => (assert.equal(r.status, 'done'), r as DocumentAnalysis);
    const L = done(await a.analyze(lf, NO_ABLATION, { nextTokens: true }));
    const line = (text: string, offset: number) => text.slice(0, offset).split('\n').length;
    for (const [name, twin] of [['CRLF', crlfTwin(lf)], ['tabs', tabTwin(lf)], ['tabs and CRLF', crlfTwin(tabTwin(lf))]]) {
      const C = done(await a.analyze(twin, NO_ABLATION, { nextTokens: true }));
      assert.equal(C.tokens.map((t) => t.text).join(''), twin, `${name}: the tokens tile the document`);
      assert.equal(C.tokens.length, L.tokens.length, name);
      const same = (l: TokenResult, c: TokenResult, where: string) => {
        assert.equal(c.id, l.id, where);
        assert.equal(line(twin, c.start), line(lf, l.start), `${where}: the same line`);
        assert.deepEqual(c.next, l.next, where);
        assert.deepEqual(c.circuits, l.circuits, `${where}: firing values and where tasks apply`);
      };
      let applied = 0;
      L.tokens.forEach((l, i) => {
        same(l, C.tokens[i], `${name}, token ${i}`);
        for (const circuit of b.circuits) {
          if (!l.circuits[circuit.task].applies) continue;
          applied++;
          assert.deepEqual(C.readout(i, circuit.task), L.readout(i, circuit.task), `${name}, token ${i}, ${circuit.task}'s readout`);
        }
      });
      assert.ok(applied > 20, `the file has task points (${applied})`);
      // the CLI's stream and the hover's analyzeAt read it the same way
      const streamed = [];
      for await (const part of a.stream(twin)) streamed.push(...part);
      streamed.forEach((t, i) => assert.deepEqual(t.circuits, C.tokens[i].circuits, `${name}, streamed token ${i}`));
      const listClose = twin.search(/\]\r?\n/u);
      const at = await a.analyzeAt(twin, listClose);
      const i = C.tokens.findIndex((t) => t.start <= listClose && listClose < t.end);
      assert.deepEqual(at?.token.circuits, C.tokens[i].circuits, `${name}: analyzeAt`);
    }
  } finally {
    await runner.dispose();
  }
});
