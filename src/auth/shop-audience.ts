/**
 * The `aud` of the shop surface's access tokens (shop-api.md §2): what tells them apart from guest tokens, which the
 * same service key signs without an audience. Its own module so that the device verifier can refuse it without
 * importing the shop's token code.
 */
export const SHOP_AUDIENCE = 'basket-shop';

/** Whether a token's `aud` claim (string or array) names the shop audience. */
export function isShopAudience(aud: unknown): boolean {
  return aud === SHOP_AUDIENCE || (Array.isArray(aud) && aud.includes(SHOP_AUDIENCE));
}
