/**
 * JSON-lines imports (catalogue products, offers, subscriptions): each line decoded with the same guards (nesting
 * depth, NUL, lone surrogates) before anything recursive sees it, then read by the import's own parser. Every
 * error carries its 1-based line number; blank lines are skipped but counted.
 */
import { containsNul } from '../domain/nul.js';
import { containsLoneSurrogate, jsonTooDeep, MAX_JSON_DEPTH, mayHoldEscapes } from '../domain/json-guard.js';
import { ShopInputError } from '../domain/shop/wire-fields.js';

export interface LineError {
  line: number;
  message: string;
}

/** The decoded JSON of one line, what is wrong with it, or null for a blank line. */
export function decodeJsonLine(raw: string): { json: unknown } | { error: string } | null {
  const text = raw.trim();
  if (text === '') return null;
  if (jsonTooDeep(text)) return { error: `nested deeper than ${MAX_JSON_DEPTH} levels` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { error: 'not valid JSON' };
  }
  if (mayHoldEscapes(text)) {
    if (containsNul(json)) return { error: 'must not contain NUL characters' };
    if (containsLoneSurrogate(json)) return { error: 'must be well-formed Unicode (no lone surrogates)' };
  }
  return { json };
}

/** An import's lines: the records read (with their line) and the errors. */
export class ParsedJsonLines<T> {
  readonly items: { line: number; value: T }[] = [];
  readonly errors: LineError[] = [];

  /** `parse` reads one decoded line; a ShopInputError it throws is that line's error (`/field message`). */
  constructor(private readonly parse: (json: unknown) => T) {}

  add(raw: string, line: number): void {
    const decoded = decodeJsonLine(raw);
    if (decoded === null) return;
    if ('error' in decoded) {
      this.errors.push({ line, message: decoded.error });
      return;
    }
    try {
      this.items.push({ line, value: this.parse(decoded.json) });
    } catch (err) {
      if (!(err instanceof ShopInputError)) throw err;
      this.errors.push({ line, message: `/${err.field.replaceAll('.', '/')} ${err.message}` });
    }
  }

  /** All lines of a text at once (the CLI, the demo data). */
  addText(text: string): this {
    for (const [i, raw] of text.split(/\r?\n/).entries()) this.add(raw, i + 1);
    return this;
  }

  get values(): T[] {
    return this.items.map((i) => i.value);
  }
}
