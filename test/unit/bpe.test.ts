import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { BpeTokenizer } from '../../src/core/bpe';

const root = path.resolve(__dirname, '..', '..', '..');
const tok = BpeTokenizer.fromJson(fs.readFileSync(path.join(root, 'test/fixtures/tokenizer.json'), 'utf8'));

function assertTiles(text: string): void {
  const e = tok.encode(text);
  let at = 0;
  for (let i = 0; i < e.ids.length; i++) {
    assert.equal(e.starts[i], at, `token ${i} starts at ${e.starts[i]}, expected ${at}`);
    assert.ok(e.ends[i] >= e.starts[i]);
    at = e.ends[i];
  }
  assert.equal(at, text.length);
}

test('ids match the Python tokenizer on every golden vector', () => {
  const golden = JSON.parse(fs.readFileSync(path.join(root, 'test/fixtures/golden_tokenizer.json'), 'utf8')) as { text: string; ids: number[] }[];
  assert.ok(golden.length >= 50);
  for (const g of golden) assert.deepEqual(tok.encode(g.text).ids, g.ids, JSON.stringify(g.text.slice(0, 60)));
});

test('special token and known single tokens', () => {
  assert.equal(tok.vocabSize, 2048);
  assert.deepEqual(tok.encode('<|endoftext|>').ids, [2047]);
  assert.equal(tok.encode('")').ids.length, 1);
  assert.equal(tok.decode(tok.encode('a<|endoftext|>b').ids), 'a<|endoftext|>b');
});

test('ranges tile the text, including multi-byte and astral characters', () => {
  for (const s of ['', 'x = "héllo"  # ünïcode\n', 'emoji = "🐍🚀"\r\n', '日本語のテキスト', '\t\t  \n\n  x']) assertTiles(s);
  const e = tok.encode('a = "🐍"');
  const snake = e.starts.findIndex((s, i) => e.ends[i] - s === 2);
  assert.ok(snake >= 0, 'the emoji (2 UTF-16 units) belongs to exactly one token');
});

test('decode(encode(s)) == s for 100,000 generated strings', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('\r\n', '    ', "'''", '"""')), (s) => {
      // lone surrogates cannot be UTF-8 encoded; they come back as U+FFFD like in any UTF-8 tool
      const wellFormed = s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
      assert.equal(tok.decode(tok.encode(wellFormed).ids), wellFormed);
      assertTiles(s);
    }),
    { numRuns: 100_000 },
  );
});

test('every file of the validation corpus round-trips and tiles', (t) => {
  const corpus = path.join(root, 'training/data/corpus_val.jsonl');
  if (!fs.existsSync(corpus)) {
    t.skip('training/data/corpus_val.jsonl is absent (made by training/prepare.py)');
    return;
  }
  const lines = fs.readFileSync(corpus, 'utf8').split('\n').filter(Boolean);
  for (const line of lines) {
    const { text } = JSON.parse(line) as { text: string };
    assert.equal(tok.decode(tok.encode(text).ids), text);
    assertTiles(text);
  }
  assert.ok(lines.length > 100);
});
