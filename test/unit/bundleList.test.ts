// The bundles "Choose model…" lists and the bundlePath setting names (core/bundleList), on the real
// shipped bundle and a user folder holding a copy of the mask-rows fixture bundle and a broken one.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { formatBytes, listBundles, resolveBundle } from '../../src/core/bundleList';
import { repoRoot } from './fixtures';
import { tempDir } from './tempDirs';

const shipped = { dir: path.join(repoRoot, 'models'), origin: 'shipped' };

/** A user's model folder: rows-bundle (no card), a bundle whose manifest is not JSON, and a folder that is no bundle. */
function userFolder(): { dir: string; origin: string } {
  const dir = tempDir('bundle-list-');
  fs.cpSync(path.join(repoRoot, 'test/fixtures/rows-bundle'), path.join(dir, 'rows'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'broken'));
  fs.writeFileSync(path.join(dir, 'broken', 'manifest.json'), '{"format": ');
  fs.mkdirSync(path.join(dir, 'notes'));
  fs.writeFileSync(path.join(dir, 'notes', 'README.md'), 'not a bundle');
  return { dir, origin: 'model folder' };
}

describe('listBundles', () => {
  it('lists the shipped bundles first, then a user folder\'s by name, each with its size, shape and card paragraph', () => {
    const user = userFolder();
    const list = listBundles([shipped, user, { dir: path.join(user.dir, 'missing'), origin: 'storage' }]);
    const names = fs.readdirSync(shipped.dir).filter((d) => fs.existsSync(path.join(shipped.dir, d, 'manifest.json')));
    assert.deepEqual(list.map((b) => b.name), [...names.sort(), 'broken', 'rows']);
    const first = list[0];
    const manifest = JSON.parse(fs.readFileSync(path.join(first.dir, 'manifest.json'), 'utf8')) as { model: { n_layer: number; d_model: number }; circuits: string[] };
    assert.equal(first.origin, 'shipped');
    assert.equal(first.shape, `${manifest.model.n_layer} layers · d_model ${manifest.model.d_model} · ${manifest.circuits.length} circuits`);
    const card = fs.readFileSync(path.join(first.dir, 'MODEL_CARD.md'), 'utf8').split('\n');
    assert.ok(first.about?.startsWith(card[2].replace(/`/g, '').trim()), 'the card\'s first paragraph of prose …');
    assert.ok(first.about!.includes(card[3].replace(/`/g, '').trim()) && !first.about!.includes('\n'), '… on one line');
    const onnx = fs.statSync(path.join(first.dir, 'model.onnx')).size;
    assert.ok(first.bytes > onnx, 'the size counts every file, the graph among them');
    const rows = list.find((b) => b.name === 'rows')!;
    assert.equal(rows.origin, 'model folder');
    assert.match(rows.shape, /^2 layers · d_model 32 · (no circuits|\d+ circuits?)$/);
    assert.equal(rows.about, undefined, 'no card, no line');
    assert.equal(rows.problem, undefined);
    const broken = list.find((b) => b.name === 'broken')!;
    assert.equal(broken.shape, 'unreadable manifest');
    assert.ok(broken.problem?.startsWith(path.join(user.dir, 'broken', 'manifest.json')), broken.problem);
  });
});

describe('a bundle\'s size', () => {
  it('follows links: a bundle of linked files is as large as its targets; a link loop and a dangling link count nothing', () => {
    const user = userFolder();
    const rows = path.join(user.dir, 'rows');
    const linked = path.join(user.dir, 'linked');
    fs.mkdirSync(linked);
    for (const f of fs.readdirSync(rows)) fs.symlinkSync(path.join(rows, f), path.join(linked, f));
    fs.symlinkSync(linked, path.join(linked, 'loop'));
    fs.symlinkSync(path.join(user.dir, 'gone'), path.join(linked, 'dangling'));
    const list = listBundles([user]);
    const size = (name: string) => list.find((b) => b.name === name)!.bytes;
    assert.ok(size('rows') > 0);
    assert.equal(size('linked'), size('rows'));
  });
});

describe('resolveBundle', () => {
  const user = userFolder();
  const folders = [shipped, user];
  it('empty names the first shipped bundle, a bare name the first bundle of that name, a path itself', () => {
    assert.equal(resolveBundle('', folders), listBundles([shipped])[0].dir);
    assert.equal(resolveBundle('rows', folders), path.join(user.dir, 'rows'));
    assert.equal(resolveBundle('/some/where/else', folders), '/some/where/else');
    assert.equal(resolveBundle('relative/path', folders), 'relative/path');
  });
  it('a name no folder holds names nothing', () => {
    assert.equal(resolveBundle('csp_yolo1', folders), undefined);
    assert.equal(resolveBundle('', [user].slice(0, 0)), undefined);
  });
});

describe('formatBytes', () => {
  it('three significant figures, units of 1000', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(16_234_567), '16.2 MB');
    assert.equal(formatBytes(642_000_000), '642 MB');
    assert.equal(formatBytes(1_670_000_000), '1.67 GB');
  });
});
