// Pure: the "Export JSON" document — the circuit with its labels and meanings, the activations at
// the cursor, the ablation state, the readout and the node positions as drawn.

import type { PanelModel } from '../schemas/messages';
import type { VisualGraph } from './visual';

export const GRAPH_EXPORT_FORMAT = 'circuit-inspector-graph/1';

export function graphToJson(model: PanelModel, graph: VisualGraph): string {
  const pos = new Map(graph.nodes.map((n) => [n.id, n]));
  const ablated = new Set(model.ablated);
  const doc = {
    format: GRAPH_EXPORT_FORMAT,
    task: model.circuit.task,
    title: model.circuit.title,
    description: model.circuit.description,
    classes: model.circuit.classes.map((c) => ({ label: c.label, tokens: c.tokens.map((t) => t.text) })),
    document: model.documentName,
    cursor: model.cursor,
    ablation: { mode: model.mode, circuitOnly: model.circuitOnly, nodes: [...model.ablated] },
    readout: model.readout,
    nodes: model.circuit.nodes.map((n) => ({
      id: n.id,
      label: n.label,
      meaning: n.meaning,
      layer: n.layer,
      site: n.site,
      index: n.index,
      flat: n.flat,
      activation: Object.prototype.hasOwnProperty.call(model.activations, n.id) ? model.activations[n.id] : null,
      mean: n.mean,
      importance: n.importance,
      key: (model.circuit.key_nodes ?? []).includes(n.id),
      ablated: ablated.has(n.id),
      position: pos.has(n.id) ? { x: pos.get(n.id)!.x, y: pos.get(n.id)!.y } : null,
    })),
    edges: model.circuit.edges.map((e) => ({
      source: e.source,
      target: e.target,
      weight: e.weight,
      sourceLabel: model.circuit.nodes.find((n) => n.id === e.source)?.label ?? null,
      targetLabel: model.circuit.nodes.find((n) => n.id === e.target)?.label ?? null,
    })),
    metrics: model.circuit.metrics ?? {},
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
