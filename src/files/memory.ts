/**
 * Files the caller already holds: Blobs and Files (a picked file, a folder picked with webkitdirectory), bytes, or
 * URLs given by name. Blobs are read by slicing, so a picked 4 GB file is never read whole into JS memory.
 */
import { blobSource, bytesSource } from '../formats/source.js';
import type { ModelFiles } from './model-files.js';

/** What a map or list entry may hold: the bytes, a Blob/File, or the file's URL (its own ModelFiles opens it). */
export type FileEntry = Blob | Uint8Array | { files: ModelFiles; file: string };

export function memoryFiles(name: string, entries: Map<string, FileEntry>): ModelFiles {
  return {
    name,
    where: (file) => (entries.size === 1 && entries.has(file) ? file : `${file} (in ${name})`),
    list: async () => [...entries.keys()],
    async open(file) {
      const entry = entries.get(file);
      if (entry === undefined) return null;
      if (entry instanceof Uint8Array) return bytesSource(entry, file);
      if (typeof Blob !== 'undefined' && entry instanceof Blob) return blobSource(entry, file);
      const remote = entry as { files: ModelFiles; file: string };
      return remote.files.open(remote.file);
    },
  };
}
