// The cone graphs (manifest "cones", training/export.py write_cones) through the real runner and
// onnxruntime: the watched nodes a cone computes are the full graph's, and the cone picked for a set
// of nodes is the smallest that covers them.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { type Cancelled, type DocumentAnalysis, DocumentAnalyzer } from '../../src/core/analysis';
import { loadBundle } from '../../src/core/bundle';
import { bundleCones, coneFor } from '../../src/core/cone';
import { Runner, type RunInput } from '../../src/core/runner';
import { repoRoot } from './fixtures';

const bundle = loadBundle(path.join(repoRoot, 'models', 'pysparse-depth'));
const cones = bundleCones(bundle);

function done(r: DocumentAnalysis | Cancelled): DocumentAnalysis {
  if (r.status !== 'done') throw new Error('the analysis was cancelled');
  return r;
}

test('the shipped bundle has cones, smallest first, each ending at a node location of its layout', () => {
  assert.ok(cones.length >= 2, 'the shipped bundle lists its cones (re-export with training/export.py)');
  for (const [i, c] of cones.entries()) {
    const loc = bundle.layout.location(c.upto);
    assert.ok(loc && c.end === loc.offset + loc.length && fs.existsSync(c.onnxPath));
    if (i) assert.ok(c.end > cones[i - 1].end);
  }
});

test('coneFor picks the smallest cone that covers every watched node, and none when the last one is past them all', () => {
  cones.forEach((c, i) => {
    // the last node a cone computes, among earlier ones in any order: that cone; one node further: the next, or the full graph
    assert.equal(coneFor(cones, [5, c.end - 1, 0]), c);
    assert.equal(coneFor(cones, [c.end, 2]), cones[i + 1]);
  });
  for (const c of bundle.circuits) {
    const watch = (c.firing?.terms ?? []).map((t) => bundle.layout.flat(t.node) as number);
    const cone = coneFor(cones, watch);
    if (cone) assert.ok(watch.every((f) => f < cone.end), c.task);
    const smaller = cones.filter((x) => x.end < (cone?.end ?? Infinity));
    assert.ok(smaller.every((x) => watch.some((f) => f >= x.end)), `${c.task}: a smaller cone covers its firing nodes`);
  }
  assert.equal(coneFor([], [0]), undefined, 'a bundle without cones runs the full graph');
});

test('a bundle exported before cones has none; a cone outside the layout or a missing file is one sentence naming the fix', () => {
  assert.deepEqual(bundleCones({ ...bundle, manifest: { ...bundle.manifest, cones: undefined } }), []);
  assert.throws(() => bundleCones({ ...bundle, manifest: { ...bundle.manifest, cones: [{ upto: '9.mlp.act_in', onnx: 'cone.onnx' }] } }), /names a cone up to 9\.mlp\.act_in, which is not in its node layout; re-export the bundle with training\/export\.py\.$/);
  assert.throws(() => bundleCones({ ...bundle, manifest: { ...bundle.manifest, cones: [{ upto: '0.mlp.act_in', onnx: 'gone.onnx' }] } }), /gone\.onnx \(named by manifest\.json cones\) is missing; re-export/);
  assert.throws(() => bundleCones({ ...bundle, manifest: { ...bundle.manifest, cones: [{ upto: '0.mlp.act_in' }] } }), /manifest\.json cones\[0\]\.onnx/);
});

test('each cone gives the full graph\'s watched nodes (≤ 1e-5, the same AbsTopK zeros), plain and ablated, one and three mask rows; no logits', async () => {
  const runner = await Runner.create(bundle.onnxPath, { provider: 'cpu', cones });
  try {
    const N = bundle.layout.count;
    const text = fs.readFileSync(path.join(repoRoot, 'bench', 'stdlib-5000.py'), 'utf8').slice(40_000, 60_000);
    const ids = [bundle.eotId, ...bundle.tokenizer.encode(text).ids].slice(0, bundle.context);
    const T = ids.length;
    const ablated = new Float32Array(N).fill(1);
    for (let f = 3; f < N; f += 17) ablated[f] = 0;
    for (const c of cones) {
      const watch = Array.from({ length: Math.ceil(c.end / 5) }, (_, i) => c.end - 1 - i * 5); // descending, across the cone
      for (const [mask, M] of [[new Float32Array(N).fill(1), 1], [ablated, 1], [Float32Array.from({ length: 3 * N }, (_, i) => ablated[(i * 7) % N]), 3]] as const) {
        const fill = Float32Array.from({ length: M * N }, (_, i) => bundle.means[i % N]);
        const input: RunInput = { ids: BigInt64Array.from(ids, BigInt), B: 1, T, mask, fill, maskRows: M, watch, scoreFrom: 64, readIds: BigInt64Array.of(1n) };
        const [full, cut] = await Promise.all([runner.run(input), runner.run({ ...input, cone: c.upto })]);
        assert.equal(cut.logits.length, 0);
        assert.equal(cut.watched.length, M * (T - 64) * watch.length);
        let kept = 0;
        for (let i = 0; i < full.watched.length; i++) {
          assert.equal(cut.watched[i] === 0, full.watched[i] === 0, `${c.upto}: AbsTopK kept another set at ${i}`);
          assert.ok(Math.abs(cut.watched[i] - full.watched[i]) <= 1e-5, `${c.upto} at ${i}: ${cut.watched[i]} vs ${full.watched[i]}`);
          if (full.watched[i] !== 0) kept++;
        }
        assert.ok(kept > full.watched.length / 10, `${c.upto}: too few kept nodes for the comparison to mean anything`);
      }
    }
    await assert.rejects(runner.run({ ids: BigInt64Array.of(1n), B: 1, T: 1, mask: new Float32Array(N).fill(1), fill: bundle.means, watch: [0], scoreFrom: 0, readIds: BigInt64Array.of(1n), cone: '7.attn.q' }), /this bundle has no cone up to 7\.attn\.q/);
  } finally {
    await runner.dispose();
  }
});

test('an analyzer given the cones runs a circuit added for nodes alone through the smallest cone that covers them; the same values as the full graph', async () => {
  const runner = await Runner.create(bundle.onnxPath, { provider: 'cpu', cones });
  const runs: RunInput[] = [];
  const counted = { run: (input: RunInput) => (runs.push(input), runner.run(input)) };
  try {
    const text = fs.readFileSync(path.join(repoRoot, 'bench', 'stdlib-5000.py'), 'utf8').split('\n').slice(0, 120).join('\n');
    const own = new DocumentAnalyzer(bundle, counted, { inFlight: runner.parallelism, cones });
    done(await own.analyze(text));
    assert.ok(runs.every((r) => r.cone === undefined), 'the pass that reads the circuits\' class logits runs the full graph');
    // layer-0 attention nodes no shipped circuit watches, read by a circuit with the first circuit's class tokens (already read)
    const watched = new Set(own.watch);
    const flats = Array.from({ length: cones[0].end }, (_, f) => cones[0].end - 1 - f).filter((f) => !watched.has(f)).slice(0, 3);
    const nodes = flats.map((flat) => ({ ...bundle.circuits[0].nodes[0], id: bundle.layout.id(flat), flat }));
    const extra = { ...bundle.circuits[0], task: 'early', scope: { kind: 'anywhere' as const }, nodes, edges: [], key_nodes: undefined, firing: { terms: nodes.map((n, k) => ({ node: n.id, coef: k + 1 })), threshold: 0.5, positive_class: 0 as const } };
    runs.length = 0;
    const added = done(await own.withCircuits([...bundle.circuits, extra]).analyze(text));
    assert.ok(runs.length > 0 && runs.every((r) => r.cone === cones[0].upto), `runs through ${cones[0].upto}: ${runs.map((r) => r.cone).join()}`);
    const fresh = done(await new DocumentAnalyzer({ ...bundle, circuits: [...bundle.circuits, extra] }, runner).analyze(text));
    assert.deepEqual(added.tokens.map((t) => t.circuits.early), fresh.tokens.map((t) => t.circuits.early));
    assert.ok(added.tokens.some((t) => t.circuits.early.value !== 0), 'the added circuit reads real activations');
  } finally {
    await runner.dispose();
  }
});
