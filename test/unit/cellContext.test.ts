// Notebook cells as the model reads them (core/cellContext): which cells are context, how they are
// joined, IPython syntax read as comments with every offset kept, and spans mapped back to a cell.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { asPython, CELL_SEPARATOR, isPythonCell, joinedText, leftContext, linesBefore, spansInCell } from '../../src/core/cellContext';

const code = (text: string, language = 'python') => ({ code: true, language, text });
const markdown = (text: string) => ({ code: false, language: 'markdown', text });

test('the left context is the Python code cells above, trailing whitespace dropped, each followed by a blank line', () => {
  const cells = [code('import os\n'), markdown('# Title'), code(''), code('x = 1  \n\n'), code('print(x)')];
  assert.equal(CELL_SEPARATOR, '\n\n');
  assert.equal(leftContext(cells, 0), '');
  assert.equal(leftContext(cells, 2), 'import os\n\n');
  assert.equal(leftContext(cells, 4), 'import os\n\nx = 1\n\n');
  assert.equal(joinedText(leftContext(cells, 4), 'print(x)'), 'import os\n\nx = 1\n\nprint(x)');
});

test('only the nearest cells above are read, whole, until the character budget is reached', () => {
  const cells = [code('a = 1'), code('bb = 22'), markdown('text'), code('ccc = 333'), code('d')];
  assert.equal(leftContext(cells, 4, 10), 'ccc = 333\n\n', 'one cell reaches 10 characters');
  assert.equal(leftContext(cells, 4, 12), 'bb = 22\n\nccc = 333\n\n', 'the cell that crosses 12 comes whole');
  assert.equal(leftContext(cells, 4, 1000), 'a = 1\n\nbb = 22\n\nccc = 333\n\n');
});

test('cells of another language and cells handed to another program by a cell magic are no context', () => {
  assert.equal(isPythonCell(code('x = 1', 'r')), false);
  assert.equal(isPythonCell(code('%%bash\nls -l')), false);
  assert.equal(isPythonCell(code('%%writefile a.py\nx = 1')), false);
  assert.equal(isPythonCell(code('%%time\nx = sum(range(9))')), true);
  assert.equal(leftContext([code('%%html\n<b>hi</b>'), code('%%timeit\nf()'), code('y')], 2), '#%timeit\nf()\n\n');
});

test('magics and shell escapes become comments of the same length; `!=` and `%` inside a line stay', () => {
  const text = '%matplotlib inline\n!pip install numpy\n  %time f()\nif a != b:\n    x = 7 % 3\n';
  const python = asPython(text);
  assert.equal(python, '#matplotlib inline\n#pip install numpy\n  #time f()\nif a != b:\n    x = 7 % 3\n');
  assert.equal(python.length, text.length);
});

test('spans of the joined text map back to the cell: earlier ones dropped, one across the cell start clipped', () => {
  const context = 'a = [1]\n\n';
  const shift = context.length;
  const spans = [
    { start: 0, end: 1, text: 'a' },
    { start: 7, end: shift + 2, text: '\n\n  ' },
    { start: shift + 2, end: shift + 5, text: 'b =' },
  ];
  assert.deepEqual(spansInCell(spans, shift), [
    { start: 0, end: 2, text: '\n\n  ' },
    { start: 2, end: 5, text: 'b =' },
  ]);
  assert.equal(linesBefore(context), 2);
  assert.equal(linesBefore(''), 0);
});
