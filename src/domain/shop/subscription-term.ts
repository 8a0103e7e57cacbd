/**
 * Subscription terms on the calendar (UTC). Offers have terms in months or years; a subscription holds the bounds
 * of its current term in epoch ms. Pure: no clock, no I/O.
 *
 * The service does not bill renewals: the partner's billing system does, and reloads subscriptions through the admin
 * API. When a subscription's stored term has ended, we read it as renewed on its current offer's term (auto-renewal),
 * anchored at the stored term end, so that a change started later is prorated over the term the customer is in.
 */
import type { OfferTerm } from './records.js';

/** Whole months of a term: a year is 12 months, so every term is an integer number of months. */
export function termMonths(term: OfferTerm): number {
  return term.unit === 'year' ? term.length * 12 : term.length;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

/**
 * `ms` plus `months` calendar months in UTC, the day clamped to the target month's last day (Jan 31 + 1 month =
 * Feb 28 or 29), the time of day kept.
 */
export function addMonths(ms: number, months: number): number {
  const d = new Date(ms);
  const total = d.getUTCFullYear() * 12 + d.getUTCMonth() + months;
  const year = Math.floor(total / 12);
  const month = total - year * 12;
  const day = Math.min(d.getUTCDate(), daysInMonth(year, month));
  const timeOfDay = ms - Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return Date.UTC(year, month, day) + timeOfDay;
}

export interface TermBounds {
  start: number;
  end: number;
}

/**
 * The term the subscription is in at `now`: the stored one while `now` is before its end; afterwards the renewal
 * term containing `now`, i.e. [addMonths(termEnd, (k-1)·m), addMonths(termEnd, k·m)) for the smallest k ≥ 1 whose
 * end is after `now` (m = the offer's term in months). Renewals are anchored at the stored end, not chained, so a
 * clamped day (Jan 31 → Feb 28) does not drift into later terms.
 */
export function currentTerm(stored: TermBounds, offerTerm: OfferTerm, now: number): TermBounds {
  if (now < stored.end) return stored;
  const m = termMonths(offerTerm);
  if (!(m > 0)) return stored;
  const a = new Date(stored.end);
  const b = new Date(now);
  const monthsApart = (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + (b.getUTCMonth() - a.getUTCMonth());
  // an estimate within one step of the answer; the loops settle it
  let k = Math.max(1, Math.floor(monthsApart / m));
  while (k > 1 && addMonths(stored.end, (k - 1) * m) > now) k--;
  while (addMonths(stored.end, k * m) <= now) k++;
  return { start: addMonths(stored.end, (k - 1) * m), end: addMonths(stored.end, k * m) };
}
