// Byte-level BPE that gives exactly the ids of Hugging Face `tokenizers` for the model's
// tokenizer.json, and maps every token to the UTF-16 range of the document it covers (the editor
// decorates by UTF-16 offsets).
//
// Pipeline, as HF runs it for this tokenizer.json:
//   1. added (special) tokens such as `<|endoftext|>` are found verbatim in the raw text and
//      become their own ids; only the text between them goes through steps 2–4;
//   2. Split(regex, behavior "Isolated"): every regex match is a pre-token, and so is every gap
//      between matches (the regex of tinypython_2k leaves none in practice, but HF keeps gaps);
//   3. ByteLevel(add_prefix_space=false, use_regex=false): the pre-token's UTF-8 bytes, nothing more;
//   4. BPE: merge adjacent symbols by lowest merge rank until no merge applies.
//
// Regex dialect: HF compiles the pattern with Oniguruma, whose `\s` is Unicode White_Space. JS's
// `\s` differs (it adds U+FEFF and lacks U+0085), so `\s`/`\S` are rewritten to the explicit
// White_Space class before compiling with the `u` flag (checked against HF on both characters).
//
// Range rule: ranges tile the text exactly. A token covers the characters whose last UTF-8 byte it
// holds: when a byte-level token ends inside a multi-byte character, that whole character belongs
// to the later token that completes it, and a token holding only leading bytes of a character gets
// an empty range [p, p). Astral characters (2 UTF-16 units) are never split between tokens.
// Lone surrogates cannot be UTF-8 encoded; like TextEncoder we encode them as U+FFFD (3 bytes).

export interface Encoding {
  /** Token ids [n]. */
  readonly ids: number[];
  /** UTF-16 start of each token [n]: token i covers text.slice(starts[i], ends[i]). */
  readonly starts: number[];
  /** UTF-16 end (exclusive) of each token [n]; ends[i] === starts[i + 1]. */
  readonly ends: number[];
}

/** Tokens and their UTF-16 ranges in typed arrays (Tokenizer.encodeCompact); the same meaning as Encoding. */
export interface CompactEncoding {
  readonly ids: Int32Array;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
}

/** What Encoding and CompactEncoding share. */
export interface TokenRanges {
  readonly ids: ArrayLike<number>;
  readonly starts: ArrayLike<number>;
  readonly ends: ArrayLike<number>;
}

/** Where the encoder puts each token. */
interface TokenSink {
  push(id: number, start: number, end: number): void;
}

/** Typed arrays, sized for a guess at the token count and grown by half as tokens arrive. */
class CompactSink implements TokenSink {
  private n = 0;
  private ids: Int32Array;
  private starts: Uint32Array;
  private ends: Uint32Array;

  constructor(guess: number) {
    const capacity = Math.max(1024, Math.ceil(guess));
    [this.ids, this.starts, this.ends] = [new Int32Array(capacity), new Uint32Array(capacity), new Uint32Array(capacity)];
  }

  push(id: number, start: number, end: number): void {
    if (this.n === this.ids.length) {
      const grow = <T extends Int32Array | Uint32Array>(a: T, b: T): T => (b.set(a), b);
      const capacity = Math.ceil(this.n * 1.5);
      this.ids = grow(this.ids, new Int32Array(capacity));
      this.starts = grow(this.starts, new Uint32Array(capacity));
      this.ends = grow(this.ends, new Uint32Array(capacity));
    }
    this.ids[this.n] = id;
    this.starts[this.n] = start;
    this.ends[this.n++] = end;
  }

  /** Views of the filled part when little is left over (no copy at the peak), else trimmed copies. */
  done(): CompactEncoding {
    const cut = this.n >= 0.75 * this.ids.length ? 'subarray' : 'slice';
    return { ids: this.ids[cut](0, this.n), starts: this.starts[cut](0, this.n), ends: this.ends[cut](0, this.n) };
  }
}

export class TokenizerError extends Error {}

interface AddedToken {
  readonly id: number;
  readonly content: string;
}

interface PreTokenizerJson {
  readonly type?: string;
  readonly pretokenizers?: readonly PreTokenizerJson[];
  readonly pattern?: { readonly Regex?: string; readonly String?: string };
  readonly behavior?: string;
  readonly add_prefix_space?: boolean;
  readonly use_regex?: boolean;
}

interface TokenizerJson {
  readonly added_tokens?: readonly AddedToken[];
  readonly normalizer?: unknown;
  readonly pre_tokenizer?: PreTokenizerJson | null;
  readonly model?: { readonly type?: string; readonly vocab?: Record<string, number>; readonly merges?: readonly (string | readonly [string, string])[]; readonly ignore_merges?: boolean };
}

/** Oniguruma's `\s` (Unicode White_Space), as the contents of a character class. */
const WHITE_SPACE = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/** Rewrite `\s` and `\S` of an Oniguruma pattern to JS classes with Oniguruma's meaning. */
export function onigToJsPattern(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) {
      const n = pattern[i + 1];
      i++;
      if (n === 's') out += inClass ? WHITE_SPACE : `[${WHITE_SPACE}]`;
      else if (n === 'S') {
        // `\S` inside a class would need class subtraction; the tokenizer's pattern never does it
        if (inClass) throw new TokenizerError('tokenizer.json: \\S inside a character class is not supported');
        out += `[^${WHITE_SPACE}]`;
      } else out += c + n;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  return out;
}

/** GPT-2's reversible byte → printable character table (the alphabet of byte-level tokens). */
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

/** byte value → its character in byte-level token spellings (`Ġ` for a space). */
export const BYTE_TO_CHAR: readonly string[] = byteLevelAlphabet();
const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));
/** Pair key of two symbol ids; vocabularies are far below 2^20 entries, so keys stay exact. */
const PAIR = 0x100000;
const PIECE_CACHE_LIMIT = 100_000;
const PIECE_CACHE_MAX_LENGTH = 256;

/** One pre-token's encoding, relative to the pre-token's start. */
interface PieceEncoding {
  readonly ids: Int32Array;
  /** UTF-16 [start, end) of each token relative to the piece; see the range rule above. */
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
}

export class Tokenizer {
  /** Number of ids (max id + 1), specials included. */
  readonly vocabSize: number;
  /** Special token content → id. */
  readonly specials: ReadonlyMap<string, number>;
  private readonly vocab = new Map<string, number>();
  private readonly idToToken: string[] = [];
  private readonly specialIds = new Set<number>();
  /** pair key (a·2^20 + b) → [rank, merged id]; Map lookups keep merging fast. */
  private readonly merges = new Map<number, [number, number]>();
  /** byte value → id of its single-byte token. */
  private readonly byteIds = new Int32Array(256);
  private readonly split: RegExp;
  /** Pre-token text → its encoding: source files repeat words, so most pieces are cache hits. */
  private readonly cache = new Map<string, PieceEncoding>();
  /** id → tokenText(id), filled lazily. */
  private readonly texts: string[] = [];

  constructor(json: TokenizerJson) {
    const model = json.model;
    if (model?.type !== 'BPE' || !model.vocab || !Array.isArray(model.merges)) throw new TokenizerError('tokenizer.json: the model must be BPE with a vocab and merges');
    if (model.ignore_merges) throw new TokenizerError('tokenizer.json: ignore_merges is not supported');
    if (json.normalizer) throw new TokenizerError('tokenizer.json: normalizers are not supported (the model\'s tokenizer has none)');
    for (const [tok, id] of Object.entries(model.vocab)) {
      if (!Number.isInteger(id) || id < 0) throw new TokenizerError(`tokenizer.json: vocab entry ${JSON.stringify(tok)} has id ${id}`);
      this.vocab.set(tok, id);
      this.idToToken[id] = tok;
    }
    const specials = new Map<string, number>();
    for (const t of json.added_tokens ?? []) {
      specials.set(t.content, t.id);
      this.specialIds.add(t.id);
      this.idToToken[t.id] = t.content;
    }
    this.specials = specials;
    this.vocabSize = this.idToToken.length;
    for (let b = 0; b < 256; b++) {
      const id = this.vocab.get(BYTE_TO_CHAR[b]);
      if (id === undefined) throw new TokenizerError(`tokenizer.json: byte ${b} has no token, so it is not a byte-level BPE`);
      this.byteIds[b] = id;
    }
    if (model.merges.length >= 2 ** 21) throw new TokenizerError(`tokenizer.json: ${model.merges.length} merges; at most 2,097,151 are supported`);
    model.merges.forEach((m, rank) => {
      const [a, b] = typeof m === 'string' ? splitMerge(m) : m;
      const ia = this.vocab.get(a);
      const ib = this.vocab.get(b);
      const merged = this.vocab.get(a + b);
      if (ia === undefined || ib === undefined || merged === undefined) throw new TokenizerError(`tokenizer.json: merge ${rank} (${JSON.stringify(m)}) uses tokens missing from the vocab`);
      const key = ia * PAIR + ib;
      if (!this.merges.has(key)) this.merges.set(key, [rank, merged]);
    });
    const steps = json.pre_tokenizer?.type === 'Sequence' ? json.pre_tokenizer.pretokenizers ?? [] : json.pre_tokenizer ? [json.pre_tokenizer] : [];
    const split = steps.find((p) => p.type === 'Split');
    const byteLevel = steps.find((p) => p.type === 'ByteLevel');
    const pattern = split?.pattern?.Regex;
    if (!pattern || split?.behavior !== 'Isolated') throw new TokenizerError('tokenizer.json: expected a Split pre-tokenizer with a regex and behavior Isolated');
    if (!byteLevel || byteLevel.add_prefix_space || byteLevel.use_regex) throw new TokenizerError('tokenizer.json: expected a ByteLevel pre-tokenizer with add_prefix_space=false and use_regex=false');
    this.split = new RegExp(onigToJsPattern(pattern), 'gu');
  }

  static fromJson(text: string): Tokenizer {
    let json: TokenizerJson;
    try {
      json = JSON.parse(text) as TokenizerJson;
    } catch (e) {
      throw new TokenizerError(`tokenizer.json is not valid JSON (${(e as Error).message})`);
    }
    return new Tokenizer(json);
  }

  /** Id of a vocabulary entry (byte-level spelling, e.g. `Ġx`) or special token. */
  tokenId(token: string): number | undefined {
    return this.vocab.get(token) ?? this.specials.get(token);
  }

  /** The text a token id stands for (an incomplete UTF-8 sequence decodes to U+FFFD). */
  tokenText(id: number): string {
    // asked for every top-K candidate of every token: decode each id once
    let t = this.texts[id];
    if (t === undefined && id >= 0 && id < this.vocabSize) t = this.texts[id] = this.decode([id]);
    return t ?? '';
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  encode(text: string): Encoding {
    const out: Encoding = { ids: [], starts: [], ends: [] };
    this.encodeInto(text, {
      push(id, start, end) {
        out.ids.push(id);
        out.starts.push(start);
        out.ends.push(end);
      },
    });
    return out;
  }

  /**
   * encode() into typed arrays, 12 bytes a token: for a large document, about a third of the
   * memory of encode()'s number arrays (a 10 MB file is 3 million tokens).
   */
  encodeCompact(text: string): CompactEncoding {
    const out = new CompactSink(text.length / 3); // Python source: 3.3 characters a token (stdlib)
    this.encodeInto(text, out);
    return out.done();
  }

  private encodeInto(text: string, out: TokenSink): void {
    let last = 0;
    // HF finds added tokens first (leftmost, then longest) and never splits or merges them. Each
    // special's next occurrence is remembered: searching every special again from each found one
    // would rescan the text once per special token.
    const next = new Map<string, number>();
    while (this.specials.size) {
      let at = -1;
      let which = '';
      for (const s of this.specials.keys()) {
        let i = next.get(s);
        if (i === undefined || (i >= 0 && i < last)) next.set(s, (i = text.indexOf(s, last)));
        if (i >= 0 && (at < 0 || i < at || (i === at && s.length > which.length))) {
          at = i;
          which = s;
        }
      }
      if (at < 0) break;
      this.encodeOrdinary(text, last, at, out);
      out.push(this.specials.get(which) as number, at, at + which.length);
      last = at + which.length;
    }
    this.encodeOrdinary(text, last, text.length, out);
  }

  /** The pre-tokens of ordinary text (no special tokens), in order; they concatenate to `text`. */
  preTokenize(text: string): string[] {
    const pieces: string[] = [];
    let pos = 0;
    for (const m of text.matchAll(this.split)) {
      if (m.index > pos) pieces.push(text.slice(pos, m.index));
      if (m[0].length) pieces.push(m[0]);
      pos = m.index + m[0].length;
    }
    if (pos < text.length) pieces.push(text.slice(pos));
    return pieces;
  }

  decode(ids: readonly number[]): string {
    let out = '';
    let bytes: number[] = [];
    const flush = () => {
      if (bytes.length) out += Buffer.from(bytes).toString('utf8');
      bytes = [];
    };
    for (const id of ids) {
      const tok = this.idToToken[id];
      if (tok === undefined) continue;
      if (this.specialIds.has(id)) {
        flush();
        out += tok;
      } else for (const ch of tok) bytes.push(CHAR_TO_BYTE.get(ch) ?? 0x3f);
    }
    flush();
    return out;
  }

  private encodeOrdinary(text: string, from: number, to: number, out: TokenSink): void {
    if (from >= to) return;
    // HF pre-tokenizes each stretch between special tokens on its own: a stretch that ends before
    // the text does is cut out, so that lookaheads and greedy runs cannot see past its end. (The
    // pattern has no lookbehind or ^, so starting at `from` needs no cut.)
    const s = to === text.length ? text : text.slice(0, to);
    const re = this.split;
    re.lastIndex = from;
    let pos = from;
    for (let m = re.exec(s); m !== null; m = re.exec(s)) {
      const end = m.index + m[0].length;
      if (m.index > pos) this.encodePiece(s.slice(pos, m.index), pos, out); // Isolated: gaps are pieces too
      if (end > m.index) this.encodePiece(m[0], m.index, out);
      else re.lastIndex++; // an empty match: step on
      pos = end;
    }
    if (pos < to) this.encodePiece(s.slice(pos, to), pos, out);
  }

  private encodePiece(piece: string, offset: number, out: TokenSink): void {
    let enc = this.cache.get(piece);
    if (!enc) {
      enc = this.bpe(piece);
      // long pieces (a minified line's identifier, a run of digits or spaces) rarely repeat
      if (piece.length <= PIECE_CACHE_MAX_LENGTH) {
        if (this.cache.size >= PIECE_CACHE_LIMIT) this.cache.clear();
        this.cache.set(piece, enc);
      }
    }
    for (let i = 0; i < enc.ids.length; i++) {
      out.push(enc.ids[i], offset + enc.starts[i], offset + enc.ends[i]);
    }
  }

  /**
   * BPE over one pre-token: its UTF-8 bytes as single-byte symbols, merged lowest rank first and,
   * among equal ranks, leftmost first (HF's order). The candidate pairs wait in a binary heap over a
   * linked list of symbols, so a piece of n bytes takes O(n log n): rescanning the whole piece for
   * the best pair after every merge rank (as this once did) took O(n × ranks used), 2 s for a
   * 100 KB identifier and tens of seconds for a megabyte.
   */
  private bpe(piece: string): PieceEncoding {
    // per symbol: id, and the UTF-16 offset just after the last character it completes (or -1)
    const sym: number[] = [];
    const end16: number[] = [];
    for (let u = 0; u < piece.length; ) {
      let cp = piece.codePointAt(u) as number;
      const units = cp > 0xffff ? 2 : 1;
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; // lone surrogate, encoded as U+FFFD
      const bytes = cp < 0x80 ? [cp] : cp < 0x800 ? [0xc0 | (cp >> 6), 0x80 | (cp & 63)] : cp < 0x10000 ? [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)] : [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
      u += units;
      for (let k = 0; k < bytes.length; k++) {
        sym.push(this.byteIds[bytes[k]]);
        end16.push(k === bytes.length - 1 ? u : -1);
      }
    }
    const n = sym.length;
    const next = new Int32Array(n); // next live symbol, −1 after the last
    const prev = new Int32Array(n); // previous live symbol, −1 before the first
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // heap entries: rank · 2^32 + left symbol's index, so the least is the lowest rank, leftmost;
    // an entry is stale when its pair has changed since (checked by rank: one rank, one pair)
    const heap = new PairHeap();
    const offer = (i: number, j: number) => {
      const m = this.merges.get(sym[i] * PAIR + sym[j]);
      if (m) heap.push(m[0] * PAIR_HEAP_SHIFT + i);
    };
    for (let i = 0; i + 1 < n; i++) offer(i, i + 1);
    while (heap.size) {
      const key = heap.pop();
      const rank = Math.floor(key / PAIR_HEAP_SHIFT);
      const i = key - rank * PAIR_HEAP_SHIFT;
      const j = next[i];
      if (sym[i] < 0 || j < 0) continue;
      const m = this.merges.get(sym[i] * PAIR + sym[j]);
      if (!m || m[0] !== rank) continue;
      sym[i] = m[1];
      if (end16[j] >= 0) end16[i] = end16[j];
      sym[j] = -1; // merged into i
      const k = next[j];
      next[i] = k;
      if (k >= 0) prev[k] = i;
      if (prev[i] >= 0) offer(prev[i], i);
      if (k >= 0) offer(i, k);
    }
    let len = 0;
    for (let i = 0; i >= 0; i = next[i]) len++;
    const res: PieceEncoding = { ids: new Int32Array(len), starts: new Uint32Array(len), ends: new Uint32Array(len) };
    let at = 0;
    for (let i = 0, t = 0; i >= 0; i = next[i], t++) {
      res.ids[t] = sym[i];
      res.starts[t] = at;
      if (end16[i] >= 0) at = end16[i]; // else: only leading bytes of a character → empty range
      res.ends[t] = at;
    }
    return res;
  }
}

/** Heap keys are rank · 2^32 + symbol index: exact below 2^53, so for ranks below 2^21. */
const PAIR_HEAP_SHIFT = 2 ** 32;

/** A binary min-heap of numbers. */
class PairHeap {
  private readonly a: number[] = [];

  get size(): number {
    return this.a.length;
  }

  push(x: number): void {
    const a = this.a;
    let i = a.length;
    a.push(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= x) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = x;
  }

  pop(): number {
    const a = this.a;
    const top = a[0];
    const last = a.pop() as number;
    const n = a.length;
    if (n) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && a[c + 1] < a[c]) c++;
        if (a[c] >= last) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

/** A merge stored as `"a b"`. Byte-level tokens never contain a space (it is `Ġ`), so the split is unique. */
function splitMerge(m: string): [string, string] {
  const i = m.indexOf(' ');
  if (i <= 0) throw new TokenizerError(`tokenizer.json: merge ${JSON.stringify(m)} is not "a b"`);
  return [m.slice(0, i), m.slice(i + 1)];
}
