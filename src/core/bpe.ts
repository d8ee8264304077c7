// Byte-level BPE that reproduces Hugging Face `tokenizers` exactly for the model's tokenizer.json
// (pre-tokenizer Split(tinypython_2k regex, isolated) + ByteLevel(no prefix space, no regex),
// BPE merges by rank, special tokens matched verbatim in the text), and maps every token to the
// UTF-16 range it covers so the editor can decorate it.
//
// Range rule: a token covers whole characters. When a byte-level token ends in the middle of a
// multi-byte character, that character belongs to the token that completes it; a token made only
// of a character's leading bytes gets an empty range. Ranges therefore tile the text exactly.

export interface Encoding {
  /** Token ids. */
  readonly ids: number[];
  /** UTF-16 [start, end) of token i is starts[i], ends[i]. */
  readonly starts: number[];
  readonly ends: number[];
}

interface TokenizerJson {
  readonly added_tokens?: readonly { readonly id: number; readonly content: string; readonly special?: boolean }[];
  readonly pre_tokenizer?: { readonly type: string; readonly pretokenizers?: readonly { readonly type: string; readonly pattern?: { readonly Regex?: string } }[] };
  readonly model: { readonly type: string; readonly vocab: Record<string, number>; readonly merges: readonly (string | readonly [string, string])[] };
}

/** GPT-2's reversible byte → printable character table. */
function byteLevelAlphabet(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table = new Array<string>(256);
  bs.forEach((b, i) => (table[b] = String.fromCodePoint(cs[i])));
  return table;
}

const BYTE_TO_CHAR = byteLevelAlphabet();
const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));
const encoder = new TextEncoder();

export class BpeTokenizer {
  readonly vocabSize: number;
  private readonly vocab: Map<string, number>;
  private readonly idToToken: string[];
  private readonly ranks: Map<string, number>;
  private readonly split: RegExp;
  private readonly specials: { content: string; id: number }[];
  private readonly specialPattern: RegExp | undefined;
  /** pre-token (byte-level string) → [token ids, byte length of each token]. */
  private readonly cache = new Map<string, [number[], number[]]>();

  constructor(json: TokenizerJson) {
    if (json.model?.type !== 'BPE') throw new Error('tokenizer.json: the model is not a BPE model');
    this.vocab = new Map(Object.entries(json.model.vocab));
    this.ranks = new Map();
    json.model.merges.forEach((m, i) => this.ranks.set(typeof m === 'string' ? m : `${m[0]} ${m[1]}`, i));
    this.specials = (json.added_tokens ?? []).map((t) => ({ content: t.content, id: t.id }));
    for (const s of this.specials) this.vocab.set(s.content, s.id);
    this.idToToken = [];
    for (const [tok, id] of this.vocab) this.idToToken[id] = tok;
    this.vocabSize = this.idToToken.length;
    const splitStep = json.pre_tokenizer?.pretokenizers?.find((p) => p.type === 'Split');
    const pattern = splitStep?.pattern?.Regex;
    if (!pattern) throw new Error('tokenizer.json: no Split pre-tokenizer regex');
    this.split = new RegExp(pattern, 'gu');
    this.specialPattern = this.specials.length
      ? new RegExp(this.specials.map((s) => s.content.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g')
      : undefined;
  }

  static fromJson(text: string): BpeTokenizer {
    return new BpeTokenizer(JSON.parse(text) as TokenizerJson);
  }

  tokenId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  /** The text a token id stands for (lone continuation bytes decode to U+FFFD). */
  tokenText(id: number): string {
    return this.decode([id]);
  }

  encode(text: string): Encoding {
    const out: Encoding = { ids: [], starts: [], ends: [] };
    let last = 0;
    if (this.specialPattern) {
      this.specialPattern.lastIndex = 0;
      for (const m of text.matchAll(this.specialPattern)) {
        this.encodeOrdinary(text, last, m.index, out);
        out.ids.push(this.vocab.get(m[0]) as number);
        out.starts.push(m.index);
        out.ends.push(m.index + m[0].length);
        last = m.index + m[0].length;
      }
    }
    this.encodeOrdinary(text, last, text.length, out);
    return out;
  }

  private encodeOrdinary(text: string, from: number, to: number, out: Encoding): void {
    if (from >= to) return;
    const segment = text.slice(from, to);
    let pos = 0;
    for (const m of segment.matchAll(this.split)) {
      if (m.index > pos) this.encodePiece(segment.slice(pos, m.index), from + pos, out); // "isolated": gaps are pieces too
      if (m[0].length) this.encodePiece(m[0], from + m.index, out);
      pos = m.index + m[0].length;
    }
    if (pos < segment.length) this.encodePiece(segment.slice(pos), from + pos, out);
  }

  private encodePiece(piece: string, offset: number, out: Encoding): void {
    const bytes = encoder.encode(piece);
    let chars = '';
    for (const b of bytes) chars += BYTE_TO_CHAR[b];
    let cached = this.cache.get(chars);
    if (!cached) {
      cached = this.bpe(chars);
      if (this.cache.size > 50_000) this.cache.clear();
      this.cache.set(chars, cached);
    }
    // utf16At[p] = UTF-16 offset after the last character that lies wholly within bytes[0, p)
    const utf16At = new Array<number>(bytes.length + 1);
    let p = 0;
    let u = 0;
    utf16At[0] = 0;
    for (const ch of piece) {
      const cp = ch.codePointAt(0) as number;
      const nb = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; // a lone surrogate encodes as U+FFFD: 3 bytes
      for (let k = 1; k < nb; k++) utf16At[p + k] = u;
      p += nb;
      u += ch.length;
      utf16At[p] = u;
    }
    const [ids, lens] = cached;
    let b = 0;
    for (let i = 0; i < ids.length; i++) {
      out.ids.push(ids[i]);
      out.starts.push(offset + utf16At[b]);
      b += lens[i];
      out.ends.push(offset + utf16At[b]);
    }
  }

  /** Merge a byte-level string by rank; returns ids and each token's byte length. */
  private bpe(chars: string): [number[], number[]] {
    let parts = Array.from(chars);
    while (parts.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < parts.length - 1; i++) {
        const r = this.ranks.get(`${parts[i]} ${parts[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const merged = parts[best] + parts[best + 1];
      const next: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i < parts.length - 1 && parts[i] + parts[i + 1] === merged && this.ranks.get(`${parts[i]} ${parts[i + 1]}`) === bestRank) {
          next.push(merged);
          i++;
        } else next.push(parts[i]);
      }
      parts = next;
    }
    const ids = parts.map((t) => {
      const id = this.vocab.get(t);
      if (id === undefined) throw new Error(`tokenizer.json: no vocabulary entry for ${JSON.stringify(t)}`);
      return id;
    });
    return [ids, parts.map((t) => Array.from(t).length)];
  }

  decode(ids: readonly number[]): string {
    const bytes: number[] = [];
    let out = '';
    const flush = () => {
      out += new TextDecoder().decode(new Uint8Array(bytes));
      bytes.length = 0;
    };
    for (const id of ids) {
      const tok = this.idToToken[id];
      if (tok === undefined) continue;
      if (this.specials.some((s) => s.id === id)) {
        flush();
        out += tok;
        continue;
      }
      for (const ch of tok) bytes.push(CHAR_TO_BYTE.get(ch) ?? 0x3f);
    }
    flush();
    return out;
  }
}
