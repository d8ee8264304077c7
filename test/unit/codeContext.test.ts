import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { listAt, stringAt, stringLiterals } from '../../src/core/codeContext';

test('stringAt finds the enclosing literal and its quote', () => {
  const src = 'a = "x\'y" + \'z\'  # "not a string\nb = """doc\n"""\n';
  const s = stringAt(src, src.indexOf('x'));
  assert.deepEqual(s && [s.quote, s.open, s.close], ['"', 4, 8]);
  assert.equal(stringAt(src, src.indexOf('z'))?.quote, "'");
  assert.equal(stringAt(src, src.indexOf('not')), undefined, 'comments are skipped');
  assert.equal(stringAt(src, src.indexOf('doc'))?.triple, true);
  assert.equal(stringAt('print("open', 9)?.close, -1);
  assert.deepEqual(stringLiterals(src).map((l) => [l.quote, l.open, l.triple]), [['"', 4, false], ["'", 12, false], ['"', 37, true]], 'every literal, comments skipped');
});

test('listAt gives the innermost list and its depth', () => {
  const src = 'v = [[1, 2], [3, "]", 4]]';
  assert.equal(listAt(src, src.indexOf('1'))?.depth, 2);
  assert.equal(listAt(src, src.indexOf('4'))?.close, src.length - 2);
  assert.equal(listAt(src, src.indexOf('v')), undefined);
  assert.equal(listAt('x = [1, [2', 9)?.depth, 2);
});
