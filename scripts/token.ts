/**
 * Mints a partner JWT for development: `npm run -s token -- --user u1 [--partner demo] [--ttl 1h]`.
 * Works for partners verified with a shared secret (the development partner is one); prints only the token.
 */
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { parseDuration } from '../src/config.js';
import { configOrFail, failer } from './cli.js';

const fail: (message: string) => never = failer('token');

const { values } = parseArgs({
  options: { user: { type: 'string' }, partner: { type: 'string' }, ttl: { type: 'string', default: '1h' } },
});
if (!values.user) fail('give the user id: npm run -s token -- --user u1');

const config = configOrFail(fail);
const partnerId = values.partner ?? (config.partners.length === 1 ? config.partners[0]!.id : 'demo');
const partner = config.partners.find((p) => p.id === partnerId);
if (!partner) fail(`no partner ${partnerId} (configured: ${config.partners.map((p) => p.id).join(', ')})`);
if (!partner.jwt.secret) fail(`partner ${partnerId} verifies tokens with a public key; mint them with the partner's private key`);
const ttlMs = parseDuration(values.ttl ?? '1h');
if (ttlMs === null || ttlMs <= 0) fail(`--ttl ${values.ttl} is not a duration like 15m, 1h or 7d`);

const alg = partner.jwt.algorithms?.[0] ?? 'HS256';
let jwt = new SignJWT({})
  .setProtectedHeader({ alg, typ: 'JWT' })
  .setSubject(values.user)
  .setIssuedAt()
  .setExpirationTime(Math.floor((Date.now() + ttlMs) / 1000));
if (partner.jwt.issuer) jwt = jwt.setIssuer(partner.jwt.issuer);
if (partner.jwt.audience) jwt = jwt.setAudience(partner.jwt.audience);
console.log(await jwt.sign(new TextEncoder().encode(partner.jwt.secret)));
