import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { BundleError, loadBundle } from '../../src/core/bundle';
import { formatNodeId, NodeLayout, parseNodeId } from '../../src/core/nodes';
import { editedCopy } from './tempDirs';

const root = path.resolve(__dirname, '..', '..', '..');
const modelsDir = path.join(root, 'models');
const shippedName = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir).sort().find((d) => fs.existsSync(path.join(modelsDir, d, 'manifest.json'))) : undefined;
const shipped = shippedName ? path.join(modelsDir, shippedName) : '';
const noBundle = shipped ? false : 'no model bundle under models/ (made by training/pipeline.sh)';
const sampleCircuit = fs.readFileSync(path.join(root, 'test/fixtures/circuit-sample.json'), 'utf8');

const brokenCopy = (edit: (dir: string) => void): string => editedCopy(shipped, 'ci-bundle-', edit);

function editJson(file: string, f: (m: Record<string, unknown>) => void): void {
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  f(m);
  fs.writeFileSync(file, JSON.stringify(m));
}

const manifestEdit = (dir: string, f: (m: Record<string, unknown>) => void) => editJson(path.join(dir, 'manifest.json'), f);

/** Put a circuit file (the sample, which names real nodes of the layout, after `edit`) into the bundle. */
function withCircuit(dir: string, edit: (c: Record<string, unknown>) => void = () => {}, name = 'quote.json'): void {
  fs.mkdirSync(path.join(dir, 'circuits'), { recursive: true });
  const c = JSON.parse(sampleCircuit) as Record<string, unknown>;
  c.task = 'sample_quote'; // the shipped bundle may already have the real single_double_quote
  edit(c);
  fs.writeFileSync(path.join(dir, 'circuits', name), JSON.stringify(c));
  manifestEdit(dir, (m) => (m.circuits = [...((m.circuits as string[]) ?? []).filter((x) => x !== `circuits/${name}`), `circuits/${name}`]));
}

test('node ids parse, format, and map to flat indices through the layout', () => {
  assert.deepEqual(parseNodeId('0.mlp.post_act.407'), { layer: 0, kind: 'mlp', site: 'post_act', index: 407 });
  assert.equal(formatNodeId({ layer: 3, kind: 'attn', site: 'v', index: 12 }), '3.attn.v.12');
  for (const bad of ['0.mlp.post_act', 'x.attn.v.1', '0.conv.v.1', '0.attn.v.01', '0.attn.v.-1']) assert.equal(parseNodeId(bad), undefined, bad);
  const layout = new NodeLayout([
    { name: '0.attn.v', offset: 0, length: 4 },
    { name: '0.mlp.post_act', offset: 4, length: 8 },
  ]);
  assert.equal(layout.count, 12);
  assert.equal(layout.flat('0.mlp.post_act.3'), 7);
  assert.equal(layout.flat('0.mlp.post_act.8'), undefined);
  assert.equal(layout.flat('0.attn.q.0'), undefined);
  for (let f = 0; f < 12; f++) assert.equal(layout.flat(layout.id(f)), f);
  assert.throws(() => layout.id(12), RangeError);
  assert.equal(layout.problems(12), undefined);
  assert.match(layout.problems(13) ?? '', /covers 12 nodes but nodes.count is 13/);
  assert.match(new NodeLayout([{ name: '0.attn.v', offset: 1, length: 4 }]).problems(5) ?? '', /starts at 1, expected 0/);
});

test('the shipped bundle loads and is consistent, with a circuit that names real nodes', { skip: noBundle }, () => {
  const b = loadBundle(shipped);
  assert.equal(b.means.length, b.layout.count);
  assert.equal(b.tokenizer.vocabSize, b.model.vocab_size);
  assert.ok(b.context <= b.model.block_size);
  const dir = brokenCopy((d) => withCircuit(d));
  const withC = loadBundle(dir);
  assert.equal(withC.circuits.at(-1)?.task, 'sample_quote');
  for (const n of withC.circuits.at(-1)?.nodes ?? []) assert.equal(withC.layout.flat(n.id), n.flat);
});

test('a circuit with the prediction and the nodes of an earlier one is left out of `circuits` and listed as its repeat', { skip: noBundle }, () => {
  const dir = brokenCopy((d) => {
    withCircuit(d);
    withCircuit(d, (c) => ((c.task = 'sample_quote_paper'), (c.title = 'Sample, the paper\'s form')), 'core.json');
  });
  const b = loadBundle(dir);
  assert.deepEqual(
    b.circuits.filter((c) => c.task.startsWith('sample_quote')).map((c) => c.task),
    ['sample_quote'],
  );
  assert.deepEqual(b.repeats.at(-1), { task: 'sample_quote_paper', title: "Sample, the paper's form", sameAs: 'sample_quote' });
});

const cases: [string, (dir: string) => void, RegExp][] = [
  ['missing folder', (d) => fs.rmSync(d, { recursive: true }), /the folder does not exist\. Set circuitInspector\.bundlePath/],
  ['missing manifest', (d) => fs.rmSync(path.join(d, 'manifest.json')), /manifest\.json is missing\. Point/],
  ['manifest not JSON', (d) => fs.writeFileSync(path.join(d, 'manifest.json'), '{'), /manifest\.json is not valid JSON .*Re-export/],
  ['wrong format', (d) => manifestEdit(d, (m) => (m.format = 'other/9')), /manifest\.json has format "other\/9", expected "circuit-inspector-bundle\/1"/],
  ['bad model field', (d) => manifestEdit(d, (m) => ((m.model as Record<string, unknown>).n_layer = '2')), /model\.n_layer must be a positive integer/],
  ['context above block size', (d) => manifestEdit(d, (m) => (m.context = 100000)), /"context" must be a positive integer no larger than model\.block_size/],
  ['onnx outside the bundle', (d) => manifestEdit(d, (m) => (m.onnx = '../model.onnx')), /"onnx" must be a relative path inside the bundle/],
  ['missing onnx', (d) => fs.rmSync(path.join(d, 'model.onnx')), /model\.onnx \(named by manifest\.json "onnx"\) is missing/],
  ['truncated ONNX', (d) => fs.writeFileSync(path.join(d, 'model.onnx'), 'x'), /model\.onnx is only 1 bytes, so the ONNX file is truncated\. Re-export/],
  ['not ONNX', (d) => fs.writeFileSync(path.join(d, 'model.onnx'), Buffer.alloc(4096, 0x41)), /model\.onnx does not start like an ONNX model/],
  ['layout count mismatch', (d) => manifestEdit(d, (m) => ((m.nodes as { count: number }).count += 1)), /node layout is inconsistent \(the layout covers \d+ nodes but nodes\.count is \d+\)/],
  ['layout gap', (d) => manifestEdit(d, (m) => ((m.nodes as { layout: { offset: number }[] }).layout[1].offset += 1)), /node layout is inconsistent \(location \S+ starts at/],
  ['layout deeper than the model', (d) => manifestEdit(d, (m) => ((m.model as { n_layer: number }).n_layer = 1)), /is in layer 1 but the model has 1 layers/],
  ['wrong tokenizer (vocab size)', (d) => manifestEdit(d, (m) => ((m.model as { vocab_size: number }).vocab_size = 4096)), /tokenizer\.json has 2048 tokens but the model has 4096, so it is the wrong tokenizer/],
  ['wrong tokenizer (not BPE)', (d) => fs.writeFileSync(path.join(d, 'tokenizer.json'), '{"model":{"type":"Unigram"}}'), /tokenizer\.json could not be read as a byte-level BPE tokenizer/],
  ['eot id not special', (d) => manifestEdit(d, (m) => (m.eot_id = 5)), /no special token with manifest\.json eot_id 5/],
  ['short means file', (d) => fs.writeFileSync(path.join(d, 'node_means.bin'), Buffer.alloc(8)), /node_means\.bin holds 8 bytes but the model's \d+ nodes need exactly \d+/],
  ['missing circuit file', (d) => manifestEdit(d, (m) => (m.circuits = ['circuits/gone.json'])), /circuits\/gone\.json \(named by manifest\.json "circuits" entry .*\) is missing/],
  ['circuit not valid', (d) => withCircuit(d, (c) => delete c.classes), /circuits\/quote\.json is not a valid circuit file/],
  [
    'circuit naming a node that does not exist',
    (d) =>
      withCircuit(d, (c) => {
        // rename the node everywhere (edges, firing, key nodes), so only the layout check can object
        const nodes = c.nodes as Record<string, unknown>[];
        const old = nodes[0].id as string;
        const renamed = JSON.parse(JSON.stringify(c).split(`"${old}"`).join('"9.mlp.post_act.3"')) as Record<string, unknown>;
        Object.assign((renamed.nodes as Record<string, unknown>[])[0], { layer: 9, site: 'mlp.post_act', index: 3 });
        Object.assign(c, renamed);
      }),
    /circuits\/quote\.json names node 9\.mlp\.post_act\.3, which is not in the model's node layout\. Re-export the bundle or fix the circuit file\.$/,
  ],
  ['circuit flat index off', (d) => withCircuit(d, (c) => ((c.nodes as { flat: number }[])[0].flat += 1)), /says flat index \d+ but the layout puts it at \d+/],
  ['firing rule node unknown', (d) => withCircuit(d, (c) => ((c.firing as { terms: { node: string }[] }).terms[0].node = '1.mlp.post_act.999')), /names node 1\.mlp\.post_act\.999 in its firing rule, which is not in the model's node layout/],
  ['class token outside the vocabulary', (d) => withCircuit(d, (c) => ((c.classes as { tokens: { id: number }[] }[])[0].tokens[0].id = 99999)), /token "\\"\)" has id 99999, outside the vocabulary of 2048/],
  [
    'two files for one task',
    (d) => {
      withCircuit(d);
      withCircuit(d, () => {}, 'again.json');
    },
    /circuits\/again\.json repeats task sample_quote/,
  ],
];

for (const [name, edit, message] of cases) {
  test(`a broken bundle is explained in one sentence: ${name}`, { skip: noBundle }, () => {
    const dir = brokenCopy(edit);
    try {
      assert.throws(
        () => loadBundle(dir),
        (e: Error) => {
          assert.ok(e instanceof BundleError);
          assert.match(e.message, message);
          assert.ok(e.message.startsWith(`Bundle ${dir}: `), e.message);
          assert.ok(!e.message.includes('\n'), 'one line');
          assert.match(e.message, /\.$/, 'ends as a sentence');
          return true;
        },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
