const DAY_MS = 86_400_000;
/** 9999-12-31T23:59:59.999Z: beyond it (and before 1970) toISOString's own format applies. */
const FAST_MAX_MS = 253_402_300_799_999;
/** `YYYY-MM-DDT` by day number; a basket answer needs two days (lastChanged, expires), so a few suffice. */
const dayPrefixes = new Map<number, string>();

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * ISO 8601 UTC with `Z`, to the second, as in the public examples (`2025-06-29T08:12:34Z`). Every basket answer
 * formats two of these; building a Date and a 24-character string for each showed in CPU profiles.
 */
export function isoSeconds(ms: number): string {
  if (!(ms >= 0 && ms <= FAST_MAX_MS)) return `${new Date(ms).toISOString().slice(0, 19)}Z`;
  const day = Math.floor(ms / DAY_MS);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    if (dayPrefixes.size >= 64) dayPrefixes.clear();
    prefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    dayPrefixes.set(day, prefix);
  }
  const s = Math.floor((ms - day * DAY_MS) / 1000);
  return `${prefix}${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}Z`;
}
