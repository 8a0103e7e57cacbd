/**
 * The webhook signature helper receivers use (`X-Basket-Signature: t=<unix s>,v1=<hex HMAC-SHA256>`): what it
 * accepts is exactly what signBody makes, in either hex case, and nothing that merely decodes to the same bytes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signBody, verifySignature } from '../../src/service/orders.js';

const SECRET = 'webhook-secret-0123456789';
const BODY = '{"event":"order.created","orderNo":"B-1"}';
const NOW = 1_796_000_000;
const header = signBody(SECRET, NOW, BODY);
const mac = header.split('v1=')[1]!;

describe('verifySignature', () => {
  it('accepts the header signBody made, and its MAC in upper case', () => {
    assert.ok(verifySignature(SECRET, header, BODY, NOW));
    assert.ok(verifySignature(SECRET, `t=${NOW},v1=${mac.toUpperCase()}`, BODY, NOW));
    assert.ok(verifySignature(SECRET, header, BODY, NOW + 300), 'within the tolerance');
  });

  it('refuses another secret, another body, an old or future timestamp', () => {
    assert.equal(verifySignature('another-secret-0123456789', header, BODY, NOW), false);
    assert.equal(verifySignature(SECRET, header, `${BODY} `, NOW), false);
    assert.equal(verifySignature(SECRET, header, BODY, NOW + 301), false);
    assert.equal(verifySignature(SECRET, header, BODY, NOW - 301), false);
  });

  it('refuses a MAC with anything appended, though its hex decodes to the same bytes', () => {
    assert.deepEqual(Buffer.from(`${mac}0`, 'hex'), Buffer.from(mac, 'hex'), 'the premise: a hex decoder drops it');
    for (const tail of ['0', 'z', 'zz', ' ', '00']) {
      assert.equal(verifySignature(SECRET, `t=${NOW},v1=${mac}${tail}`, BODY, NOW), false, JSON.stringify(tail));
    }
  });

  it('refuses a timestamp that is not plain decimal digits, and missing or short parts', () => {
    for (const t of ['1.796e9', `${NOW}.0`, ` ${NOW}`, `+${NOW}`, '0x6b0d9e00', '']) {
      assert.equal(verifySignature(SECRET, `t=${t},v1=${signBody(SECRET, Number(t), BODY).split('v1=')[1]}`, BODY, NOW), false, t);
    }
    assert.equal(verifySignature(SECRET, `v1=${mac}`, BODY, NOW), false);
    assert.equal(verifySignature(SECRET, `t=${NOW}`, BODY, NOW), false);
    assert.equal(verifySignature(SECRET, `t=${NOW},v1=${mac.slice(0, 62)}`, BODY, NOW), false);
    assert.equal(verifySignature(SECRET, '', BODY, NOW), false);
  });
});
