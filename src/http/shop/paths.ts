/**
 * Which requests belong to the shop surface (shop-api.md): the token endpoint and everything under `/api/`. The
 * device app's global hooks (version negotiation, CORS, not-found, the error handler of unmatched routes) ask this to
 * answer shop requests in the shop's own format. No device route lives under these paths.
 */
export const SHOP_TOKEN_PATH = '/oauth2/token';
export const SHOP_API_PREFIX = '/api';

/** `url` as the request line has it (path and query). */
export function isShopPath(url: string): boolean {
  if (url.startsWith('/api')) return url.length === 4 || url[4] === '/' || url[4] === '?';
  return url.startsWith(SHOP_TOKEN_PATH) && (url.length === SHOP_TOKEN_PATH.length || url[SHOP_TOKEN_PATH.length] === '?');
}
