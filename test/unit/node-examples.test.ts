// A node's validation-corpus examples (training/node_examples.py): the circuit file's schema takes
// the script's real output (test/fixtures/node-examples-sample.json) and refuses malformed examples,
// old files without examples stay valid, and the panel's pure logic orders, labels and marks them.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { circuitFile, type CircuitFile, type NodeExamples } from '../../src/schemas/circuit';
import { check } from '../../src/schemas/validate';
import { exampleRows, examplesSummary, exampleSource, visibleWhitespace } from '../../src/webview/exampleText';
import { readFixture, sampleCircuit } from './fixtures';

interface Sample {
  node: string;
  node_examples: NonNullable<CircuitFile['node_examples']>;
  examples: NodeExamples;
}

const sample = readFixture('node-examples-sample.json') as Sample;

/** The sample circuit with the script's examples on its first node, and `patch` applied to them. */
function withExamples(patch: (ex: Record<string, unknown>) => unknown = (ex) => ex): unknown {
  const c = sampleCircuit();
  const examples = patch(structuredClone(sample.examples) as unknown as Record<string, unknown>);
  return { ...c, node_examples: sample.node_examples, nodes: c.nodes.map((n, i) => (i === 0 ? { ...n, examples } : n)) };
}

function reason(raw: unknown): string {
  const r = check(circuitFile, raw);
  assert.equal(r.ok, false, 'expected the circuit file to be refused');
  return r.ok ? '' : r.error.message;
}

describe('circuit file: node examples', () => {
  it('keeps the examples training/node_examples.py writes, with their source', () => {
    const r = check(circuitFile, withExamples());
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.deepEqual(r.value.nodes[0].examples, sample.examples);
    assert.deepEqual(r.value.node_examples, sample.node_examples);
    assert.equal(sample.examples.top.length, 5);
    assert.deepEqual(
      sample.examples.quantiles.map((q) => q.q),
      [0.5, 0.9, 0.99],
    );
  });

  it('a circuit file without examples is still valid', () => {
    const r = check(circuitFile, sampleCircuit());
    assert.ok(r.ok);
    assert.equal(r.value.nodes[0].examples, undefined);
    assert.equal(r.value.node_examples, undefined);
  });

  it('refuses malformed examples with the path of the bad field', () => {
    const top = (ex: Record<string, unknown>) => ex.top as Record<string, unknown>[];
    assert.match(reason(withExamples((ex) => ({ ...ex, nonzero: 1.5 }))), /nodes\[0\]\.examples\.nonzero/);
    assert.match(
      reason(
        withExamples((ex) => {
          top(ex)[1].value = Number.NaN;
          return ex;
        }),
      ),
      /examples\.top\[1\]\.value/,
    );
    assert.match(
      reason(
        withExamples((ex) => {
          top(ex)[0].line = 0;
          return ex;
        }),
      ),
      /examples\.top\[0\]\.line/,
    );
    assert.match(
      reason(
        withExamples((ex) => {
          delete top(ex)[2].token;
          return ex;
        }),
      ),
      /examples\.top\[2\]\.token/,
    );
    assert.match(reason(withExamples((ex) => ({ ...ex, quantiles: [{ q: 2, example: top(ex)[0] }] }))), /examples\.quantiles\[0\]\.q/);
    assert.match(reason(withExamples((ex) => ({ ...ex, top: Array.from({ length: 17 }, () => top(ex)[0]) }))), /examples\.top/);
    assert.match(reason(withExamples(() => [sample.examples.top[0]])), /nodes\[0\]\.examples/);
    assert.match(reason({ ...(withExamples() as object), node_examples: { ...sample.node_examples, tokens: -1 } }), /node_examples\.tokens/);
  });
});

describe('node examples in the panel', () => {
  it('makes spaces, tabs and line ends visible, keeping the line breaks', () => {
    assert.deepEqual(visibleWhitespace('if x:\n\tprint( "a b")\r\n'), [
      { text: 'if', mark: false },
      { text: '\u00b7', mark: true },
      { text: 'x:', mark: false },
      { text: '\u23ce\n\u21e5', mark: true },
      { text: 'print(', mark: false },
      { text: '\u00b7', mark: true },
      { text: '"a', mark: false },
      { text: '\u00b7', mark: true },
      { text: 'b")', mark: false },
      { text: '\u23ce\n', mark: true },
    ]);
    assert.deepEqual(visibleWhitespace('        '), [{ text: '\u00b7'.repeat(8), mark: true }]);
    assert.deepEqual(visibleWhitespace(''), []);
  });

  it('lists the top examples first, then the quantiles from the highest down, each labelled', () => {
    const rows = exampleRows(sample.examples);
    assert.deepEqual(
      rows.map((r) => r.label),
      ['top 1', 'top 2', 'top 3', 'top 4', 'top 5', 'p99', 'p90', 'p50'],
    );
    assert.equal(rows[0].example, sample.examples.top[0]);
    assert.equal(rows[5].example, sample.examples.quantiles[2].example);
    assert.match(rows[6].title, /90th percentile of \|activation\| over the tokens where this node is nonzero/);
  });

  it('says how often the node is active, and where the examples come from', () => {
    const src = sample.node_examples;
    assert.equal(examplesSummary({ ...sample.examples, nonzero: 0.2088 }, src), `Active on 20.9% of ${src.tokens.toLocaleString('en-US')} tokens of corpus_val.jsonl (384 windows).`);
    assert.equal(examplesSummary({ nonzero: 0.0004, top: [], quantiles: [] }, undefined), 'Active on 0.040% of the scanned tokens.');
    assert.equal(examplesSummary({ nonzero: 0, top: [], quantiles: [] }, { ...src, tokens: 1200 }), 'Never active in the 1,200 tokens scanned.');
  });

  it('names the source by package and file', () => {
    const at = (file: string) => exampleSource({ ...sample.examples.top[0], file, line: 12 });
    assert.equal(at('site-packages/torch/__init__.py'), 'torch/__init__.py:12');
    assert.equal(at('stdlib/asyncio/subprocess.py'), 'asyncio/subprocess.py:12');
    assert.equal(at('site-packages/pygments/lexers/sas.py'), 'pygments/\u2026/sas.py:12');
    assert.equal(at('wheel:scikit_learn-1.9.1-cp311.whl/sklearn/metrics/tests/test_ranking.py'), 'sklearn/\u2026/test_ranking.py:12');
    assert.equal(at('demo.py'), 'demo.py:12');
  });
});
