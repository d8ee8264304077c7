// The manifest's "cones" (docs/bundle-format.md): sub-graphs of model.onnx that stop after a node
// location, written by training/export.py (write_cones) for the highlight pass (src/core/cone.ts).

import * as v from 'valibot';
import { boundedArray, boundedString, type Infer } from './validate';

/** A node location name such as `1.mlp.act_in`. */
const location = boundedString(64, /^(0|[1-9]\d{0,2})\.(attn|mlp)\.[a-z][a-z_]{0,31}$/);

export const coneList = boundedArray(v.object({ upto: location, onnx: boundedString(200) }), 64);

export type ConeEntry = Infer<typeof coneList>[number];
