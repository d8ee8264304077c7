// Differential test of the TS tokenizer against the Python `tokenizers` library on random,
// Unicode-heavy text. The golden vectors and the validation corpus are nearly all ASCII; this test
// is the one that exercises where JS's `u`-flag regex and HF's (Oniguruma/Rust) could disagree:
// `\s` membership (U+0085, U+FEFF, U+180E, U+200B…), `\p{L}` / `\p{N}` across scripts and Unicode
// versions, astral characters, special tokens glued to other text, and \r\n runs.
// The strings are made in Python from a fixed seed, so a failure reproduces exactly.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Tokenizer } from '../../src/core/tokenizer';

const root = path.resolve(__dirname, '..', '..', '..');
const python = path.join(root, '.venv/bin/python');
const tokPath = path.join(root, 'test/fixtures/tokenizer.json');
const CASES = 20_000;

// Each string: 0–19 pieces drawn from pools of ASCII, whitespace of every kind, 2-, 3- and 4-byte
// UTF-8 characters (anywhere in the code space, surrogates excepted), and Python-ish fragments.
const GENERATOR = String.raw`
import json, random, sys
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
rng = random.Random(20261123)
def bmp():
    c = rng.randrange(0x800, 0x10000 - 0x800)
    return chr(c if c < 0xd800 else c + 0x800)
pools = [
    lambda: chr(rng.randrange(0x20, 0x7f)),
    lambda: rng.choice(' \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u180e\u2000\u2007\u200a\u200b\u2028\u2029\u202f\u205f\u3000\ufeff'),
    lambda: chr(rng.randrange(0x80, 0x800)),
    bmp,
    lambda: chr(rng.randrange(0x10000, 0x110000)),
    lambda: rng.choice(['<|endoftext|>', '"""', "'''", '\r\n', '\r\r\n', '    ', 'def ', '123456', '\u0661\u0662\u0663', '\u01c5', '\u2167', '\u00b2', '\u0345', '\u00df', '\U0001d7d8', '\U0001f40d']),
]
out = []
for _ in range(int(sys.argv[2])):
    s = ''.join(rng.choice(pools)() for _ in range(rng.randrange(0, 20)))
    out.append([s, tok.encode(s).ids])
json.dump(out, sys.stdout)
`;

function reference(): [string, number[]][] | string {
  if (!fs.existsSync(python)) return '.venv/bin/python is absent (made by training setup), so there are no Python reference ids';
  const r = spawnSync(python, ['-c', GENERATOR, tokPath, String(CASES)], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0 && /No module named ['"]?tokenizers/.test(r.stderr)) return 'the Python `tokenizers` package is not installed in .venv';
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as [string, number[]][];
}

test('ids match Python tokenizers on 20,000 random Unicode-heavy strings', (t) => {
  const ref = reference();
  if (typeof ref === 'string') return t.skip(ref);
  assert.equal(ref.length, CASES);
  const tok = Tokenizer.fromJson(fs.readFileSync(tokPath, 'utf8'));
  const bad: string[] = [];
  for (const [text, ids] of ref) {
    const got = tok.encode(text).ids;
    if (got.length !== ids.length || got.some((id, i) => id !== ids[i])) {
      const cps = [...text].map((c) => `U+${(c.codePointAt(0) as number).toString(16).toUpperCase()}`).join(' ');
      bad.push(`${JSON.stringify(text)} (${cps}): python [${ids.join(',')}] ts [${got.join(',')}]`);
    }
  }
  assert.deepEqual(bad.slice(0, 5), [], `${bad.length} of ${CASES} strings differ`);
});
