import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import jsqr from 'jsqr';
import { PNG } from 'pngjs';
import { qrPng } from '../../src/service/qr-png.mjs';

// jsqr is CommonJS whose typings declare an ES default export: take the function whichever way it arrives.
const jsQR = ((jsqr as unknown as { default?: typeof jsqr.default }).default ?? jsqr) as typeof jsqr.default;

function decode(png: Buffer): { text: string | undefined; width: number; height: number; depth: number } {
  const img = PNG.sync.read(png);
  const meta = new PNG();
  let depth = 0;
  meta.on('metadata', (m: { depth: number }) => (depth = m.depth));
  meta.parse(png);
  return { text: jsQR(new Uint8ClampedArray(img.data), img.width, img.height)?.data, width: img.width, height: img.height, depth };
}

describe('qrPng', () => {
  it('encodes URLs of every size we hand out so that a reader gets them back exactly', () => {
    const urls = [
      'http://a.b/?jayToken=x',
      'https://shop.acme.example/basket?campaign=tv&x=%C3%A4%20b#frag&jaySource=acme-tv&jayToken=' + 'A'.repeat(43),
      `https://shop.example.com/${encodeURIComponent('größe-42 👢')}?jaySource=demo&jayToken=${'Z'.repeat(43)}`,
      `https://x.example/${'p'.repeat(2000)}`,
    ];
    for (const url of urls) {
      const png = qrPng(url);
      const { text, width, height } = decode(png);
      assert.equal(text, url, url.slice(0, 60));
      assert.equal(width, height);
    }
  });

  it('is a 1-bit PNG sized by scale and margin', () => {
    const small = decode(qrPng('http://a.b/', { scale: 1, margin: 0 }));
    assert.equal(small.depth, 1);
    assert.equal(small.width, 21, 'version 1 is 21 modules');
    assert.equal(decode(qrPng('http://a.b/', { scale: 4, margin: 2 })).width, (21 + 4) * 4);
  });
});
