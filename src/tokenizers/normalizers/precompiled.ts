import { WeftError } from '../../errors.js';
import { invalidUtf8Offset } from '../../formats/json.js';
import { utf8Decoder, utf8Encoder } from '../utf8.js';
import type { Normalizer } from './normalizer.js';

/**
 * SentencePiece's precompiled normalization map ("precompiled_charsmap"): a darts-clone double-array trie over UTF-8
 * byte strings whose leaves point at NUL-terminated replacement strings in a blob. Layout: u32 trie byte size, the
 * trie (u32 units), then the blob.
 */
export class PrecompiledCharsmap {
  private readonly units: Uint32Array;
  private readonly blob: Uint8Array;
  private readonly replacements = new Map<number, string>();

  constructor(bytes: Uint8Array, what: string) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const trieBytes = bytes.byteLength >= 4 ? view.getUint32(0, true) : -1;
    if (trieBytes < 0 || trieBytes % 4 !== 0 || 4 + trieBytes > bytes.byteLength) {
      throw new WeftError('E_TOKENIZER', `${what}: precompiled_charsmap is malformed (trie size ${trieBytes}, map ${bytes.byteLength} bytes)`);
    }
    this.units = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.blob = bytes.subarray(4 + trieBytes);
    // Replacements are NUL-terminated UTF-8 strings: check them all now, so a corrupt map fails at load, naming
    // the byte, rather than in the middle of an encode (or silently as U+FFFD).
    const bad = invalidUtf8Offset(this.blob.map((b) => (b === 0 ? 0x20 : b)));
    if (bad >= 0) throw new WeftError('E_TOKENIZER', `${what}: precompiled_charsmap has invalid UTF-8 at byte ${4 + trieBytes + bad} of the decoded map`);
  }

  /**
   * Walks the trie along `bytes[start..end)` and returns the byte length and replacement of the shortest or the
   * longest key that is a prefix, or null. A NUL byte ends the key, as in SentencePiece.
   */
  match(bytes: Uint8Array, start: number, end: number, longest: boolean): { length: number; replacement: string } | null {
    const units = this.units;
    if (units.length === 0) return null;
    let node = offsetOf(units[0]!);
    let found: { length: number; value: number } | null = null;
    for (let i = start; i < end; i++) {
      const c = bytes[i]!;
      if (c === 0) break;
      node ^= c;
      if (node >= units.length) break;
      const unit = units[node]!;
      if ((unit & 0x800000ff) >>> 0 !== c) break;
      node ^= offsetOf(unit);
      if ((unit >>> 8) & 1 && node < units.length) {
        found = { length: i - start + 1, value: units[node]! & 0x7fffffff };
        if (!longest) break;
      }
    }
    return found ? { length: found.length, replacement: this.replacement(found.value) } : null;
  }

  private replacement(offset: number): string {
    let text = this.replacements.get(offset);
    if (text === undefined) {
      let end = offset;
      while (end < this.blob.length && this.blob[end] !== 0) end++;
      text = utf8Decoder.decode(this.blob.subarray(offset, end));
      this.replacements.set(offset, text);
    }
    return text;
  }
}

function offsetOf(unit: number): number {
  return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
}

const graphemes = new Intl.Segmenter('und', { granularity: 'grapheme' });

/**
 * Hugging Face's `Precompiled` normalizer (spm_precompiled): per grapheme cluster shorter than 6 bytes, the whole
 * cluster is replaced by the map entry of its shortest matching prefix; otherwise each character is looked up alone.
 */
export class Precompiled implements Normalizer {
  constructor(private readonly charsmap: PrecompiledCharsmap) {}

  normalize(text: string): string {
    let out = '';
    for (const { segment } of graphemes.segment(text)) {
      const bytes = utf8Encoder.encode(segment);
      if (bytes.length < 6) {
        const whole = this.charsmap.match(bytes, 0, bytes.length, false);
        if (whole) {
          out += whole.replacement;
          continue;
        }
      }
      for (const ch of segment) {
        const charBytes = ch.length === segment.length ? bytes : utf8Encoder.encode(ch);
        const m = this.charsmap.match(charBytes, 0, charBytes.length, false);
        out += m ? m.replacement : ch;
      }
    }
    return out;
  }
}

/**
 * SentencePiece's own normalizer as llama.cpp runs it for GGUF `t5` vocabularies: at each byte offset the longest
 * matching key is replaced; unmatched characters are copied.
 */
export class PrecompiledLongestMatch implements Normalizer {
  constructor(private readonly charsmap: PrecompiledCharsmap) {}

  normalize(text: string): string {
    const bytes = utf8Encoder.encode(text);
    let out = '';
    let copyStart = 0;
    let i = 0;
    while (i < bytes.length) {
      const m = this.charsmap.match(bytes, i, bytes.length, true);
      if (m) {
        out += utf8Decoder.decode(bytes.subarray(copyStart, i)) + m.replacement;
        i += m.length;
        copyStart = i;
      } else {
        i += utf8SequenceLength(bytes[i]!);
      }
    }
    return out + utf8Decoder.decode(bytes.subarray(copyStart));
  }
}

function utf8SequenceLength(lead: number): number {
  return lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}
