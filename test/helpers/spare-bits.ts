const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The same text with its last character's lowest bit flipped. For a MAC whose bit length is not a multiple of 6
 * (16 or 32 bytes) those are spare bits a base64url decoder drops: a non-canonical twin of the same bytes.
 */
export function withSpareBitsFlipped(text: string): string {
  const last = BASE64URL.indexOf(text.at(-1)!);
  if (last === -1) throw new Error(`not base64url: ${text}`);
  return `${text.slice(0, -1)}${BASE64URL[last ^ 1]}`;
}

/** The same text with its first MAC character changed: a different MAC (not only spare bits). */
export function withMacChanged(text: string): string {
  const dot = text.lastIndexOf('.');
  const c = text[dot + 1];
  return `${text.slice(0, dot + 1)}${c === 'A' ? 'B' : 'A'}${text.slice(dot + 2)}`;
}
