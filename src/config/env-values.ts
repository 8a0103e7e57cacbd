/**
 * Reading one environment variable: the value parsers and readers of src/config.ts. A bad value throws ConfigError
 * naming the variable (never a secret's value).
 */

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A request rate: at most `max` per fixed window of `windowMs`; max 0 = no limit. */
export interface Rate {
  readonly max: number;
  readonly windowMs: number;
}

export type Env = Record<string, string | undefined>;

const DURATION = /^(\d+)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `60s`, `30m`, `24h`, `30d`; a bare number is seconds. */
export function parseDuration(value: string): number | null {
  const m = DURATION.exec(value.trim());
  if (!m) return null;
  return Number(m[1]) * UNIT_MS[m[2] ?? 's']!;
}

const RATE = /^\s*(\d+)\s*(?:\/\s*(\d+\s*(?:ms|s|m|h|d)?)\s*)?$/;
/** Largest max of a rate (the counters are 32-bit in PostgreSQL). */
export const MAX_RATE = 1_000_000_000;
const MIN_RATE_WINDOW_MS = 1000;
const MAX_RATE_WINDOW_MS = 86_400_000;

/** Parses `<max>/<window>` (`600/1m`, `30/10m`, `200000/10s`) or `0` (no limit); null when invalid. */
export function parseRate(value: string): Rate | null {
  const m = RATE.exec(value);
  if (!m) return null;
  const max = Number(m[1]);
  if (!Number.isSafeInteger(max) || max > MAX_RATE) return null;
  if (m[2] === undefined) return max === 0 ? { max: 0, windowMs: 60_000 } : null;
  const windowMs = parseDuration(m[2].replace(/\s+/g, ''));
  if (windowMs === null || windowMs < MIN_RATE_WINDOW_MS || windowMs > MAX_RATE_WINDOW_MS) return null;
  return { max, windowMs };
}

export const RATE_EXPECTED = 'a rate like 600/1m (at most 1000000000 per a window of 1s to 1d), or 0 for no limit';

export function readRate(env: Env, name: string, def: string): Rate {
  const raw = env[name];
  const rate = parseRate(raw === undefined || raw === '' ? def : raw);
  if (rate === null) throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected ${RATE_EXPECTED}`);
  return rate;
}

export function readInt(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected an integer from ${min} to ${max}`);
  }
  return n;
}

export function readDuration(env: Env, name: string, def: string, minMs: number, maxMs = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name] ?? def;
  const ms = parseDuration(raw);
  if (ms === null || ms < minMs || ms > maxMs) {
    const range = maxMs === Number.MAX_SAFE_INTEGER ? `at least ${minMs} ms` : `${minMs} to ${maxMs} ms`;
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected a duration like 60s, 30m, 24h or 30d (${range})`);
  }
  return ms;
}

export function readBool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected true or false`);
}

export function readString(env: Env, name: string, def: string, pattern?: RegExp, expected?: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (pattern && !pattern.test(raw)) throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected ${expected}`);
  return raw;
}
