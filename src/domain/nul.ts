/**
 * NUL characters have no meaning anywhere in this API, and PostgreSQL cannot store them in text or jsonb; they
 * are refused at the edge (URL, JSON bodies, catalogue lines) rather than failing deep inside a store.
 */

/** True when any string (or object key) inside `value` contains U+0000. */
export function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([k, v]) => k.includes('\u0000') || containsNul(v));
  }
  return false;
}

/** A cheap pre-check on JSON text: only text with an escaped NUL can parse into a string holding one. */
export function mayHoldNul(jsonText: string): boolean {
  return jsonText.includes('\\u0000');
}
