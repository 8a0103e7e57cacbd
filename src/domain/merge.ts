/**
 * Guest → account merge, as pure rules over the two baskets. Each step is one compare-and-set on one basket
 * (src/service/merge.ts runs them; docs/decisions.md has the protocol):
 *   1. captureGuest   guest basket: lines captured into a `mergedInto` marker, the lists emptied, no writes after
 *   2. applyMerge     account basket: the captured lines merged in, the merge id remembered (applied once)
 *   3. finishGuest    guest basket: marker `done`, captured lines dropped
 * A step that finds its work already done returns the very same state (no write).
 */
import type { AppliedMerge, BasketLimits, BasketState, GuestMergeMarker, Line, MergeStrategy } from './basket.js';
import { BasketError } from './errors.js';

/** Merge ids an account basket remembers (a retry older than this many later merges would apply again). */
export const REMEMBERED_MERGES = 10;

export const MERGE_STRATEGIES: readonly MergeStrategy[] = ['sum', 'max', 'replace'];

/**
 * The id of one merge: the guest user id and a random nonce drawn once per request (a guest basket's version
 * alone could repeat once an expired basket was purged and written again).
 */
export function mergeId(guestUserId: string, nonce: string): string {
  return `${guestUserId}@${nonce}`;
}

/**
 * Step 1. Refused while the guest basket holds a checkout (its lines are being paid for). A basket already
 * marked is returned as it is: the caller continues (or reports) the merge the marker names.
 */
export function captureGuest(guest: BasketState, userId: string, id: string, strategy: MergeStrategy): BasketState {
  if (guest.mergedInto) return guest;
  if (guest.session !== null || guest.checkout.length > 0) {
    throw new BasketError('CHECKOUT_ALREADY_ACTIVE', 'The guest basket has an active checkout: finish or abort it before merging');
  }
  const marker: GuestMergeMarker = { userId, id, phase: 'merging', strategy, cart: guest.cart, saved: guest.saved };
  return { ...guest, cart: [], saved: [], mergedInto: marker };
}

function combine(user: number, guest: number, strategy: MergeStrategy, maxLineCount: number): number {
  if (strategy === 'sum') return Math.min(user + guest, maxLineCount);
  if (strategy === 'max') return Math.max(user, guest);
  return guest;
}

/** The line that stays when both baskets hold the product: the account's, or the guest's under `replace`. */
function combined(user: Line, guest: Line, strategy: MergeStrategy, maxLineCount: number): Line {
  const base = strategy === 'replace' ? guest : user;
  return { ...base, count: combine(user.count, guest.count, strategy, maxLineCount) };
}

/**
 * Step 2. Guest cart lines go to the cart (a product the account kept in saved moves up to the cart with it)
 * while the cart has room, else to saved, and are reported in `toSaved`; guest saved lines join the account's
 * line where there is one (cart or saved), else saved. The account's own lines never leave the cart. Applying a
 * merge id the basket remembers changes nothing and answers what was applied then.
 */
export function applyMerge(user: BasketState, marker: GuestMergeMarker, limits: BasketLimits): { state: BasketState; applied: AppliedMerge } {
  const known = user.mergedFrom?.find((m) => m.id === marker.id);
  if (known) return { state: user, applied: known };
  const { strategy } = marker;
  const { maxCartLines, maxLineCount } = limits;
  const cart = user.cart.slice();
  const saved = user.saved.slice();
  const toSaved: string[] = [];
  const find = (lines: Line[], id: string) => lines.findIndex((l) => l.productId === id);

  for (const g of marker.cart) {
    const i = find(cart, g.productId);
    if (i !== -1) {
      cart[i] = combined(cart[i]!, g, strategy, maxLineCount);
      continue;
    }
    const j = find(saved, g.productId);
    const line = j === -1 ? g : combined(saved[j]!, g, strategy, maxLineCount);
    if (cart.length < maxCartLines) {
      if (j !== -1) saved.splice(j, 1);
      cart.push(line);
    } else {
      if (j === -1) saved.push(line);
      else saved[j] = line;
      toSaved.push(g.productId);
    }
  }
  for (const g of marker.saved) {
    const i = find(cart, g.productId);
    if (i !== -1) {
      cart[i] = combined(cart[i]!, g, strategy, maxLineCount);
      continue;
    }
    const j = find(saved, g.productId);
    if (j === -1) saved.push(g);
    else saved[j] = combined(saved[j]!, g, strategy, maxLineCount);
  }

  const applied: AppliedMerge = { id: marker.id, moved: marker.cart.length + marker.saved.length, toSaved };
  const mergedFrom = [...(user.mergedFrom ?? []).slice(-(REMEMBERED_MERGES - 1)), applied];
  return { state: { ...user, cart, saved, mergedFrom }, applied };
}

/** Step 3: the merge named `id` is done; the captured lines are dropped. */
export function finishGuest(guest: BasketState, id: string): BasketState {
  const marker = guest.mergedInto;
  if (!marker || marker.id !== id || marker.phase === 'done') return guest;
  return { ...guest, mergedInto: { ...marker, phase: 'done', cart: [], saved: [] } };
}
