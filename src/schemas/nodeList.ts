// What `--ablate @FILE` and `--only @FILE` read of a file (src/core/nodeList.ts): its node ids. A
// circuit file, the panel's JSON export and discover's JSON all have "nodes": [{"id": …}, …]; their
// other keys are not needed here and are dropped.
import * as v from 'valibot';
import { nodeId } from './circuit';
import { boundedArray } from './validate';

/** Nodes a file may name: a whole model's worth (the shipped one has 2,816). */
export const NODE_LIST_LIMIT = 100_000;

export const nodeListFile = v.object({
  nodes: boundedArray(v.object({ id: nodeId }), NODE_LIST_LIMIT),
});
