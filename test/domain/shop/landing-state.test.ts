import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeLandingState, encodeLandingState, landingStateCookie, landingStateOf } from '../../../src/domain/shop/landing-state.js';

const ID = 'basket-0b7f8c1e-4a4e-4c43-9c55-0a1b2c3d4e5f';

describe('landing-state cookie', () => {
  it('is written as URL-encoded JSON with the spec attributes and the remaining lifetime', () => {
    assert.equal(encodeLandingState(ID), encodeURIComponent(`{"basketId":"${ID}"}`));
    assert.equal(
      landingStateCookie(ID, 90_500),
      `limio_state=${encodeURIComponent(`{"basketId":"${ID}"}`)}; Path=/; Max-Age=90; HttpOnly; Secure; SameSite=None`,
    );
    assert.match(landingStateCookie(ID, -5), /Max-Age=0;/);
  });

  it('reads what it writes, a bare id, base64 and base64url JSON, quoted values', () => {
    const json = `{"basketId":"${ID}"}`;
    for (const value of [
      encodeLandingState(ID),
      json,
      ID,
      Buffer.from(json).toString('base64'),
      Buffer.from(json).toString('base64url'),
      `"${encodeLandingState(ID)}"`,
      encodeURIComponent(ID),
    ]) {
      assert.equal(decodeLandingState(value), ID, value);
    }
    assert.equal(decodeLandingState('basket-a1b2c3d4e5f6'), 'basket-a1b2c3d4e5f6');
  });

  it('anything else is no landing state', () => {
    for (const value of ['', 'x', '%', '%E0%A4%A', '{"basketId":1}', '{"basketId":"nope"}', '[]', 'null', 'bm90IGpzb24=', 'basket-', `basket-${'a'.repeat(200)}`, '{"basketId":"basket-a b"}', 'a'.repeat(5000)]) {
      assert.equal(decodeLandingState(value), null, value);
    }
  });

  it('finds the cookie among others; the first that names a basket wins', () => {
    assert.equal(landingStateOf(`a=b; limio_state=${encodeLandingState(ID)}; c=d`), ID);
    assert.equal(landingStateOf(`limio_state=garbage; limio_state=${ID}`), ID);
    assert.equal(landingStateOf('other=1'), null);
    assert.equal(landingStateOf(undefined), null);
    assert.equal(landingStateOf(['x=1', `limio_state=${ID}`]), ID);
  });

  it('property: never throws, and any id it returns is a basket id', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.base64String(), fc.json()), (header) => {
        const id = landingStateOf(`limio_state=${header}`);
        assert.ok(id === null || /^basket-[A-Za-z0-9_-]+$/.test(id));
      }),
    );
  });
});
