// How the model reads a document: with each CRLF line end read as LF. Our models, and OpenAI's, learned
// Python from sources with LF line ends, so a Windows checkout's CRLF would put a `\r` token before every
// line end: text the model has hardly seen. On networkx converted to CRLF, the shipped model's flat list
// closes fell from 91 % to 60 % right and its quote closes from 100 % to 97 % (docs/real-files.md,
// "CRLF line ends"). The tokens keep the document's own UTF-16 ranges: the line-end token of a CRLF covers
// both characters, so every view places its marks where they were. A lone `\r` is left as it is.
import type { CompactEncoding, Encoding, Tokenizer } from './tokenizer';

/** encode() of the document as the model reads it; ranges in the document's own offsets. */
export function encodeDocument(tokenizer: Tokenizer, text: string): Encoding {
  return readAsLf(text, (t) => tokenizer.encode(t));
}

/** encodeCompact() of the document as the model reads it; ranges in the document's own offsets. */
export function encodeDocumentCompact(tokenizer: Tokenizer, text: string): CompactEncoding {
  return readAsLf(text, (t) => tokenizer.encodeCompact(t));
}

type Offsets = { length: number; [i: number]: number };

/** `encode` of the text with each CRLF folded, its ranges moved back to the text's own offsets. */
function readAsLf<E extends { readonly starts: Offsets; readonly ends: Offsets }>(text: string, encode: (text: string) => E): E {
  const folded = foldCrlf(text);
  if (!folded) return encode(text);
  const enc = encode(folded.text);
  unfold(enc.starts, folded.newlines);
  unfold(enc.ends, folded.newlines);
  return enc;
}

/** The text with every CRLF as LF, and where each such LF is in it (ascending); undefined when there is none. */
function foldCrlf(text: string): { text: string; newlines: Uint32Array } | undefined {
  let at = text.indexOf('\r\n');
  if (at < 0) return undefined;
  const newlines: number[] = [];
  for (; at >= 0; at = text.indexOf('\r\n', at + 2)) newlines.push(at - newlines.length); // each earlier `\r` is gone
  return { text: text.replaceAll('\r\n', '\n'), newlines: Uint32Array.from(newlines) };
}

/**
 * Folded offsets → the document's, in place. An offset moves right by the `\r`s removed before it: those
 * of the folded LFs strictly before it, so a token that ends at a folded line end ends before its `\r`
 * and the line-end token starts at the `\r`. Offsets must be ascending (token starts or ends are).
 */
function unfold(offsets: Offsets, newlines: Uint32Array): void {
  let passed = 0;
  for (let i = 0; i < offsets.length; i++) {
    while (passed < newlines.length && newlines[passed] < offsets[i]) passed++;
    offsets[i] += passed;
  }
}
