/**
 * A rate limit for the log lines of a store outage. While a store is down every request fails the same way, and a
 * line per failure (thousands a second) buries everything else and costs the CPU the service needs to recover; a
 * few lines a second say as much, each with the count of the lines left out since the one before.
 */

/** Lines let through per second and limiter, the rest only counted. */
const LINES_PER_SECOND = 3;

export class OutageLog {
  private windowStart = Number.NEGATIVE_INFINITY;
  private inWindow = 0;
  private suppressed = 0;

  constructor(
    private readonly perSecond: number = LINES_PER_SECOND,
    /** Milliseconds of a monotonic clock (tests pass their own). */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Null when this line is to be left out (it is counted); otherwise how many were left out since the last line
   * let through.
   */
  admit(): number | null {
    const t = this.now();
    if (t - this.windowStart >= 1000) {
      this.windowStart = t;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.perSecond) {
      this.suppressed++;
      return null;
    }
    this.inWindow++;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    return suppressed;
  }

  /** Logs `err` at error level, with `suppressed` when lines were left out before it, or only counts it. */
  error(log: { error(obj: object, msg: string): void }, err: unknown, msg: string): void {
    const suppressed = this.admit();
    if (suppressed === null) return;
    log.error(suppressed > 0 ? { err, suppressed } : { err }, msg);
  }
}

/** The process's limiter of the stores' connection warnings (pg and ioredis 'error' events). */
const connectionWarnings = new OutageLog();

/** process.emitWarning, at most a few times a second, with the count of warnings left out. */
export function warnConnection(message: string): void {
  const suppressed = connectionWarnings.admit();
  if (suppressed === null) return;
  process.emitWarning(suppressed > 0 ? `${message} (${suppressed} more store connection warnings left out)` : message);
}
