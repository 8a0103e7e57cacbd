/**
 * The service's public base URL, read wherever a link to this service is made (OpenAPI `servers`, QR image URLs,
 * the development partner's landing page, the start banner). PUBLIC_URL fixes it. Without it the URL is the
 * listening address, whose port is known only once the server listens when PORT=0: `bind()` then sets it.
 * Links read a field, so following the bound port costs nothing per request.
 */
import type { AddressInfo } from 'node:net';
import { localBaseUrl, type Config } from './config.js';

export class PublicUrl {
  #base: string;
  readonly #fixed: boolean;
  readonly #host: string;

  constructor(config: Pick<Config, 'publicUrl' | 'publicUrlSet' | 'host'>) {
    this.#base = config.publicUrl;
    this.#fixed = config.publicUrlSet;
    this.#host = config.host;
  }

  /** Without a trailing slash. */
  get base(): string {
    return this.#base;
  }

  /** The server listens on `address`: an unset PUBLIC_URL follows its port. */
  bind(address: AddressInfo | string | null): void {
    if (this.#fixed || address === null || typeof address === 'string') return;
    this.#base = localBaseUrl(this.#host, address.port);
  }
}
