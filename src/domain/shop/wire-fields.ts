/**
 * Reading the shop's admin wire forms (offers, subscriptions) field by field, pure: each check names the field it
 * refused (dotted path, e.g. `term.length`), so that the admin API and the JSON-lines import say what is wrong
 * where. The HTTP layer's schema documents the same shapes; this is the one that decides.
 */

/** A field of an offer or subscription that cannot be taken as given. */
export class ShopInputError extends Error {
  constructor(
    /** Dotted path in the record (`term.length`, `products.0.path`); '' for the record itself. */
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ShopInputError';
  }
}

/** Offer and subscription ids, as the spec bounds them (≤ 128 characters). */
export const MAX_ID_LENGTH = 128;
export const MAX_VERSION_LENGTH = 64;
/** Lists (products, upgrades, add-ons, ...): far above any real offer, low enough to keep a record small. */
export const MAX_LIST = 100;

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const VERSION = /^[A-Za-z0-9._-]+$/;
/** YYYY-MM-DDTHH:MM[:SS[.fraction]] with Z or an offset; the date part is checked for existence separately. */
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})$/;

export type Json = Record<string, unknown>;

const at = (prefix: string, key: string) => (prefix === '' ? key : `${prefix}.${key}`);

/**
 * An object with exactly the allowed keys (those in `required` must be present); returns it. Unknown keys are refused
 * so that a misspelt field (`crossSell`) is an error, not silently nothing.
 */
export function object(value: unknown, field: string, required: readonly string[], optional: readonly string[] = []): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ShopInputError(field, 'must be an object');
  const o = value as Json;
  for (const key of required) if (!(key in o)) throw new ShopInputError(at(field, key), 'is required');
  const allowed = new Set([...required, ...optional]);
  for (const key of Object.keys(o)) if (!allowed.has(key)) throw new ShopInputError(at(field, key), 'is not a known field');
  return o;
}

/** A string of 1..max characters without control characters. */
export function text(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string') throw new ShopInputError(field, 'must be a string');
  if (value.length === 0) throw new ShopInputError(field, 'must not be empty');
  if (value.length > max) throw new ShopInputError(field, `must be at most ${max} characters`);
  if (CONTROL.test(value)) throw new ShopInputError(field, 'must not contain control characters');
  return value;
}

export function id(value: unknown, field: string): string {
  return text(value, field, MAX_ID_LENGTH);
}

export function version(value: unknown, field: string): string {
  const v = text(value, field, MAX_VERSION_LENGTH);
  if (!VERSION.test(v)) throw new ShopInputError(field, 'may hold only letters, digits, ".", "_" and "-"');
  return v;
}

/** An array of at most MAX_LIST items, each read by `item` (given its own field name). */
export function list<T>(value: unknown, field: string, item: (v: unknown, field: string) => T): T[] {
  if (!Array.isArray(value)) throw new ShopInputError(field, 'must be an array');
  if (value.length > MAX_LIST) throw new ShopInputError(field, `must hold at most ${MAX_LIST} items`);
  return value.map((v, i) => item(v, `${field}.${i}`));
}

/** A list of distinct ids. */
export function idList(value: unknown, field: string): string[] {
  const ids = list(value, field, id);
  const seen = new Set<string>();
  for (const [i, x] of ids.entries()) {
    if (seen.has(x)) throw new ShopInputError(`${field}.${i}`, `names ${x} twice`);
    seen.add(x);
  }
  return ids;
}

/**
 * An ISO 8601 date-time with a time zone (Z or ±hh:mm) → epoch ms. Dates that do not exist (February 30, hour 24)
 * are refused, where Date.parse would roll them over.
 */
export function dateTime(value: unknown, field: string): number {
  if (typeof value !== 'string') throw new ShopInputError(field, 'must be an ISO 8601 date-time string');
  const m = ISO_DATE_TIME.exec(value);
  const ms = m ? Date.parse(value) : Number.NaN;
  if (!m || Number.isNaN(ms)) throw new ShopInputError(field, 'must be an ISO 8601 date-time with a time zone (2026-01-31T12:00:00Z)');
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((x) => Number(x ?? 0)) as [number, number, number, number, number, number];
  const local = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (local.getUTCFullYear() !== y || local.getUTCMonth() !== mo - 1 || local.getUTCDate() !== d || local.getUTCHours() !== h || local.getUTCMinutes() !== mi || local.getUTCSeconds() !== s) {
    throw new ShopInputError(field, `${value} is not a date-time that exists`);
  }
  return ms;
}

/** Epoch ms → the wire's ISO 8601 UTC form (milliseconds kept, so that what was loaded reads back the same). */
export function isoDateTime(ms: number): string {
  return new Date(ms).toISOString();
}
