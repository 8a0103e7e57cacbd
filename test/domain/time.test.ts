import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isoSeconds } from '../../src/domain/time.js';

/** The plain definition the fast formatter must match. */
const reference = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;

describe('isoSeconds', () => {
  it('formats to the second with Z, as in the public examples', () => {
    assert.equal(isoSeconds(Date.UTC(2025, 5, 29, 8, 12, 34, 999)), '2025-06-29T08:12:34Z');
    assert.equal(isoSeconds(0), '1970-01-01T00:00:00Z');
    assert.equal(isoSeconds(Date.UTC(2024, 1, 29, 23, 59, 59)), '2024-02-29T23:59:59Z');
  });

  it('matches Date#toISOString for any instant, including outside the fast range', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => assert.equal(isoSeconds(ms), reference(ms))),
      { numRuns: 20_000 },
    );
  });

  it('stays right while the day cache fills and is cleared', () => {
    for (let d = 0; d < 200; d++) {
      const ms = Date.UTC(2026, 0, 1) + d * 86_400_000 + d * 1_234_567;
      assert.equal(isoSeconds(ms), reference(ms));
    }
  });

  it('refuses an invalid instant as toISOString does', () => {
    assert.throws(() => isoSeconds(Number.NaN), RangeError);
  });
});
