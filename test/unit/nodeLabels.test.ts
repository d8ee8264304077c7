import './fake-vscode'; // must come first: installs the fake `vscode` module
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as vscode from 'vscode';
import type { Discovery } from '../../src/core/discoverAt';
import type { FoundCircuitFile } from '../../src/core/foundCircuit';
import { CircuitSources } from '../../src/extension/circuitSources';
import { relabel, setNodeLabel, SHIPPED_LABELS } from '../../src/extension/nodeLabels';
import type { SavedCircuits } from '../../src/extension/savedCircuits';
import { sampleCircuit } from './fixtures';

test('relabel: only the named node changes; an empty or blank label gives the node its id back', () => {
  const c = sampleCircuit();
  const [a, b] = c.nodes;
  const named = relabel(c, a.id, '  closes the string ');
  assert.equal(named.nodes[0].label, 'closes the string');
  assert.deepEqual(named.nodes.slice(1), c.nodes.slice(1));
  assert.equal(relabel(named, a.id, '   ').nodes[0].label, a.id);
  assert.equal(c.nodes[0].label, a.label, 'the circuit given is not changed');
  assert.equal(relabel(c, b.id, 'x').nodes[1].label, 'x');
});

test('setNodeLabel: the found circuit keeps the label (then the circuits are given again); a saved file of the task is written too; a shipped circuit refuses in one sentence', async () => {
  const written: [string, string, string][] = [];
  const savedTasks = new Set<string>();
  const saved = { circuits: [], setLabel: async (task: string, id: string, label: string) => (savedTasks.has(task) ? (written.push([task, id, label]), true) : false) } as unknown as SavedCircuits;
  const sources = new CircuitSources(saved, () => undefined);
  const file = sampleCircuit() as FoundCircuitFile;
  sources.setFound({ discovery: {} as Discovery, file, document: {} as vscode.Uri });
  let changes = 0;
  const changed = async () => void changes++;
  const id = file.nodes[0].id;

  assert.equal(await setNodeLabel({ task: file.task, nodeId: id, label: 'mine' }, sources, saved, changed), undefined);
  assert.equal(sources.found?.file.nodes[0].label, 'mine');
  assert.equal(changes, 1);
  assert.deepEqual(written, []);

  savedTasks.add(file.task);
  assert.equal(await setNodeLabel({ task: file.task, nodeId: id, label: '' }, sources, saved, changed), undefined);
  assert.deepEqual(written, [[file.task, id, id]]);
  assert.equal(sources.found?.file.nodes[0].label, id);

  assert.equal(await setNodeLabel({ task: 'bracket_close', nodeId: id, label: 'x' }, sources, saved, changed), SHIPPED_LABELS);
  assert.equal(changes, 2);
});
