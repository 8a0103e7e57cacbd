/**
 * Proration of a subscription upgrade, in integer minor units. Pure arithmetic, exact (BigInt rationals).
 *
 * Rule (docs/decisions.md, "Subscription changes"):
 * - Every recurring price is normalised to the subscription's current term (the *basis*, the current offer's term):
 *   price × basisMonths / ownMonths. Terms are whole months (a year is 12), so this ratio is exact whatever the
 *   units; a term's real length in ms (months differ) only enters as the share of the term that remains.
 * - delta = Σ normalised prices after the change − Σ before (offer and recurring add-ons).
 * - charge = delta × remaining / termLength, with remaining = termEnd − now clamped to [0, termLength], computed as
 *   one exact fraction and rounded once, half up, to the minor unit.
 * - delta ≤ 0 (an "upgrade" that costs less): charge 0. Nothing is refunded.
 */
import type { OfferTerm } from './records.js';
import { termMonths } from './subscription-term.js';

/** A recurring price: minor units per term. */
export interface TermPrice {
  price: number;
  term: OfferTerm;
}

export interface ProrationInput {
  before: readonly TermPrice[];
  after: readonly TermPrice[];
  /** The term the prices are normalised to: the current offer's. */
  basis: OfferTerm;
  /** ms left of the current term at the change (clamped to [0, termLength]). */
  remaining: number;
  /** ms of the current term. */
  termLength: number;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** Σ after − Σ before, each normalised to the basis term, as a fraction num/den (den > 0). */
export function normalisedDelta(before: readonly TermPrice[], after: readonly TermPrice[], basis: OfferTerm): { num: bigint; den: bigint } {
  const all = [...before, ...after];
  // common denominator: the lcm of every term's months
  let den = 1n;
  for (const p of all) {
    const m = BigInt(termMonths(p.term));
    den = (den / gcd(den, m)) * m;
  }
  const basisMonths = BigInt(termMonths(basis));
  let num = 0n;
  const add = (p: TermPrice, sign: bigint): void => {
    num += sign * BigInt(p.price) * basisMonths * (den / BigInt(termMonths(p.term)));
  };
  for (const p of after) add(p, 1n);
  for (const p of before) add(p, -1n);
  return { num, den };
}

/** round(num / den) half up, for num ≥ 0, den > 0. */
function roundHalfUp(num: bigint, den: bigint): bigint {
  return (2n * num + den) / (2n * den);
}

/** The prorated charge of an upgrade (minor units, ≥ 0). */
export function prorationCharge(input: ProrationInput): number {
  const termLength = Math.max(0, Math.floor(input.termLength));
  if (termLength === 0) return 0;
  const remaining = Math.min(termLength, Math.max(0, Math.floor(input.remaining)));
  const { num, den } = normalisedDelta(input.before, input.after, input.basis);
  if (num <= 0n || remaining === 0) return 0;
  return Number(roundHalfUp(num * BigInt(remaining), den * BigInt(termLength)));
}
