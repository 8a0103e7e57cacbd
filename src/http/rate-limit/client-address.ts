/**
 * The key a client address is counted under. IPv4 as it is (an IPv4-mapped IPv6 address as its IPv4 form); IPv6
 * by its /64 prefix, since one host usually holds a whole /64 and could otherwise step through 2^64 addresses to
 * escape a per-address limit.
 */

/** `request.ip` → the key of its per-address limits. */
export function addressKey(ip: string | undefined): string {
  if (ip === undefined || ip === '') return 'unknown';
  if (!ip.includes(':')) return ip;
  const lower = ip.toLowerCase();
  if (lower.startsWith('::ffff:') && lower.includes('.')) return lower.slice(7);
  return `${ipv6Prefix64(lower)}::/64`;
}

/** The first four groups of an IPv6 address (zone id dropped, `::` expanded, leading zeros removed). */
function ipv6Prefix64(ip: string): string {
  const zone = ip.indexOf('%');
  const bare = zone === -1 ? ip : ip.slice(0, zone);
  const [head = '', tail] = bare.split('::', 2);
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // an embedded IPv4 tail (::1.2.3.4) fills two groups; only the first four groups matter here
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return groups
    .slice(0, 4)
    .map((g) => (g.includes('.') ? g : g.replace(/^0+(?=.)/, '')))
    .join(':');
}
