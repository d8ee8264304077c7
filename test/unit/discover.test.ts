import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { DocumentAnalyzer } from '../../src/core/analysis';
import { dropCounts, findCircuit } from '../../src/core/discover';
import { discoverAt, type Discovery, tokenIdOf } from '../../src/core/discoverAt';
import { toCircuitFile } from '../../src/core/foundCircuit';
import { readNodeFile } from '../../src/core/nodeList';
import { NodeWeights, OUTPUT_NODE } from '../../src/core/nodeWeights';
import { circuitFile } from '../../src/schemas/circuit';
import { check } from '../../src/schemas/validate';
import { fixtureSession } from './fixtureSession';
import { repoRoot } from './fixtures';
import { tempDir } from './tempDirs';

// a tiny random model exported with mask rows and node_weights.bin (test/fixtures/make_rows_bundle.py)
const fixtureDir = path.join(repoRoot, 'test/fixtures/rows-bundle');
const sample = path.join(repoRoot, 'test/fixtures/cli/sample.py');
const noDist = fs.existsSync(path.join(repoRoot, 'dist/cli.js')) ? false : 'dist/cli.js is not built (npm run build)';

const fixture = fixtureSession(fixtureDir);

/** Target − alternative logit after the last of `ids` with the flat nodes in `ablated` mean-ablated: one plain run. */
async function diffWith(ids: readonly number[], target: number, alt: number, ablated: Iterable<number>): Promise<number> {
  const { bundle, session } = fixture;
  const mask = new Float32Array(bundle.layout.count).fill(1);
  for (const f of ablated) mask[f] = 0;
  const T = ids.length;
  const { logits } = await session.run({ ids: BigInt64Array.from(ids, BigInt), B: 1, T, mask, fill: bundle.means, watch: [], scoreFrom: T - 1, readIds: BigInt64Array.of(BigInt(target), BigInt(alt)) });
  return logits[0] - logits[1];
}

test('dropCounts: every count to 16, then 25 % steps, ending with all n', () => {
  assert.deepEqual(dropCounts(5), [1, 2, 3, 4, 5]);
  const s = dropCounts(576);
  assert.deepEqual(s.slice(0, 17), [...Array.from({ length: 16 }, (_, k) => k + 1), 20]);
  assert.equal(s[s.length - 1], 576);
  assert.ok(s.every((k, i) => i === 0 || k > s[i - 1]));
});

test('findCircuit: the circuit nodes\' attributions, circuit-only and without-circuit differences equal separate single-mask runs; the circuit keeps the share asked for', async () => {
  const { bundle, session } = fixture;
  const ids = [bundle.eotId, ...bundle.tokenizer.encode('def area(w, h):\n    return w * h\n\nprint(area(3, 4').ids];
  const [target, alt] = [tokenIdOf(bundle, ')'), tokenIdOf(bundle, ',')];
  const found = await findCircuit(session, ids, { target, alt }, { means: bundle.means, chunk: 50 });
  const N = bundle.layout.count;
  assert.ok(Math.abs(found.full - (await diffWith(ids, target, alt, []))) <= 1e-4);
  for (const f of found.nodes) {
    assert.ok(Math.abs(found.attribution[f] - (found.full - (await diffWith(ids, target, alt, [f])))) <= 1e-4, `attribution of node ${f}`);
  }
  const outside = Array.from({ length: N }, (_, f) => f).filter((f) => !found.nodes.includes(f));
  assert.ok(Math.abs(found.circuitOnly - (await diffWith(ids, target, alt, outside))) <= 1e-4);
  assert.ok(Math.abs(found.allAblated - (await diffWith(ids, target, alt, Array.from({ length: N }, (_, f) => f)))) <= 1e-4, 'every node ablated');
  assert.ok(Math.abs(found.withoutCircuit - (await diffWith(ids, target, alt, found.nodes))) <= 1e-4);
  assert.ok(found.circuitOnly / found.full >= 0.8, `the circuit alone keeps ${found.circuitOnly} of ${found.full}`);
  assert.ok(found.withoutCircuit / found.full <= 0.5, `ablating the circuit leaves ${found.withoutCircuit} of ${found.full}`);
  assert.ok(found.nodes.length >= 1 && found.nodes.length < N, `${found.nodes.length} nodes`);
  const order = [...found.nodes].sort((a, b) => Math.abs(found.attribution[b]) - Math.abs(found.attribution[a]));
  assert.deepEqual(found.nodes, order, 'nodes by |attribution|');
});

test('findCircuit with everyNode: every node\'s attribution is its single ablation\'s fall, inside the circuit and out; the circuit is the one found without it', async () => {
  const { bundle, session } = fixture;
  const ids = [bundle.eotId, ...bundle.tokenizer.encode('def area(w, h):\n    return w * h\n\nprint(area(3, 4').ids];
  const [target, alt] = [tokenIdOf(bundle, ')'), tokenIdOf(bundle, ',')];
  const every = await findCircuit(session, ids, { target, alt }, { means: bundle.means, chunk: 50, everyNode: true });
  const plain = await findCircuit(session, ids, { target, alt }, { means: bundle.means, chunk: 50 });
  assert.deepEqual(every.nodes, plain.nodes);
  assert.ok(every.rows > plain.rows, `${every.rows} rows against ${plain.rows}`);
  const N = bundle.layout.count;
  const outside = Array.from({ length: N }, (_, f) => f).filter((f) => !every.nodes.includes(f));
  // a spread of nodes outside the circuit, each checked by its own run
  for (const f of outside.filter((_, k) => k % Math.ceil(outside.length / 12) === 0)) {
    assert.ok(Math.abs(every.attribution[f] - (every.full - (await diffWith(ids, target, alt, [f])))) <= 1e-4, `attribution of node ${f}`);
  }
  assert.ok(outside.some((f) => every.attribution[f] !== 0), 'nodes outside the circuit measured');
});

test('discoverAt: the default contrast is the next token in the code (when among the top) against the runner-up, in the window the analysis uses; edges come from node_weights.bin', async () => {
  const { bundle, session } = fixture;
  const text = fs.readFileSync(sample, 'utf8');
  const analyzer = new DocumentAnalyzer(bundle, session);
  const offset = text.indexOf('(') + 1; // the prediction after the token that holds the first argument
  const d = await discoverAt(bundle, session, (seq) => analyzer.windows(seq), text, offset, { everyNode: true });
  assert.equal(d.top.length, 5);
  // nodes by shown |attribution|, equal ones by place in the model: float noise below the 4th decimal,
  // which differs between the tail graphs and model.onnx, does not reorder what the reader sees as equal
  for (const list of [d.nodes, d.every_node ?? []]) {
    const key = list.map((n) => [Math.abs(n.attribution), bundle.layout.flat(n.id) as number]);
    assert.deepEqual(key, [...key].sort((x, y) => y[0] - x[0] || x[1] - y[1]));
  }
  const inTop = d.actual !== null && d.top.some((t) => t.id === d.actual?.id);
  assert.equal(d.target.id, inTop ? d.actual?.id : d.top[0].id);
  assert.equal(d.alt.id, d.top.find((t) => t.id !== d.target.id)?.id);
  // the full model's figures agree with the analysis at the same position
  const at = await analyzer.analyzeAt(text, offset);
  const p = (id: number) => at?.token.next.find((n) => n.id === id)?.p;
  if (p(d.target.id) !== undefined) assert.ok(Math.abs((p(d.target.id) as number) - d.full.p_target) <= 1e-3);
  assert.ok(d.circuit_only.kept >= 0.8);
  const ids = new Set(d.nodes.map((n) => n.id));
  assert.ok(d.edges.every((e) => ids.has(e.source) && (ids.has(e.target) || e.target === OUTPUT_NODE)));
  // every weight edge between the circuit's nodes is listed, and only those
  const again = NodeWeights.load(bundle).edges([...ids], d.target.id, d.alt.id);
  assert.deepEqual(again, d.edges);
  assert.throws(() => tokenIdOf(bundle, 'certainly not one token'), /is not one token of the model's vocabulary/);

  // as a circuit file: loads through the circuit schema, classes are the contrast, the weight edges without the output node
  const file = toCircuitFile(d, bundle);
  const checked = check(circuitFile, JSON.parse(JSON.stringify(file)));
  assert.ok(checked.ok, checked.ok ? '' : checked.error.message);
  assert.deepEqual(file.classes.map((c) => c.tokens[0].id), [d.target.id, d.alt.id]);
  assert.deepEqual(file.nodes.map((n) => [n.id, n.flat, n.mean]), d.nodes.map((n) => [n.id, bundle.layout.flat(n.id), bundle.means[bundle.layout.flat(n.id) as number]]));
  assert.equal(file.edges.length, d.edges.filter((e) => e.target !== OUTPUT_NODE).length);
  assert.equal(file.metrics?.logit_diff_recovered, d.circuit_only.kept);
  assert.match(file.title, /^found at \d+:\d+ for `.+` vs `.+`$/);
  assert.deepEqual(file.found.position, d.position);
  // read back as --only/--ablate @FILE read it: its nodes and, from the same parse, its contrast
  const saved = path.join(tempDir('ci-found-'), 'found.json');
  fs.writeFileSync(saved, JSON.stringify(file));
  const read = readNodeFile(saved, bundle);
  assert.deepEqual(read.ids, file.nodes.map((n) => n.id));
  assert.equal(read.contrast?.task, file.task);
  assert.deepEqual(read.contrast?.classes.map((c) => c.tokens[0].id), [d.target.id, d.alt.id]);
});

test('readNodeFile: the nodes of a discover JSON, a circuit file or a panel export (no contrast: none is a found circuit); one sentence for anything else', () => {
  const { bundle } = fixture;
  const dir = tempDir('ci-nodes-');
  const write = (name: string, v: unknown) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, typeof v === 'string' ? v : JSON.stringify(v));
    return f;
  };
  assert.deepEqual(readNodeFile(write('a.json', { nodes: [{ id: '0.attn.v.3', attribution: 1 }, { id: '1.mlp.post_act.60' }] }), bundle), { ids: ['0.attn.v.3', '1.mlp.post_act.60'], contrast: undefined });
  const circuitLike = { task: 't', classes: [], nodes: [{ id: '0.mlp.post_act.7', layer: 0, site: 'mlp.post_act', index: 7, label: 'x' }], edges: [] };
  assert.deepEqual(readNodeFile(write('e.json', circuitLike), bundle), { ids: ['0.mlp.post_act.7'], contrast: undefined });
  assert.throws(() => readNodeFile(write('b.json', 'not json'), bundle), /is not JSON/);
  assert.throws(() => readNodeFile(write('c.json', { nodes: [{ name: 'x' }] }), bundle), /does not list nodes as a circuit file does/);
  assert.throws(() => readNodeFile(write('d.json', { nodes: [{ id: '0.attn.v.999' }] }), bundle), /names node 0\.attn\.v\.999, which is not a node of rows-fixture/);
  assert.throws(() => readNodeFile(path.join(dir, 'missing.json'), bundle), /no such file/);
});

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/circuit-inspector.js'), ...args], { cwd: os.tmpdir(), encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('CLI: discover --json, then analyze --only and --ablate with its output reproduce circuit_only and without_circuit', { skip: noDist }, () => {
  const r = cli('discover', sample, '--at', '2:5', '--json', '--bundle', fixtureDir, '--provider', 'cpu');
  assert.equal(r.status, 0, r.stderr);
  const d = JSON.parse(r.stdout) as Discovery;
  for (const k of ['position', 'target', 'alt', 'full', 'nodes', 'edges', 'all_ablated', 'circuit_only', 'without_circuit', 'ms']) assert.ok(k in d, k);
  assert.ok(!('every_node' in d), 'every_node only when asked for');
  // --every-node: every node of the model once, by |attribution|, the circuit's with the attributions it has
  const every = JSON.parse(cli('discover', sample, '--at', '2:5', '--json', '--every-node', '--bundle', fixtureDir, '--provider', 'cpu').stdout) as Discovery;
  const all = every.every_node ?? [];
  assert.equal(new Set(all.map((n) => n.id)).size, fixture.bundle.layout.count);
  assert.ok(all.every((n, k) => k === 0 || Math.abs(n.attribution) <= Math.abs(all[k - 1].attribution)));
  for (const n of d.nodes) assert.equal(all.find((m) => m.id === n.id)?.attribution, n.attribution, n.id);
  const file = path.join(tempDir('ci-discover-'), 'found.json');
  fs.writeFileSync(file, r.stdout);
  const logitDiff = (...extra: string[]) => {
    const a = cli('analyze', sample, '--at', '2:5', '--json', '--top', '50', '--bundle', fixtureDir, '--provider', 'cpu', ...extra);
    assert.equal(a.status, 0, a.stderr);
    const next = (JSON.parse(a.stdout) as { tokens: { next: { text: string; p: number }[] }[] }).tokens[0].next;
    const p = (t: string) => next.find((n) => n.text === t)?.p;
    const [pt, pa] = [p(d.target.text), p(d.alt.text)];
    return pt && pa ? Math.log(pt) - Math.log(pa) : undefined;
  };
  // probabilities are rounded to 4 digits in analyze's JSON: compare the differences loosely
  // and a probability under 5e-5 shows as 0: then the difference must be far below zero
  const near = (got: number | undefined, want: number) => (got === undefined ? want < -5 : Math.abs(got - want) <= 0.05 * Math.max(1, Math.abs(want)));
  assert.ok(near(logitDiff(), d.full.logit_diff), 'full');
  assert.ok(near(logitDiff('--only', `@${file}`), d.circuit_only.logit_diff), 'circuit only');
  assert.ok(near(logitDiff('--ablate', `@${file}`), d.without_circuit.logit_diff), 'without the circuit');
  // --save writes a circuit file, which --only reads the same way
  const saved = path.join(path.dirname(file), 'saved.json');
  assert.equal(cli('discover', sample, '--at', '2:5', '--bundle', fixtureDir, '--provider', 'cpu', '--save', saved).status, 0);
  assert.ok(near(logitDiff('--only', `@${saved}`), d.circuit_only.logit_diff), 'circuit only, from the saved circuit file');
  // a saved circuit carries its contrast: analyze reads it as a readout, to 4 digits rather than from rounded probabilities
  const task = (JSON.parse(fs.readFileSync(saved, 'utf8')) as { task: string }).task;
  const readout = (...extra: string[]) => {
    const a = cli('analyze', sample, '--at', '2:5', '--json', '--top', '0', '--bundle', fixtureDir, '--provider', 'cpu', ...extra);
    assert.equal(a.status, 0, a.stderr);
    return (JSON.parse(a.stdout) as { tokens: { readouts: Record<string, { logit_diff: number }> }[] }).tokens[0].readouts[task].logit_diff;
  };
  assert.ok(Math.abs(readout('--only', `@${saved}`) - d.circuit_only.logit_diff) <= 2e-4, 'circuit only, read as the saved circuit\'s contrast');
  assert.ok(Math.abs(readout('--ablate', `@${saved}`) - d.without_circuit.logit_diff) <= 2e-4, 'without the circuit, read as its contrast');
  const human = cli('discover', sample, '--at', '2:5', '--bundle', fixtureDir, '--provider', 'cpu', '--target', d.alt.text, '--alt', d.target.text);
  assert.equal(human.status, 0, human.stderr);
  assert.match(human.stdout, /circuit only \(everything else mean-ablated\): .*keeps \d+ %/);
  assert.equal(cli('discover', sample, '--bundle', fixtureDir).status, 2);
  assert.match(cli('discover', sample, '--at', '2:5', '--bundle', fixtureDir, '--target', 'no such token here').stderr, /not one token/);
  assert.match(cli('analyze', sample, '--at', '2:5', '--bundle', fixtureDir, '--only', 'found.json').stderr, /--only takes @FILE/);
  // a bundle exported before mask rows: exit 4 and the fix
  const old = tempDir('ci-old-bundle-');
  for (const f of fs.readdirSync(fixtureDir)) if (f !== 'manifest.json') fs.symlinkSync(path.join(fixtureDir, f), path.join(old, f));
  const manifest = JSON.parse(fs.readFileSync(path.join(fixtureDir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  delete manifest.mask_rows;
  fs.writeFileSync(path.join(old, 'manifest.json'), JSON.stringify(manifest));
  const refused = cli('discover', sample, '--at', '2:5', '--bundle', old, '--provider', 'cpu');
  assert.equal(refused.status, 4);
  assert.match(refused.stderr, /exported before mask rows, which "Why this token\?" needs; re-export it with training\/export\.py/);
});
