// The circuit panel sends a circuit to its webview without the nodes' validation-corpus examples
// (training/node_examples.py puts 0.1–2.8 MB of them in a shipped circuit file, and every update
// would carry and re-validate them); the webview asks for one node's examples when its details open.

import { type NodeExamples, nodeExamples } from '../../schemas/circuit';
import type { PanelModel } from '../../schemas/messages';
import { check } from '../../schemas/validate';

type Circuit = PanelModel['circuit'];

/** Splits circuits into the circuit without examples and the examples per node id; remembers the last circuit, which cursor updates send again and again. */
export class NodeExamplesStore {
  private source: Circuit | undefined;
  private slim: Circuit | undefined;
  private byNode: ReadonlyMap<string, unknown> = new Map();

  /** `model` with its circuit's examples taken out (and kept here until the next circuit). */
  strip(model: PanelModel): PanelModel {
    if (model.circuit !== this.source || !this.slim) {
      this.source = model.circuit;
      this.byNode = new Map(model.circuit.nodes.flatMap((n) => (n.examples === undefined ? [] : [[n.id, n.examples as unknown]])));
      this.slim = { ...model.circuit, nodes: model.circuit.nodes.map(withoutExamples) };
    }
    return { ...model, circuit: this.slim };
  }

  /** The node's examples, validated (null when it has none or they are malformed). */
  examples(nodeId: string): NodeExamples | null {
    const raw = this.byNode.get(nodeId);
    if (raw === undefined) return null;
    const checked = check(nodeExamples, raw);
    return checked.ok ? checked.value : null;
  }
}

function withoutExamples<N extends { examples?: unknown }>(node: N): N {
  const copy = { ...node };
  delete copy.examples;
  return copy;
}
