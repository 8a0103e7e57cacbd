/**
 * The development partner's shop data (demo/offers.jsonl, demo/subscriptions.jsonl), loaded at start beside the demo
 * catalogue. Safe on every start: offer versions are immutable (the same content again is a no-op), and a
 * subscription is created only when its id is not there yet, so the changes made through the shop survive a
 * restart.
 *
 * The subscriptions' dates are written as if it were DEMO_DATES_AS_OF; they are moved by whole days to the day they
 * are loaded, so that the plain subscription is mid-term and the pending change lies ahead whenever the demo starts.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Offer, Subscription } from '../domain/shop/records.js';
import { parseOffer } from '../domain/shop/offer-input.js';
import { parseSubscription } from '../domain/shop/subscription-input.js';
import { ParsedJsonLines } from './json-lines.js';
import type { ShopAdminService } from './shop-admin.js';

export const DEMO_OFFERS = fileURLToPath(new URL('../../demo/offers.jsonl', import.meta.url));
export const DEMO_SUBSCRIPTIONS = fileURLToPath(new URL('../../demo/subscriptions.jsonl', import.meta.url));
/** The day the demo subscriptions' dates are written for. */
export const DEMO_DATES_AS_OF = Date.UTC(2026, 11, 1);
const DAY_MS = 86_400_000;

async function readLines<T>(file: string, parse: (json: unknown) => T): Promise<ParsedJsonLines<T>> {
  const lines = new ParsedJsonLines(parse).addText(await readFile(file, 'utf8'));
  if (lines.errors.length > 0) throw new Error(`${file} is invalid: ${lines.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`);
  return lines;
}

/** `s` with every date moved by `ms`. */
export function shifted(s: Subscription, ms: number): Subscription {
  return {
    ...s,
    termStart: s.termStart + ms,
    termEnd: s.termEnd + ms,
    pendingChange: s.pendingChange && { ...s.pendingChange, effective: s.pendingChange.effective + ms },
  };
}

/** Loads the demo offers and the demo subscriptions not there yet for `partnerId`; returns how many subscriptions were created. */
export async function seedDemoShop(admin: ShopAdminService, partnerId: string, now: number): Promise<number> {
  const offers = await readLines<Offer>(DEMO_OFFERS, (json) => parseOffer(json));
  await admin.loadOffers(partnerId, offers.items);
  const subscriptions = await readLines<Subscription>(DEMO_SUBSCRIPTIONS, (json) => parseSubscription(json, partnerId));
  const shift = Math.floor((now - DEMO_DATES_AS_OF) / DAY_MS) * DAY_MS;
  const missing = [];
  for (const item of subscriptions.items) {
    if ((await admin.getSubscription(partnerId, item.value.id)) === null) missing.push({ line: item.line, value: shifted(item.value, shift) });
  }
  if (missing.length > 0) await admin.loadSubscriptions(partnerId, missing);
  return missing.length;
}
