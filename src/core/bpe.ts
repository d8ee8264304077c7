// Kept for existing importers: the tokenizer lives in ./tokenizer.
export { Tokenizer as BpeTokenizer, TokenizerError, type Encoding } from './tokenizer';
