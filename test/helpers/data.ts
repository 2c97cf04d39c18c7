import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';

/**
 * The shared reference data (../shared/data, or $WEFT_TEST_DATA). Tests that need it use `describeData`: when the
 * folder is missing they fail under CI (CI=true) and skip, with the reason, elsewhere.
 */
export const DATA_DIR = resolve(process.env.WEFT_TEST_DATA ?? fileURLToPath(new URL('../../../shared/data', import.meta.url)));
export const HAVE_DATA = existsSync(resolve(DATA_DIR, 'MANIFEST.md'));

export function dataPath(...parts: string[]): string {
  return resolve(DATA_DIR, ...parts);
}

export function describeData(name: string, fn: () => void): void {
  if (HAVE_DATA) {
    describe(name, fn);
    return;
  }
  if (process.env.CI) {
    describe(name, () => {
      throw new Error(`reference data missing at ${DATA_DIR} (set WEFT_TEST_DATA); CI requires it`);
    });
    return;
  }
  describe.skip(`${name} (skipped: reference data not found at ${DATA_DIR})`, fn);
}
