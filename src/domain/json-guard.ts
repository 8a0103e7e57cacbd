/**
 * Limits on JSON input that the parser itself does not set (issue 17): nesting depth, checked on the text before
 * anything recursive (JSON.parse's consumers, fingerprints, schema checks, stores) sees it, and well-formed
 * Unicode, since a lone surrogate (`"\ud800"`) parses fine but no store can keep it faithfully (PostgreSQL refuses
 * it, Redis stores U+FFFD in its place).
 */

/** Deepest nesting of objects and arrays in a request body or catalogue line; no document of this API nears it. */
export const MAX_JSON_DEPTH = 32;

/**
 * True when the JSON text nests objects and arrays deeper than `max`: one linear pass that skips strings. Text
 * that is not JSON may get either answer (the parser judges it).
 */
export function jsonTooDeep(text: string, max: number = MAX_JSON_DEPTH): boolean {
  // depth max + 1 takes that many opening brackets: the common small bodies are never scanned
  if (text.length <= max) return false;
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: on to its closing quote, stepping over escapes
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/**
 * A cheap pre-check on JSON text: a lone surrogate (or a NUL) can only come from a `\u` escape, since bytes that
 * are not UTF-8 decode to U+FFFD.
 */
export function mayHoldEscapes(jsonText: string): boolean {
  return jsonText.includes('\\u');
}

interface WellFormed {
  isWellFormed(): boolean;
}

/** True when any string (or object key) inside `value` is not well-formed Unicode (holds a lone surrogate). */
export function containsLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return !(value as unknown as WellFormed).isWellFormed();
  if (Array.isArray(value)) return value.some(containsLoneSurrogate);
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (containsLoneSurrogate(k) || containsLoneSurrogate(v)) return true;
  }
  return false;
}
