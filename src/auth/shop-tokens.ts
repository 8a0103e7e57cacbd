/**
 * Access tokens of the shop surface (shop-api.md §2): JWTs signed with the service key, like guest tokens, told apart
 * by `aud` = SHOP_AUDIENCE (guest tokens carry none; the device verifier refuses this one). Claims: `sub` the client
 * id, `pid` its partner, `scope` space-separated, one hour. A token is good only while its client is still configured
 * with the scopes it names (a client removed from the partners file loses its tokens at the restart).
 */
import { BasketError } from '../domain/errors.js';
import type { ServiceKeys } from './service-keys.js';
import { SHOP_AUDIENCE } from './shop-audience.js';
import type { ShopClient, ShopClients } from './shop-clients.js';

export const SHOP_TOKEN_TTL_SEC = 3600;

export interface ShopPrincipal {
  readonly partnerId: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  /** epoch ms */
  readonly expires: number;
}

/** Why a bearer token is refused on the shop surface (the message is safe to show: it never holds the token). */
export class ShopTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShopTokenError';
  }
}

export interface IssuedShopToken {
  accessToken: string;
  expiresIn: number;
  scope: string;
}

const DEFAULT_CACHE_SIZE = 10_000;

export class ShopTokens {
  readonly #keys: ServiceKeys;
  readonly #clients: ShopClients;
  readonly #now: () => number;
  readonly #cacheSize: number;
  /** Verified tokens until they expire, so a shop's every request does not cost a signature check (oldest out first). */
  readonly #cache = new Map<string, ShopPrincipal>();

  constructor(opts: { serviceKeys: ServiceKeys; clients: ShopClients; now: () => number; cacheSize?: number }) {
    this.#keys = opts.serviceKeys;
    this.#clients = opts.clients;
    this.#now = opts.now;
    this.#cacheSize = Math.max(0, Math.floor(opts.cacheSize ?? DEFAULT_CACHE_SIZE));
  }

  /** Signs a token for `client` with `scopes` (already checked to be the client's). */
  async issue(client: ShopClient, scopes: readonly string[]): Promise<IssuedShopToken> {
    const scope = scopes.join(' ');
    const expiresAt = (Math.floor(this.#now() / 1000) + SHOP_TOKEN_TTL_SEC) * 1000;
    const accessToken = await this.#keys.sign({ sub: client.id, aud: SHOP_AUDIENCE, pid: client.partnerId, scope }, expiresAt);
    return { accessToken, expiresIn: SHOP_TOKEN_TTL_SEC, scope };
  }

  /** The principal of a valid shop token; throws ShopTokenError otherwise. */
  async verify(token: string): Promise<ShopPrincipal> {
    const now = this.#now();
    const hit = this.#cache.get(token);
    if (hit !== undefined) {
      if (now < hit.expires && this.#stillGranted(hit)) return hit;
      this.#cache.delete(token);
    }
    const principal = await this.#verifyUncached(token, now);
    if (this.#cacheSize > 0) {
      if (this.#cache.size >= this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(token, principal);
    }
    return principal;
  }

  async #verifyUncached(token: string, now: number): Promise<ShopPrincipal> {
    let payload: Record<string, unknown>;
    try {
      // signature by one of the service's keys, iss = the service, exp present and not passed
      payload = await this.#keys.verify(token, now);
    } catch (err) {
      if (err instanceof BasketError) throw new ShopTokenError(err.message);
      throw new ShopTokenError('token cannot be verified');
    }
    // guest tokens (no aud) and anything else this service signs are not shop tokens
    if (payload.aud !== SHOP_AUDIENCE) throw new ShopTokenError('not a shop access token (aud)');
    const { sub, pid, scope, exp } = payload;
    if (typeof sub !== 'string' || typeof pid !== 'string' || typeof scope !== 'string' || typeof exp !== 'number') {
      throw new ShopTokenError('token lacks its claims');
    }
    // verify() allows a little clock skew between processes; a shop token is refused from its exp on
    if (now >= exp * 1000) throw new ShopTokenError('token expired');
    const principal: ShopPrincipal = Object.freeze({ partnerId: pid, clientId: sub, scopes: Object.freeze(scope.split(' ').filter((s) => s !== '')), expires: exp * 1000 });
    if (!this.#stillGranted(principal)) throw new ShopTokenError('the client of this token is no longer configured');
    return principal;
  }

  /** The token's client still exists, for the same partner, with every scope the token names. */
  #stillGranted(p: ShopPrincipal): boolean {
    const client = this.#clients.byId(p.clientId);
    return client !== undefined && client.partnerId === p.partnerId && p.scopes.every((s) => client.scopes.includes(s));
  }
}
