/**
 * A pre-tokenizer cuts one normalized segment into the pieces ("words") the model tokenizes independently.
 * `atStart` is true when the segment begins at offset 0 of the input (Metaspace's prepend_scheme "first" needs it).
 */
export interface PreTokenizer {
  split(text: string, atStart: boolean): string[];
}
