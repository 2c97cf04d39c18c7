/**
 * The pre-tokenizer regexes llama.cpp applies for each `tokenizer.ggml.pre` name of a GGUF BPE vocabulary
 * (llama-vocab.cpp, `llm_tokenizer_bpe`). Each list is applied in order, every regex splitting the pieces of the
 * previous one and keeping both the matches and the text between them.
 */
const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const GPT4O =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const STARCODER = ['\\p{N}', GPT2];

export interface GgufPreTokenizer {
  regexes: string[];
  /** A word that is a vocabulary entry is taken whole (llama.cpp `ignore_merges`). */
  ignoreMerges: boolean;
}

const TABLE: Array<[names: string[], regexes: string[], ignoreMerges: boolean]> = [
  [['gpt-2', 'default', 'mpt', 'olmo', 'phi-2', 'jina-es', 'jina-de', 'jina-v2-es', 'jina-v2-de', 'gigachat', 'mellum', 'modern-bert', 'jais', 'trillion'], [GPT2], false],
  [['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'pixtral', 'dbrx', 'smaug-bpe', 'chatglm-bpe', 'glm4'], [LLAMA3], true],
  [['qwen2', 'deepseek-r1-qwen', 'stablelm2'], [QWEN2], false],
  [['gpt-4o', 'llama4'], [GPT4O], false],
  [['starcoder', 'refact', 'command-r', 'smollm', 'codeshell', 'exaone', 'minerva-7b'], STARCODER, false],
  [['deepseek-coder'], ['[\\r\\n]', '\\s?\\p{L}+', '\\s?\\p{P}+', '[一-龥ࠀ-一가-퟿]+', '\\p{N}'], false],
  [['falcon'], ['[\\p{P}\\$\\+<=>\\^~\\|`]+', "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", '[0-9][0-9][0-9]'], false],
];

export function ggufPreTokenizer(pre: string): GgufPreTokenizer | undefined {
  const row = TABLE.find(([names]) => names.includes(pre));
  return row ? { regexes: row[1], ignoreMerges: row[2] } : undefined;
}
