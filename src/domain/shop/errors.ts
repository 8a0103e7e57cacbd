/**
 * What the shop's rules refuse, as plain data: the HTTP layer answers `status` with `{"message"}` (shop-api.md §1).
 * Domain and service code throw it; no framework is involved.
 */
export type ShopErrorStatus = 400 | 404 | 409 | 423 | 502 | 503;

export class ShopRuleError extends Error {
  constructor(
    readonly status: ShopErrorStatus,
    message: string,
  ) {
    super(message);
    this.name = 'ShopRuleError';
  }
}

export function isShopRuleError(err: unknown): err is ShopRuleError {
  return err instanceof ShopRuleError;
}

export const badRequest = (message: string): ShopRuleError => new ShopRuleError(400, message);
export const notFound = (message: string): ShopRuleError => new ShopRuleError(404, message);

/** The seed's exact messages (shop-api.md §1). */
export const MSG_NO_BASKET_IN_LANDING_STATE = 'Basket not found in landing state';
export const MSG_BASKET_NOT_FOUND = 'Basket not found';
