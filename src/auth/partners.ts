/**
 * Partner lookup by API key and id. Keys are held only as SHA-256 digests, so plain and `sha256:` entries share one
 * map and a lookup compares digests, not secrets. Key material is validated here, once, so a broken partner
 * entry stops the boot (ConfigError) rather than failing every request.
 */
import { createHash } from 'node:crypto';
import { ConfigError, type PartnerConfig } from '../config.js';
import { partnerKeyInfo } from './partner-keys.js';

const SHA256_ENTRY = /^sha256:([0-9a-fA-F]{64})$/;

const sha256Hex = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');

export class PartnerRegistry {
  readonly #list: readonly PartnerConfig[];
  readonly #byId = new Map<string, PartnerConfig>();
  readonly #byKeyHash = new Map<string, PartnerConfig>();
  /** Keys already seen to be valid, so the hot path hashes each key once; unknown keys are never kept. */
  readonly #knownKeys = new Map<string, PartnerConfig>();

  constructor(partners: readonly PartnerConfig[]) {
    this.#list = Object.freeze([...partners]);
    for (const [i, p] of partners.entries()) {
      const where = `partners[${i}] (${p.id})`;
      if (this.#byId.has(p.id)) throw new ConfigError(`${where}: duplicate partner id`);
      this.#byId.set(p.id, p);
      for (const [k, key] of p.apiKeys.entries()) {
        let digest: string;
        if (key.startsWith('sha256:')) {
          const m = SHA256_ENTRY.exec(key);
          if (!m) throw new ConfigError(`${where}: apiKeys[${k}] must be sha256:<64 hex digits>`);
          digest = m[1]!.toLowerCase();
        } else {
          digest = sha256Hex(key);
        }
        // Catches a key listed plain for one partner and hashed for another, which parsePartners cannot see.
        if (this.#byKeyHash.has(digest)) throw new ConfigError(`${where}: apiKeys[${k}] is already used by another entry`);
        this.#byKeyHash.set(digest, p);
      }
      try {
        partnerKeyInfo(p.jwt);
      } catch (err) {
        throw new ConfigError(`${where}: jwt is invalid: ${(err as Error).message}`);
      }
    }
  }

  /** The partner owning `apiKey`, or undefined (the caller throws API_KEY_INVALID). Never logs the key. */
  byApiKey(apiKey: string | undefined): PartnerConfig | undefined {
    if (apiKey === undefined || apiKey === '') return undefined;
    const known = this.#knownKeys.get(apiKey);
    if (known) return known;
    const partner = this.#byKeyHash.get(sha256Hex(apiKey));
    // bounded by the number of configured keys: only keys that matched one are remembered
    if (partner) this.#knownKeys.set(apiKey, partner);
    return partner;
  }

  byId(id: string): PartnerConfig | undefined {
    return this.#byId.get(id);
  }

  all(): readonly PartnerConfig[] {
    return this.#list;
  }
}
