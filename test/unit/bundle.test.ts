import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { loadBundle } from '../../src/core/modelBundle';

const root = path.resolve(__dirname, '..', '..', '..');
const shipped = path.join(root, 'models', fs.readdirSync(path.join(root, 'models')).sort()[0]);

function brokenCopy(edit: (dir: string) => void): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ci-bundle-'));
  for (const f of fs.readdirSync(shipped)) {
    const src = path.join(shipped, f);
    if (fs.statSync(src).isDirectory()) fs.cpSync(src, path.join(dir, f), { recursive: true });
    else fs.copyFileSync(src, path.join(dir, f));
  }
  edit(dir);
  return dir;
}

function manifestEdit(dir: string, f: (m: Record<string, unknown>) => void): void {
  const p = path.join(dir, 'manifest.json');
  const m = JSON.parse(fs.readFileSync(p, 'utf8')) as Record<string, unknown>;
  f(m);
  fs.writeFileSync(p, JSON.stringify(m));
}

test('the shipped bundle loads and is consistent', () => {
  const b = loadBundle(shipped);
  assert.equal(b.means.length, b.layout.count);
  assert.equal(b.tokenizer.vocabSize, b.model.vocab_size);
  assert.equal(b.layout.id(b.layout.flat('0.mlp.post_act.3') as number), '0.mlp.post_act.3');
});

const cases: [string, (dir: string) => void, RegExp][] = [
  ['missing folder', (d) => fs.rmSync(d, { recursive: true }), /the folder does not exist/],
  ['missing manifest', (d) => fs.rmSync(path.join(d, 'manifest.json')), /manifest\.json is missing/],
  ['manifest not JSON', (d) => fs.writeFileSync(path.join(d, 'manifest.json'), '{'), /not valid JSON/],
  ['truncated ONNX', (d) => fs.writeFileSync(path.join(d, 'model.onnx'), 'x'), /truncated/],
  ['layout mismatch', (d) => manifestEdit(d, (m) => ((m.nodes as { count: number }).count += 1)), /layout is inconsistent/],
  ['wrong tokenizer', (d) => manifestEdit(d, (m) => ((m.model as { vocab_size: number }).vocab_size = 50257)), /wrong tokenizer/],
  ['short means file', (d) => fs.writeFileSync(path.join(d, 'node_means.bin'), Buffer.alloc(8)), /float32 values but the model has/],
  [
    'circuit naming a node that does not exist',
    (d) => {
      fs.mkdirSync(path.join(d, 'circuits'), { recursive: true });
      const raw = fs.readFileSync(path.join(root, 'test/fixtures/circuit-sample.json'), 'utf8');
      const firstId = (JSON.parse(raw) as { nodes: { id: string }[] }).nodes[0].id;
      const sample = JSON.parse(raw.split(`"${firstId}"`).join('"9.mlp.post_act.3"')) as { nodes: object[] };
      Object.assign(sample.nodes[0], { layer: 9, site: 'mlp.post_act', index: 3 });
      fs.writeFileSync(path.join(d, 'circuits', 'bad.json'), JSON.stringify(sample));
      manifestEdit(d, (m) => (m.circuits = ['circuits/bad.json']));
    },
    /names node 9\.mlp\.post_act\.3, which is not in the model's node layout/,
  ],
];

for (const [name, edit, message] of cases) {
  test(`a broken bundle is explained in one sentence: ${name}`, () => {
    const dir = brokenCopy(edit);
    assert.throws(() => loadBundle(dir), (e: Error) => {
      assert.match(e.message, message);
      assert.ok(e.message.startsWith(`Bundle ${dir}:`), e.message);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    });
  });
}
