import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isCurrency, minorDigits, toMajor, toMinor } from '../../src/domain/money.js';

describe('money', () => {
  it('knows the minor digits of currencies', () => {
    assert.equal(minorDigits('EUR'), 2);
    assert.equal(minorDigits('JPY'), 0);
    assert.equal(minorDigits('KWD'), 3);
    assert.ok(isCurrency('EUR'));
    assert.ok(!isCurrency('eur'));
    assert.ok(!isCurrency('EURO'));
    assert.ok(!isCurrency('XYZ'));
  });

  it('converts both ways', () => {
    assert.equal(toMajor(5998, 'EUR'), 59.98);
    assert.equal(toMajor(5998, 'JPY'), 5998);
    assert.equal(toMinor(19.99, 'EUR'), 1999);
    assert.equal(toMinor(0.1 + 0.2, 'EUR'), 30);
    assert.equal(toMinor(19.999, 'EUR'), null);
    assert.equal(toMinor(12.5, 'JPY'), null);
    assert.equal(toMinor(Number.NaN, 'EUR'), null);
  });

  it('round-trips every amount exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000_000 }), fc.constantFrom('EUR', 'JPY', 'KWD', 'USD'), (minor, cur) => {
        assert.equal(toMinor(toMajor(minor, cur), cur), minor);
      }),
    );
  });
});
