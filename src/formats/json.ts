/**
 * JSON files from the outside world (tokenizer.json, config.json, safetensors headers, …), parsed strictly:
 *
 *   bytes ──strict UTF-8 (the first bad byte's offset is named)──▶ text ──JSON.parse──▶ value ──depth ≤ 64──▶ caller
 *
 * Invalid UTF-8 is refused rather than replaced with U+FFFD (the Rust `tokenizers` library refuses it too: a
 * replaced byte silently changes a vocabulary entry). The depth bound keeps the recursive builders downstream
 * (nested `Sequence`s, shapes) from overflowing the stack: real files nest fewer than 10 levels.
 */
import { WeftError, type WeftErrorCode } from '../errors.js';

export const MAX_JSON_DEPTH = 64;

/** Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629), or -1. */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let i = 0; i < n; ) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) (need = 1), (min = 0x80);
    else if (b >= 0xe0 && b <= 0xef) (need = 2), (min = 0x800);
    else if (b >= 0xf0 && b <= 0xf4) (need = 3), (min = 0x10000);
    else return i;
    if (i + need >= n) return i; // a sequence cut off by the end of the file
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** Decodes strict UTF-8, or throws `code` naming `name` and the byte offset of the first invalid byte. */
export function decodeUtf8Strict(bytes: Uint8Array, name: string, code: WeftErrorCode = 'E_FORMAT', baseOffset = 0): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const at = invalidUtf8Offset(bytes);
    throw new WeftError(code, `${name}: invalid UTF-8 at byte ${baseOffset + Math.max(at, 0)}`);
  }
}

/** Throws when `value` nests arrays/objects deeper than `max` (checked without recursion). */
export function checkJsonDepth(value: unknown, name: string, code: WeftErrorCode = 'E_FORMAT', max = MAX_JSON_DEPTH): void {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) throw new WeftError(code, `${name}: JSON nested more than ${max} levels deep`);
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
}

/** Parses a JSON file's bytes strictly (UTF-8, syntax, depth); `object: true` also requires a top-level object. */
export function parseJsonBytes(bytes: Uint8Array, name: string, code: WeftErrorCode = 'E_FORMAT', options: { object?: boolean; baseOffset?: number } = {}): unknown {
  const text = decodeUtf8Strict(bytes, name, code, options.baseOffset ?? 0);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new WeftError(code, `${name}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  checkJsonDepth(value, name, code);
  if (options.object && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw new WeftError(code, `${name}: not a JSON object`);
  }
  return value;
}
