import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ceilingDrift, isUnsteady, spread, summarize, type RunFigures } from '../../bench/summary.js';

function run(scenario: string, requestsPerSec: number, ratioToCeiling: number | null, p99 = 2, rss = 100, micros = 20): RunFigures {
  return { scenario, requestsPerSec, ratioToCeiling, latencyMs: { p99 }, peakRssMb: rss, cpu: { serverMicrosPerRequest: micros } };
}

describe('bench summary', () => {
  it('spread: the middle value of an odd count, the mean of the two middle ones of an even count', () => {
    assert.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3 });
    assert.deepEqual(spread([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4 });
    assert.deepEqual(spread([7]), { median: 7, min: 7, max: 7 });
    assert.throws(() => spread([]));
  });

  it('ceilingDrift: the change between the ceilings around a scenario, as a share of their mean, either way', () => {
    assert.equal(ceilingDrift(100, 100), 0);
    assert.equal(ceilingDrift(90, 110), 0.2);
    assert.equal(ceilingDrift(110, 90), 0.2);
    assert.equal(ceilingDrift(0, 0), 0);
  });

  it('isUnsteady: a drift above 15 % marks the ratio; 15 % itself and no drift (--ceiling once) do not', () => {
    assert.equal(isUnsteady(0.151), true);
    assert.equal(isUnsteady(0.15), false);
    assert.equal(isUnsteady(0), false);
    assert.equal(isUnsteady(null), false);
  });

  it('summarize: per scenario over the repetitions, in the order they first appear', () => {
    const summary = summarize([
      [run('ceiling', 100, null), run('get', 50, 0.5, 3, 110, 30), run('ceiling', 102, null)],
      [run('ceiling', 90, null), run('get', 40, 0.44, 5, 120, 35), run('ceiling', 94, null)],
      [run('ceiling', 80, null), run('get', 46, 0.56, 4, 105, 25), run('ceiling', 84, null)],
    ]);
    assert.deepEqual(
      summary.map((s) => s.scenario),
      ['ceiling', 'get'],
    );
    const [ceiling, get] = summary;
    assert.equal(ceiling!.repetitions, 6);
    assert.deepEqual(ceiling!.requestsPerSec, { median: 92, min: 80, max: 102 });
    assert.equal(ceiling!.ratioToCeiling, null);
    assert.deepEqual(get, {
      scenario: 'get',
      repetitions: 3,
      requestsPerSec: { median: 46, min: 40, max: 50 },
      ratioToCeiling: { median: 0.5, min: 0.44, max: 0.56 },
      p99Ms: { median: 4, min: 3, max: 5 },
      serverMicrosPerRequest: { median: 30, min: 25, max: 35 },
      peakRssMb: 120,
    });
  });
});
