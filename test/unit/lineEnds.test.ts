// The model reads CRLF line ends as LF (core/lineEnds): the same ids as the LF text, ranges in the
// document's own offsets, and — on the real model — every number of a CRLF document equal to its LF twin's.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { DocumentAnalyzer, type DocumentAnalysis, NO_ABLATION, type TokenResult } from '../../src/core/analysis';
import { loadBundle } from '../../src/core/bundle';
import { encodeDocument, encodeDocumentCompact } from '../../src/core/lineEnds';
import { Runner } from '../../src/core/runner';
import { Tokenizer } from '../../src/core/tokenizer';

const root = path.resolve(__dirname, '..', '..', '..');
const tok = Tokenizer.fromJson(fs.readFileSync(path.join(root, 'test/fixtures/tokenizer.json'), 'utf8'));
const lf = fs.readFileSync(path.join(root, 'test/fixtures/workspace/stdlib_ntpath.py'), 'utf8');
const crlf = (text: string): string => text.replaceAll('\n', '\r\n');

/** The encoding of `text` read with CRLF as LF: the LF text's ids, ranges that tile `text` and hold the LF tokens' texts. */
function assertReadAsLf(text: string): void {
  const folded = text.replaceAll('\r\n', '\n');
  const want = tok.encode(folded);
  const got = encodeDocument(tok, text);
  assert.deepEqual(got.ids, want.ids);
  let at = 0;
  got.ids.forEach((_, i) => {
    assert.equal(got.starts[i], at, `token ${i} starts where the one before ends`);
    assert.equal(text.slice(got.starts[i], got.ends[i]).replaceAll('\r\n', '\n'), folded.slice(want.starts[i], want.ends[i]), `token ${i}'s text`);
    at = got.ends[i];
  });
  assert.equal(at, text.length);
  const compact = encodeDocumentCompact(tok, text);
  assert.deepEqual([Array.from(compact.ids), Array.from(compact.starts), Array.from(compact.ends)], [got.ids, got.starts, got.ends]);
}

test('a CRLF file is tokenized as its LF twin, each line-end token covering its \\r\\n', () => {
  assertReadAsLf(crlf(lf));
  const e = encodeDocument(tok, 'x = [1]\r\ny = 2\r\n');
  const closer = e.starts.findIndex((s, i) => 'x = [1]\r\ny = 2\r\n'.slice(s, e.ends[i]).includes(']'));
  assert.equal('x = [1]\r\ny = 2\r\n'.slice(e.starts[closer], e.ends[closer]), ']\r\n', 'the list close takes the whole line end, as `]\\n` would');
  assert.deepEqual(encodeDocument(tok, lf), tok.encode(lf), 'an LF file: the tokenizer\'s own encoding');
  assert.deepEqual(encodeDocument(tok, 'a\rb\r\r'), tok.encode('a\rb\r\r'), 'a lone \\r stays');
});

test('any mix of \\r\\n, \\r and \\n reads as the text with each \\r\\n folded', () => {
  const piece = fc.oneof(fc.constantFrom('\r\n', '\r', '\n', '\r\r\n', '\n\r', ' ', '    ', ']', '"', "'", 'x = [', 'def f():', '🐍', '<|endoftext|>'), fc.string({ maxLength: 6 }));
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 24 }), (ps) => assertReadAsLf(ps.join(''))),
    { numRuns: 5_000 },
  );
});

const modelsDir = path.join(root, 'models');
const shipped = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).sort().find((d) => fs.existsSync(path.join(modelsDir, d, 'manifest.json'))) : undefined;

test('the real model gives a CRLF document the very numbers of its LF twin, at the same places in each', { skip: shipped ? false : 'no model bundle under models/' }, async () => {
  const b = loadBundle(path.join(modelsDir, shipped!));
  const runner = await Runner.create(b.onnxPath, { provider: 'cpu' });
  try {
    const a = new DocumentAnalyzer(b, runner, { topK: 3 });
    const twin = crlf(lf);
    const done = (r: DocumentAnalysis | { status: 'cancelled' }): DocumentAnalysis => (assert.equal(r.status, 'done'), r as DocumentAnalysis);
    const [L, C] = [done(await a.analyze(lf, NO_ABLATION, { nextTokens: true })), done(await a.analyze(twin, NO_ABLATION, { nextTokens: true }))];
    assert.equal(C.tokens.map((t) => t.text).join(''), twin, 'the tokens tile the CRLF document');
    assert.equal(C.tokens.length, L.tokens.length);
    const line = (text: string, offset: number) => text.slice(0, offset).split('\n').length;
    const same = (l: TokenResult, c: TokenResult, where: string) => {
      assert.equal(c.id, l.id, where);
      assert.equal(line(twin, c.start), line(lf, l.start), `${where}: the same line`);
      assert.deepEqual(c.next, l.next, where);
      assert.deepEqual(c.circuits, l.circuits, `${where}: firing values and where tasks apply`);
    };
    let applied = 0;
    L.tokens.forEach((l, i) => {
      same(l, C.tokens[i], `token ${i}`);
      for (const circuit of b.circuits) {
        if (!l.circuits[circuit.task].applies) continue;
        applied++;
        assert.deepEqual(C.readout(i, circuit.task), L.readout(i, circuit.task), `token ${i}, ${circuit.task}'s readout`);
      }
    });
    assert.ok(applied > 20, `the file has task points (${applied})`);
    // the CLI's stream and the hover's analyzeAt read it the same way
    const streamed = [];
    for await (const part of a.stream(twin)) streamed.push(...part);
    streamed.forEach((t, i) => assert.deepEqual(t.circuits, C.tokens[i].circuits, `streamed token ${i}`));
    const listClose = twin.indexOf(']\r\n');
    const at = await a.analyzeAt(twin, listClose);
    const i = C.tokens.findIndex((t) => t.start <= listClose && listClose < t.end);
    assert.deepEqual(at?.token.circuits, C.tokens[i].circuits);
  } finally {
    await runner.dispose();
  }
});
