import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { macTextMatches } from '../../src/domain/mac-text.js';
import { withSpareBitsFlipped } from '../helpers/spare-bits.js';

describe('macTextMatches', () => {
  it('takes the MAC’s own base64url text only: not its spare-bits twin, another MAC, a longer or shorter text', () => {
    for (const bytes of [16, 32]) {
      const mac = randomBytes(bytes);
      const text = mac.toString('base64url');
      assert.equal(macTextMatches(mac, text), true);
      const twin = withSpareBitsFlipped(text);
      assert.deepEqual(Buffer.from(twin, 'base64url'), mac, 'the twin decodes to the same bytes');
      assert.equal(macTextMatches(mac, twin), false);
      for (const bad of [`${text}A`, text.slice(0, -1), `${text.slice(0, -1)}é`, '', randomBytes(bytes).toString('base64url')]) {
        assert.equal(macTextMatches(mac, bad), false, bad);
      }
    }
  });

  it('in hex, takes the MAC’s own lower-case text only: nothing appended that a hex decoder would drop', () => {
    const mac = randomBytes(32);
    mac[31] = 0xab; // a letter in the text, so that its upper case differs
    const text = mac.toString('hex');
    assert.equal(macTextMatches(mac, text, 'hex'), true);
    assert.deepEqual(Buffer.from(`${text}z`, 'hex'), mac, 'the decoder drops the tail');
    for (const bad of [`${text}z`, `${text}0`, text.slice(0, -1), text.toUpperCase(), '']) {
      assert.equal(macTextMatches(mac, bad, 'hex'), false, bad);
    }
    assert.equal(macTextMatches(mac, text), false, 'hex text is not the base64url text');
  });
});
