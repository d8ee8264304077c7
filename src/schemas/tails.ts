// The manifest's "tails" (docs/bundle-format.md): graphs of the model from one node location on, for mask
// rows that share everything before it, written by training/export.py (write_tails) for "Why this
// token?" (src/core/tails.ts, src/core/discoverRoute.ts).

import * as v from 'valibot';
import { boundedArray, boundedString, type Infer } from './validate';

/** A node location name such as `1.attn.q`. */
const location = boundedString(64, /^(0|[1-9]\d{0,2})\.(attn|mlp)\.[a-z][a-z_]{0,31}$/);

export const tailList = boundedArray(v.object({ from: location, onnx: boundedString(200) }), 256);

export type TailEntry = Infer<typeof tailList>[number];
