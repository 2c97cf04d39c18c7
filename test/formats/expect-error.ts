import { expect } from 'vitest';
import { WeftError, type WeftErrorCode } from '../../src/errors.js';

/**
 * Await `promise` and check it failed with a WeftError of `code` whose message matches every pattern: bad input
 * must give a clear error, never a RangeError, a hang or a success. Returns the message for further checks.
 */
export async function expectWeftError(promise: Promise<unknown>, code: WeftErrorCode, ...patterns: RegExp[]): Promise<string> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(error, 'expected a WeftError, but the call succeeded').toBeInstanceOf(WeftError);
  const e = error as WeftError;
  expect(e.code, e.message).toBe(code);
  for (const p of patterns) expect(e.message).toMatch(p);
  return e.message;
}
