/** The rate limit of outage log lines: a few a second, the rest counted and reported with the next line. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutageLog } from '../../../src/store/shared/outage-log.js';

describe('OutageLog', () => {
  it('lets a few lines a second through and reports how many it left out with the next one', () => {
    const clock = { now: 0 };
    const limit = new OutageLog(3, () => clock.now);
    const lines: object[] = [];
    const log = { error: (obj: object) => lines.push(obj) };
    for (let i = 0; i < 1000; i++) {
      clock.now = i / 2; // 1,000 failures in half a second
      limit.error(log, new Error('down'), 'store unavailable');
    }
    assert.equal(lines.length, 3);
    assert.ok(lines.every((l) => !('suppressed' in l)));
    clock.now = 1000;
    limit.error(log, new Error('down'), 'store unavailable');
    assert.equal(lines.length, 4);
    assert.equal((lines[3] as { suppressed?: number }).suppressed, 997);
    clock.now = 1001;
    limit.error(log, new Error('down'), 'store unavailable');
    assert.ok(!('suppressed' in lines[4]!));
  });

  it('admit() counts from the start of each one-second window', () => {
    const clock = { now: 0 };
    const limit = new OutageLog(2, () => clock.now);
    assert.deepEqual([limit.admit(), limit.admit(), limit.admit()], [0, 0, null]);
    clock.now = 999;
    assert.equal(limit.admit(), null);
    clock.now = 1000;
    assert.equal(limit.admit(), 2);
  });
});
