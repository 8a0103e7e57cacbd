#!/usr/bin/env node
// Prints a new private signing key for guest tokens, as one line of JSON (a JWK with kid, alg and use), to go into
// the `keys` of SERVICE_KEYS or DATA_DIR/service-keys.json. Rotation steps: docs/deploy.md, "Service keys".
//   node scripts/service-key.mjs                    an ES256 key whose kid is the date (basket-2026-12-07)
//   node scripts/service-key.mjs --kid k2 --eddsa   an EdDSA (Ed25519) key named k2
// Plain JavaScript without dependencies: it runs in a pruned install and in the container image.
import { generateKeyPairSync } from 'node:crypto';

const args = process.argv.slice(2);
const at = args.indexOf('--kid');
const kid = at >= 0 ? args[at + 1] : `basket-${new Date().toISOString().slice(0, 10)}`;
if (!kid || kid.startsWith('--')) {
  console.error('service-key: --kid needs a name');
  process.exit(1);
}
const unknown = args.filter((a, i) => !['--kid', '--eddsa'].includes(a) && !(at >= 0 && i === at + 1));
if (unknown.length > 0) {
  console.error(`service-key: unknown argument ${unknown[0]} (use --kid NAME, --eddsa)`);
  process.exit(1);
}
const eddsa = args.includes('--eddsa');
const { privateKey } = eddsa ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
console.log(JSON.stringify({ kid, alg: eddsa ? 'EdDSA' : 'ES256', use: 'sig', ...privateKey.export({ format: 'jwk' }) }));
