// How the model reads a document: each CRLF line end as LF, and each tab in a line's indentation as four
// spaces. Our models learned Python from LF, space-indented sources (no training file is indented with
// tabs; 2 of 9,921 hold a CRLF), so read as written a Windows checkout would put a `\r` token before every
// line end, and a tab-indented file tokens the model has hardly seen (`\t\treturn` splits as `\t`, `\t`,
// `re`, `turn`). On networkx with CRLF line ends the shipped model's flat list closes fell from 91 % to
// 60 % right; indented with tabs, to 78 % (docs/real-files.md, "CRLF line ends" and "Tab indentation").
// Read this way both give the very numbers of the LF, space-indented file.
//
// The tokens keep the document's own UTF-16 ranges, so every view places its marks where they are: a
// token that ends inside a tab's four spaces ends after the tab, so each tab belongs to the token that
// holds its first space (after two tabs, ` return` covers `return`), and a token of spaces that starts
// and ends inside one tab's four is empty. A CRLF's line-end token covers both characters. A lone
// `\r`, and a tab after the indentation, are read as written.
import type { CompactEncoding, Encoding, Tokenizer } from './tokenizer';

/** How many spaces the model reads for a tab of indentation: the indentation of its training code. */
const TAB_SPACES = '    ';

/** encode() of the document as the model reads it; ranges in the document's own offsets. */
export function encodeDocument(tokenizer: Tokenizer, text: string): Encoding {
  return readAsTrained(text, (t) => tokenizer.encode(t));
}

/** encodeCompact() of the document as the model reads it; ranges in the document's own offsets. */
export function encodeDocumentCompact(tokenizer: Tokenizer, text: string): CompactEncoding {
  return readAsTrained(text, (t) => tokenizer.encodeCompact(t));
}

type Offsets = { length: number; [i: number]: number };

/**
 * Where the read text differs from the document: substitution k replaces the document's characters
 * before `documentEnd[k]` with the read text's [readStart[k], readEnd[k]) (ascending, not overlapping).
 */
interface Substitutions {
  readonly readStart: Uint32Array;
  readonly readEnd: Uint32Array;
  readonly documentEnd: Uint32Array;
}

/** `encode` of the read text, its ranges moved back to the document's own offsets. */
function readAsTrained<E extends { readonly starts: Offsets; readonly ends: Offsets }>(text: string, encode: (text: string) => E): E {
  const read = reading(text);
  if (!read) return encode(text);
  const enc = encode(read.text);
  toDocument(enc.starts, read.substitutions);
  toDocument(enc.ends, read.substitutions);
  return enc;
}

/** The read text and its substitutions; undefined when the document is read as written. */
function reading(text: string): { text: string; substitutions: Substitutions } | undefined {
  if (!text.includes('\r\n') && !text.includes('\t')) return undefined;
  const readStart: number[] = [];
  const readEnd: number[] = [];
  const documentEnd: number[] = [];
  const parts: string[] = [];
  let copiedTo = 0; // document offset up to which `parts` holds the text
  let readLength = 0;
  const substitute = (at: number, length: number, read: string) => {
    parts.push(text.slice(copiedTo, at), read);
    readLength += at - copiedTo;
    readStart.push(readLength);
    readLength += read.length;
    readEnd.push(readLength);
    documentEnd.push(at + length);
    copiedTo = at + length;
  };
  let indenting = true; // inside the white space that starts a line
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 /* \r */ && text.charCodeAt(i + 1) === 10) {
      substitute(i, 2, '\n');
      i++;
      indenting = true;
    } else if (c === 9 /* \t */ && indenting) {
      substitute(i, 1, TAB_SPACES);
    } else {
      indenting = c === 10 || (indenting && c === 32);
    }
  }
  if (!documentEnd.length) return undefined;
  parts.push(text.slice(copiedTo));
  return {
    text: parts.join(''),
    substitutions: { readStart: Uint32Array.from(readStart), readEnd: Uint32Array.from(readEnd), documentEnd: Uint32Array.from(documentEnd) },
  };
}

/**
 * Read-text offsets → the document's, in place. Before a substitution an offset moves by what the ones
 * before it changed; inside one (between its first and last read character) it moves to the end of what
 * it replaced. So a token that ends at a folded line end ends before its `\r`, the line-end token starts
 * at the `\r`, and no token starts before the token ahead of it. Offsets must be ascending (token
 * starts, or ends, are).
 */
function toDocument(offsets: Offsets, s: Substitutions): void {
  let passed = 0;
  let shift = 0; // document offset − read offset after the substitutions passed
  for (let i = 0; i < offsets.length; i++) {
    const r = offsets[i];
    while (passed < s.readEnd.length && s.readEnd[passed] <= r) {
      shift = s.documentEnd[passed] - s.readEnd[passed];
      passed++;
    }
    offsets[i] = passed < s.readStart.length && s.readStart[passed] < r ? s.documentEnd[passed] : r + shift;
  }
}
