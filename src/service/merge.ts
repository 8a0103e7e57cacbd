/**
 * Guest → account merge (issue 22): the guest's cart and saved lines move into the account's basket in one
 * observable change, without a transaction across the two baskets. Three compare-and-sets, each on one basket
 * (the rules are src/domain/merge.ts; the protocol and its crash cases are in docs/decisions.md):
 *   1. guest:   lines captured into a `mergedInto` marker (phase `merging`); from here the guest token writes nothing
 *   2. account: the captured lines merged in, the merge id remembered in the same write (a retry applies nothing)
 *   3. guest:   marker `done`, captured lines dropped
 * A request that finds a marker of its account continues from it, so repeating the request finishes a merge a
 * crash interrupted; a finished one answers as a no-op.
 */
import { randomUUID } from 'node:crypto';
import type { PartnerConfig } from '../config.js';
import type { TokenVerifier } from '../auth/tokens.js';
import type { GuestMergeMarker, MergeStrategy } from '../domain/basket.js';
import { BasketError, isBasketError } from '../domain/errors.js';
import { applyMerge, captureGuest, finishGuest, mergeId } from '../domain/merge.js';
import { checkPrecondition, type Precondition } from '../domain/versions.js';
import type { BasketOwner, BasketService, VersionedBasket } from './baskets.js';

/** Guest user ids as createGuestBasket mints them (src/domain/transfer-token.ts). */
const GUEST_ID_PREFIX = 'guest-';

export const DEFAULT_MERGE_STRATEGY: MergeStrategy = 'max';

export interface MergeReport {
  strategy: MergeStrategy;
  moved: number;
  toSaved: string[];
  alreadyMerged: boolean;
}

export interface MergeResult {
  basket: VersionedBasket;
  report: MergeReport;
}

function badGuestToken(message: string): BasketError {
  return new BasketError('REQUEST_VALIDATION_ERROR', `body.guestToken ${message}`, [{ field: 'body.guestToken', message }]);
}

export class MergeService {
  readonly #baskets: BasketService;
  readonly #tokens: Pick<TokenVerifier, 'verify'>;

  constructor(opts: { baskets: BasketService; tokens: Pick<TokenVerifier, 'verify'> }) {
    this.#baskets = opts.baskets;
    this.#tokens = opts.tokens;
  }

  /** The guest basket a guest token may merge: a guest's own basket of this partner (not a transferred account's). */
  async guestOf(partner: PartnerConfig, guestToken: string): Promise<BasketOwner> {
    let principal;
    try {
      principal = await this.#tokens.verify(partner, guestToken);
    } catch (err) {
      if (isBasketError(err) && err.kind === 'AUTHORIZATION_HEADER_INVALID') throw badGuestToken(`is not a valid token of this partner: ${err.message}`);
      throw err;
    }
    if (!principal.guest) throw badGuestToken('is not a guest token');
    // redeeming a transfer hands out guest tokens for an account's own basket: that one is shared, not a guest's
    if (!principal.userId.startsWith(GUEST_ID_PREFIX)) throw badGuestToken("addresses a transferred basket, not a guest's own");
    return { partnerId: partner.id, userId: principal.userId, guest: true };
  }

  async merge(user: BasketOwner, guest: BasketOwner, strategy: MergeStrategy, expect?: Precondition): Promise<MergeResult> {
    if (user.guest) throw new BasketError('GUEST_NOT_ALLOWED', 'Only an account (partner user) can take in a guest basket');
    if (guest.userId === user.userId) throw badGuestToken('is the token of this very basket');
    // a precondition that fails already leaves the guest basket untouched (it is checked again in step 2)
    if (expect !== undefined) checkPrecondition(expect, (await this.#baskets.read(user)).version);

    // 1. capture, or find the merge a marker names
    const nonce = randomUUID();
    const { result: marker } = await this.#baskets.changeStored(guest, (base) => {
      const next = captureGuest(base, user.userId, mergeId(guest.userId, nonce), strategy);
      return { next, result: next.mergedInto! };
    });

    if (marker.userId !== user.userId) {
      // merged (or being merged) into another account: that merge is finished first, whoever asks
      if (marker.phase === 'merging') await this.#complete(guest, { partnerId: user.partnerId, userId: marker.userId, guest: false }, marker);
      throw new BasketError('GUEST_BASKET_MERGED', 'This guest basket was merged into another account');
    }
    if (marker.phase === 'done') {
      const basket = await this.#baskets.read(user);
      if (expect !== undefined) checkPrecondition(expect, basket.version);
      const known = basket.state.mergedFrom?.find((m) => m.id === marker.id);
      return { basket, report: { strategy: marker.strategy, moved: known?.moved ?? 0, toSaved: known?.toSaved ?? [], alreadyMerged: true } };
    }
    return this.#complete(guest, user, marker, expect);
  }

  /** Steps 2 and 3 of the merge `marker` names. */
  async #complete(guest: BasketOwner, user: BasketOwner, marker: GuestMergeMarker, expect?: Precondition): Promise<MergeResult> {
    // A 412 here leaves the merge pending (the guest's lines stay captured): handing them back could race with a
    // concurrent retry that applies them, and count them twice. The client reads again and repeats the merge.
    const applied = await this.#baskets.changeStored(user, (base, version) => {
      const { state, applied } = applyMerge(base, marker, this.#baskets.limits);
      const fresh = state !== base;
      if (fresh && expect !== undefined) checkPrecondition(expect, version);
      return { next: state, result: { applied, fresh } };
    });
    await this.#baskets.changeStored(guest, (base) => ({ next: finishGuest(base, marker.id), result: null }));
    const { applied: a, fresh } = applied.result;
    return { basket: applied.basket, report: { strategy: marker.strategy, moved: a.moved, toSaved: a.toSaved, alreadyMerged: !fresh } };
  }
}
