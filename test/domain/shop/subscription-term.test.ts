import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addMonths, currentTerm, termMonths } from '../../../src/domain/shop/subscription-term.js';

const at = (iso: string): number => Date.parse(iso);

describe('subscription terms', () => {
  it('terms in months; a year is 12', () => {
    assert.equal(termMonths({ length: 1, unit: 'month' }), 1);
    assert.equal(termMonths({ length: 3, unit: 'month' }), 3);
    assert.equal(termMonths({ length: 2, unit: 'year' }), 24);
  });

  it('adds calendar months in UTC, clamping the day and keeping the time of day', () => {
    assert.equal(addMonths(at('2024-01-31T10:20:30.400Z'), 1), at('2024-02-29T10:20:30.400Z'));
    assert.equal(addMonths(at('2023-01-31T00:00:00Z'), 1), at('2023-02-28T00:00:00Z'));
    assert.equal(addMonths(at('2023-12-15T23:59:59Z'), 1), at('2024-01-15T23:59:59Z'));
    assert.equal(addMonths(at('2024-03-31T12:00:00Z'), -1), at('2024-02-29T12:00:00Z'));
    assert.equal(addMonths(at('2024-02-29T00:00:00Z'), 12), at('2025-02-28T00:00:00Z'));
    assert.equal(addMonths(at('2024-05-05T05:05:05Z'), 0), at('2024-05-05T05:05:05Z'));
  });

  it('the stored term while it lasts', () => {
    const stored = { start: at('2025-01-10T00:00:00Z'), end: at('2025-02-10T00:00:00Z') };
    assert.deepEqual(currentTerm(stored, { length: 1, unit: 'month' }, at('2025-02-09T23:59:59Z')), stored);
    // a term that has not begun is still the stored one
    assert.deepEqual(currentTerm(stored, { length: 1, unit: 'month' }, at('2024-12-01T00:00:00Z')), stored);
  });

  it('after its end, the renewal term containing now, anchored at the stored end', () => {
    const stored = { start: at('2024-12-31T00:00:00Z'), end: at('2025-01-31T00:00:00Z') };
    const month = { length: 1, unit: 'month' } as const;
    assert.deepEqual(currentTerm(stored, month, stored.end), { start: stored.end, end: at('2025-02-28T00:00:00Z') });
    // no drift from the clamped February: April's term ends on the 30th, May's on the 31st
    assert.deepEqual(currentTerm(stored, month, at('2025-05-01T00:00:00Z')), { start: at('2025-04-30T00:00:00Z'), end: at('2025-05-31T00:00:00Z') });
    assert.deepEqual(currentTerm(stored, { length: 1, unit: 'year' }, at('2027-06-01T00:00:00Z')), {
      start: at('2027-01-31T00:00:00Z'),
      end: at('2028-01-31T00:00:00Z'),
    });
  });

  it('property: the renewal term contains now and starts on a renewal date', () => {
    const epochMs = fc.integer({ min: at('2000-01-01T00:00:00Z'), max: at('2090-01-01T00:00:00Z') });
    fc.assert(
      fc.property(epochMs, fc.integer({ min: 0, max: 40 * 366 * 86_400_000 }), fc.integer({ min: 1, max: 24 }), (end, later, months) => {
        const now = end + later;
        const t = currentTerm({ start: end - 1, end }, { length: months, unit: 'month' }, now);
        assert.ok(t.start <= now && now < t.end, 'contains now');
        let j = 0;
        while (addMonths(end, j * months) < t.start) j++;
        assert.equal(addMonths(end, j * months), t.start, 'starts on a renewal date');
        assert.equal(addMonths(end, (j + 1) * months), t.end, 'lasts one term');
      }),
      { numRuns: 300 },
    );
  });
});
