// What a bundle's manifest carries for "where attention looks" (training/export.py attention_params):
// the attention score scale and each head's sink logit, the parts of a head's pattern that are not
// nodes. Optional in the manifest, so bundles exported before it still load.
import * as v from 'valibot';
import { boundedArray, finite, type Infer } from './validate';

/** Bounds on layers and heads per layer: far above any model this runs (yolo1-shaped: 128 heads). */
const MAX_LAYERS = 256;
const MAX_HEADS = 4096;

export const attentionParams = v.object({
  /** Scores are q·k × scale (1/√d_head unless the model says otherwise). */
  scale: v.pipe(finite, v.gtValue(0)),
  /** [n_layer][n_head]: each head's logit on the zero key/value slot; absent for a model without sinks. */
  sink_logits: v.optional(boundedArray(boundedArray(finite, MAX_HEADS), MAX_LAYERS)),
});

export type AttentionParams = Infer<typeof attentionParams>;
