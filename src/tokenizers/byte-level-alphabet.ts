/**
 * GPT-2's byte ↔ character table: every byte gets a printable character, so a byte-level BPE vocabulary can be
 * stored as text. Printable Latin-1 bytes map to themselves; the others (controls, space, …) are shifted to U+0100+.
 * All 256 characters are in the BMP, so one byte is always one UTF-16 code unit.
 */
export const BYTE_TO_CHAR_CODE: Uint16Array = (() => {
  const table = new Uint16Array(256);
  let shifted = 0;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
    table[byte] = printable ? byte : 256 + shifted++;
  }
  return table;
})();

/** Inverse of BYTE_TO_CHAR_CODE: char code → byte, or -1 for characters outside the table. */
export const CHAR_CODE_TO_BYTE: Int16Array = (() => {
  const table = new Int16Array(512).fill(-1);
  for (let byte = 0; byte < 256; byte++) table[BYTE_TO_CHAR_CODE[byte]!] = byte;
  return table;
})();
