/** ISO 8601 UTC with `Z`, to the second, as in the public examples (`2025-06-29T08:12:34Z`). */
export function isoSeconds(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
