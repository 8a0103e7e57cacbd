/**
 * A service this one depends on for an answer (the reCAPTCHA verifier, and any other HTTP upstream) failed or could
 * not be reached: the shop surface answers 502 (shop-api.md §1). The message names the upstream, never a secret.
 */
export class UpstreamError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}
