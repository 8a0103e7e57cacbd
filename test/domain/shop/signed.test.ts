import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { decodeCursor, encodeCursor, recoveryToken, verifyRecoveryToken } from '../../../src/domain/shop/signed.js';
import { isShopRuleError } from '../../../src/domain/shop/errors.js';
import { withSpareBitsFlipped } from '../../helpers/spare-bits.js';

const key = randomBytes(32);
const otherKey = randomBytes(32);

function invalid(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => isShopRuleError(err) && err.status === 400 && /queryMore/.test(err.message));
}

describe('abandoned cursor', () => {
  it('round-trips the keyset; the payload is base64url JSON of {v, created, id}', () => {
    const at = { created: 1_790_000_000_123, id: 'basket-x' };
    const cursor = encodeCursor(key, 'demo', at);
    assert.deepEqual(decodeCursor(key, 'demo', cursor), at);
    assert.deepEqual(JSON.parse(Buffer.from(cursor.split('.')[0]!, 'base64url').toString()), { v: 1, ...at });
  });

  it('tampering, another key, another partner, garbage: 400', () => {
    const cursor = encodeCursor(key, 'demo', { created: 5, id: 'basket-x' });
    const [payload, sig] = cursor.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ v: 1, created: 4, id: 'basket-x' })).toString('base64url');
    invalid(() => decodeCursor(key, 'demo', `${forged}.${sig}`));
    invalid(() => decodeCursor(otherKey, 'demo', cursor));
    invalid(() => decodeCursor(key, 'acme', cursor));
    invalid(() => decodeCursor(key, 'demo', `${payload}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`));
    for (const bad of ['', '.', 'abc', `${payload}.`, `.${sig}`, 'x'.repeat(2000), `${payload}.${sig}.x`]) invalid(() => decodeCursor(key, 'demo', bad));
  });

  it('only the canonical MAC text: a last character differing in its spare bits alone is refused', () => {
    const cursor = encodeCursor(key, 'demo', { created: 5, id: 'basket-x' });
    const twin = withSpareBitsFlipped(cursor);
    assert.deepEqual(Buffer.from(twin.split('.')[1]!, 'base64url'), Buffer.from(cursor.split('.')[1]!, 'base64url'));
    invalid(() => decodeCursor(key, 'demo', twin));
  });

  it('property: a random string is never accepted', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        invalid(() => decodeCursor(key, 'demo', s));
      }),
    );
  });
});

describe('recovery token', () => {
  it('verifies for its partner, basket and expiry, and expires with the basket', () => {
    const token = recoveryToken(key, 'demo', 'basket-1', 10_000);
    assert.deepEqual(verifyRecoveryToken(key, 'basket-1', token, 9_999), { partnerId: 'demo', expires: 10_000 });
    assert.equal(verifyRecoveryToken(key, 'basket-1', token, 10_000), null);
    assert.equal(verifyRecoveryToken(key, 'basket-2', token, 0), null);
    assert.equal(verifyRecoveryToken(otherKey, 'basket-1', token, 0), null);
  });

  it('a changed partner or expiry is refused', () => {
    const [, exp, sig] = recoveryToken(key, 'demo', 'basket-1', 10_000).split('.') as [string, string, string];
    const acme = Buffer.from('acme').toString('base64url');
    assert.equal(verifyRecoveryToken(key, 'basket-1', `${acme}.${exp}.${sig}`, 0), null);
    const demo = Buffer.from('demo').toString('base64url');
    assert.equal(verifyRecoveryToken(key, 'basket-1', `${demo}.${(20_000).toString(36)}.${sig}`, 0), null);
    const token = recoveryToken(key, 'demo', 'basket-1', 10_000);
    assert.equal(verifyRecoveryToken(key, 'basket-1', withSpareBitsFlipped(token), 0), null);
    for (const bad of ['', 'a.b.c', `${demo}.${exp}`, `${demo}.${exp}.${sig}x`, `${demo}.0${exp}.${sig}`]) assert.equal(verifyRecoveryToken(key, 'basket-1', bad, 0), null, bad);
  });
});
