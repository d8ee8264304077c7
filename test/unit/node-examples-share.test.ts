// Node examples without a share of active tokens (OpenAI's stored pretraining samples, converted by
// training/openai_viz.py): the schema takes them, and the panel's summary says the share is not given
// instead of printing NaN.

import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { circuitFile, type CircuitFile, type NodeExamples } from '../../src/schemas/circuit';
import { check } from '../../src/schemas/validate';
import { exampleRows, examplesSummary } from '../../src/webview/exampleText';
import { readFixture, sampleCircuit } from './fixtures';

const sample = readFixture('node-examples-sample.json') as { node_examples: NonNullable<CircuitFile['node_examples']>; examples: NodeExamples };
const withoutShare: NodeExamples = { top: sample.examples.top, quantiles: sample.examples.quantiles };
const source = { ...sample.node_examples, corpus: "OpenAI's pretraining samples (viz_data.pt)" };

describe('node examples without a share of active tokens', () => {
  it('are valid in a circuit file, and a share outside [0, 1] is still refused', () => {
    const c = sampleCircuit();
    const withEx = (examples: unknown) => ({ ...c, node_examples: source, nodes: c.nodes.map((n, i) => (i === 0 ? { ...n, examples } : n)) });
    const r = check(circuitFile, withEx(withoutShare));
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.equal(r.value.nodes[0].examples?.nonzero, undefined);
    assert.equal(check(circuitFile, withEx({ ...withoutShare, nonzero: -0.1 })).ok, false);
  });

  it('say where they come from and that the share is not given, with no NaN', () => {
    const line = examplesSummary(withoutShare, source);
    assert.equal(line, "From OpenAI's pretraining samples (viz_data.pt); how often this node is active is not given.");
    assert.equal(examplesSummary(withoutShare, undefined), 'From the scanned text; how often this node is active is not given.');
    assert.equal(exampleRows(withoutShare).length, sample.examples.top.length + sample.examples.quantiles.length);
  });
});
