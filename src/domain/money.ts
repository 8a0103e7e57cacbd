/**
 * Money is integer minor units everywhere inside; decimals exist only on the wire.
 * Digits per currency come from the platform's ISO 4217 data (Intl), so JPY has 0 and EUR 2.
 */
const digitsCache = new Map<string, number>();

const KNOWN_CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

/** An ISO 4217 code the platform knows (NumberFormat alone would accept any three letters). */
export function isCurrency(code: string): boolean {
  return KNOWN_CURRENCIES.has(code);
}

export function minorDigits(currency: string): number {
  let d = digitsCache.get(currency);
  if (d === undefined) {
    d = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    digitsCache.set(currency, d);
  }
  return d;
}

/** Minor units → a decimal number in major units (59.98). Exact for any safe integer amount in display. */
export function toMajor(minor: number, currency: string): number {
  const d = minorDigits(currency);
  return d === 0 ? minor : Number((minor / 10 ** d).toFixed(d));
}

/** A decimal in major units → minor units; null when it has more decimals than the currency allows. */
export function toMinor(major: number, currency: string): number | null {
  if (!Number.isFinite(major)) return null;
  const d = minorDigits(currency);
  const scaled = major * 10 ** d;
  const minor = Math.round(scaled);
  // tolerate binary noise (19.99 * 100 = 1998.9999999999998), reject real extra digits (19.999)
  if (Math.abs(scaled - minor) > 1e-6 * Math.max(1, Math.abs(scaled))) return null;
  return Number.isSafeInteger(minor) ? minor : null;
}
