/**
 * The shop surface's OAuth clients (shop-api.md §2, §4), from the partners' `shop.clients`. Secrets are held only as
 * SHA-256 digests (a plain secret is hashed at start, a `sha256:` entry is one already) and a presented secret is
 * compared digest to digest in constant time. An unknown client id costs the same comparison, against a digest no
 * secret has, so timing does not tell which ids exist.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError, type PartnerConfig } from '../config.js';

export interface ShopClient {
  readonly id: string;
  readonly partnerId: string;
  readonly scopes: readonly string[];
}

interface Entry extends ShopClient {
  readonly digest: Buffer;
}

const SHA256_ENTRY = /^sha256:([0-9a-fA-F]{64})$/;

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

export class ShopClients {
  readonly #byId = new Map<string, Entry>();
  /** Compared against when the id is unknown: random, so no secret matches it. */
  readonly #decoy = randomBytes(32);

  constructor(partners: readonly PartnerConfig[]) {
    for (const p of partners) {
      for (const [j, c] of (p.shop?.clients ?? []).entries()) {
        const where = `partner ${p.id}: shop.clients[${j}]`;
        if (this.#byId.has(c.id)) throw new ConfigError(`${where}: client id ${c.id} is used by another entry`);
        let digest: Buffer;
        if (c.secret.startsWith('sha256:')) {
          const m = SHA256_ENTRY.exec(c.secret);
          if (!m) throw new ConfigError(`${where}: secret must be sha256:<64 hex digits>`);
          digest = Buffer.from(m[1]!, 'hex');
        } else {
          digest = sha256(c.secret);
        }
        this.#byId.set(c.id, Object.freeze({ id: c.id, partnerId: p.id, scopes: Object.freeze([...c.scopes]), digest }));
      }
    }
  }

  /** The client when `secret` is its secret; undefined otherwise (unknown id or wrong secret alike). */
  authenticate(clientId: string, secret: string): ShopClient | undefined {
    const entry = this.#byId.get(clientId);
    const ok = timingSafeEqual(sha256(secret), entry?.digest ?? this.#decoy);
    return ok && entry ? { id: entry.id, partnerId: entry.partnerId, scopes: entry.scopes } : undefined;
  }

  /** The configured client with this id (a token's `sub`), or undefined: a removed client's tokens stop working. */
  byId(clientId: string): ShopClient | undefined {
    const entry = this.#byId.get(clientId);
    return entry && { id: entry.id, partnerId: entry.partnerId, scopes: entry.scopes };
  }

  get size(): number {
    return this.#byId.size;
  }
}
