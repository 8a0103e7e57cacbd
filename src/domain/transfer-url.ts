/**
 * Transfer URLs (spec §3.8): which URLs a basket may be transferred to, and how `jaySource` and `jayToken` are
 * added. Pure functions over strings (WHATWG URL only): no I/O, no clock, no framework.
 *
 * Every check runs on the URL as parsed, and the URL returned is serialized from that same parse, so whatever
 * the parser does to odd input (tabs, backslashes, `@` tricks) is what is judged and what is handed out.
 */
import { BasketError } from './errors.js';

/** Longest extended URL handed out: fits a QR code at error correction level M (2331 bytes) with room to spare. */
export const MAX_TRANSFER_URL_LENGTH = 2048;

export const TRANSFER_PARAMS = ['jaySource', 'jayToken'] as const;

export interface TransferUrlPolicy {
  /** Exact hosts (`shop.example.com`, optionally `host:port`) or wildcards (`*.example.com`: any subdomain, not the apex). Empty or absent: any host. */
  hosts?: readonly string[] | undefined;
}

/** 422 `2018`; `details` stays the symbolic name, as on every other error; the message says why. */
function invalid(message: string): BasketError {
  return new BasketError('TRANSFER_URL_INVALID', message);
}

/** C0 controls, DEL and whitespace other than a plain space: the URL parser would silently strip or re-encode them. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The host part of an allow-list entry as the URL parser would normalize it (lower case, punycode); null when unusable. */
export function normalizeHostPattern(entry: string): string | null {
  try {
    const u = new URL(`http://${entry}/`);
    if (u.username !== '' || u.password !== '' || u.pathname !== '/' || u.search !== '' || u.hash !== '') return null;
    return u.host;
  } catch {
    return null;
  }
}

/** Whether `url`'s host is on the allow-list (exact host, host:port, or `*.suffix` for any subdomain of suffix). */
export function hostAllowed(url: URL, hosts: readonly string[] | undefined): boolean {
  if (!hosts || hosts.length === 0) return true;
  const hostname = url.hostname;
  for (const entry of hosts) {
    const raw = entry.trim();
    if (raw.startsWith('*.')) {
      const suffix = normalizeHostPattern(raw.slice(2));
      if (suffix === null || suffix.includes(':')) continue;
      if (hostname.length > suffix.length + 1 && hostname.endsWith(`.${suffix}`)) return true;
      continue;
    }
    const exact = normalizeHostPattern(raw);
    if (exact === null) continue;
    // an entry with a port names that port only; without one, any port of the host
    if (exact === url.host || exact === hostname) return true;
  }
  return false;
}

/**
 * Parses and checks a URL a transfer may point to: absolute http(s), no credentials, no control characters,
 * host on the allow-list (unless `trusted`: the partner's own configured landing URL). Throws 422 `2018`.
 */
export function parseTransferUrl(input: string, policy: TransferUrlPolicy, trusted = false): URL {
  if (input.trim() === '') throw invalid('The transfer URL is empty');
  if (CONTROL.test(input)) throw invalid('The transfer URL contains control characters');
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw invalid('The transfer URL is not an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid('Only http and https URLs can be used for a transfer');
  if (url.username !== '' || url.password !== '') throw invalid('The transfer URL must not contain credentials');
  if (url.hostname === '') throw invalid('The transfer URL has no host');
  if (!trusted && !hostAllowed(url, policy.hosts)) throw invalid(`The host ${url.hostname} is not allowed for transfers`);
  return url;
}

/** Decodes a query-string name the way URLSearchParams does (`+` is a space); undecodable names stay as they are. */
function decodeName(raw: string): string {
  const plus = raw.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
}

/**
 * `url` with `jaySource` appended and without any `jayToken`: the existing query keeps its exact encoding and
 * order, only earlier `jaySource`/`jayToken` parameters are dropped (a URL carries one token: ours); the fragment
 * stays. This is the form that is stored: it does not contain the token.
 */
export function transferUrlWithoutToken(url: URL, jaySource: string): string {
  const out = new URL(url.href);
  const kept = out.search
    .replace(/^\?/, '')
    .split('&')
    .filter((pair) => pair !== '' && !(TRANSFER_PARAMS as readonly string[]).includes(decodeName(pair.split('=', 1)[0]!)));
  kept.push(`jaySource=${encodeURIComponent(jaySource)}`);
  out.search = `?${kept.join('&')}`;
  return out.href;
}

/** Appends `jayToken` as the last query parameter of a URL made by transferUrlWithoutToken. */
export function withTransferToken(urlWithoutToken: string, jayToken: string): string {
  const out = new URL(urlWithoutToken);
  out.search = `${out.search}&jayToken=${encodeURIComponent(jayToken)}`;
  return out.href;
}

/** `url` with `jaySource` and `jayToken` appended (see transferUrlWithoutToken); 422 `2018` when too long. */
export function extendTransferUrl(url: URL, params: { jaySource: string; jayToken: string }): string {
  const href = withTransferToken(transferUrlWithoutToken(url, params.jaySource), params.jayToken);
  if (href.length > MAX_TRANSFER_URL_LENGTH) {
    throw invalid(`The extended transfer URL is longer than ${MAX_TRANSFER_URL_LENGTH} characters`);
  }
  return href;
}

/** parseTransferUrl, then extendTransferUrl. */
export function buildTransferUrl(input: string, policy: TransferUrlPolicy, params: { jaySource: string; jayToken: string }, trusted = false): string {
  return extendTransferUrl(parseTransferUrl(input, policy, trusted), params);
}
