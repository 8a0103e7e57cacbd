/**
 * The summary of a bench run repeated with fresh processes (`--repeat N`): per scenario, the median and the range
 * of its figures over the repetitions. Pure functions, so that the arithmetic is tested without running a bench.
 */

/** The figures of one scenario in one repetition, as bench/run.ts reports them. */
export interface RunFigures {
  scenario: string;
  requestsPerSec: number;
  ratioToCeiling: number | null;
  latencyMs: { p99: number };
  peakRssMb: number;
  cpu: { serverMicrosPerRequest: number };
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface ScenarioSummary {
  scenario: string;
  repetitions: number;
  requestsPerSec: Spread;
  /** Null for the ceiling itself, which has no ratio. */
  ratioToCeiling: Spread | null;
  p99Ms: Spread;
  serverMicrosPerRequest: Spread;
  /** The highest peak of all repetitions: the memory target is about the worst case. */
  peakRssMb: number;
}

/** The median (the mean of the two middle values for an even count), min and max of a non-empty list. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('spread of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/**
 * One summary per scenario, in the order scenarios first appear. Each repetition lists the ceiling several times
 * (around every scenario); all of them count towards the ceiling's spread.
 */
export function summarize(repetitions: readonly (readonly RunFigures[])[]): ScenarioSummary[] {
  const byScenario = new Map<string, RunFigures[]>();
  for (const results of repetitions) {
    for (const r of results) {
      const list = byScenario.get(r.scenario);
      if (list) list.push(r);
      else byScenario.set(r.scenario, [r]);
    }
  }
  return [...byScenario].map(([scenario, runs]) => {
    const ratios = runs.map((r) => r.ratioToCeiling).filter((x): x is number => x !== null);
    return {
      scenario,
      repetitions: runs.length,
      requestsPerSec: spread(runs.map((r) => r.requestsPerSec)),
      ratioToCeiling: ratios.length > 0 ? spread(ratios) : null,
      p99Ms: spread(runs.map((r) => r.latencyMs.p99)),
      serverMicrosPerRequest: spread(runs.map((r) => r.cpu.serverMicrosPerRequest)),
      peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)),
    };
  });
}

/**
 * How far the machine's speed moved while a scenario ran: the change between the ceiling runs before and after
 * it, as a share of their mean. A VM's slow and fast spells last seconds to minutes, so a scenario whose ceilings
 * differ by more than UNSTEADY_DRIFT may have run at either speed, and its ratio says little.
 */
export function ceilingDrift(before: number, after: number): number {
  const mean = (before + after) / 2;
  return mean > 0 ? Math.abs(after - before) / mean : 0;
}

/** Above this ceiling drift, the bench marks a scenario's ratio as unsteady. */
export const UNSTEADY_DRIFT = 0.15;

/** Whether a scenario's ratio is marked unsteady; no drift (`--ceiling once`) is never marked. */
export function isUnsteady(drift: number | null): boolean {
  return drift !== null && drift > UNSTEADY_DRIFT;
}
