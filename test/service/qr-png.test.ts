import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import jsqr from 'jsqr';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
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

  it("draws exactly qrcode's modules: every pixel of a module dark or light as the module, the margin light", () => {
    for (const [text, scale, margin] of [
      ['https://shop.example.com/basket?jaySource=demo&jayToken=' + 'Q'.repeat(43), 6, 2],
      ['http://a.b/', 3, 1],
      [`https://x.example/${'long'.repeat(60)}`, 1, 0],
    ] as const) {
      const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
      const img = PNG.sync.read(qrPng(text, { scale, margin }));
      const side = (modules.size + 2 * margin) * scale;
      assert.equal(img.width, side);
      let mismatched = 0;
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          const [my, mx] = [Math.floor(y / scale) - margin, Math.floor(x / scale) - margin];
          const dark = my >= 0 && mx >= 0 && my < modules.size && mx < modules.size && modules.get(my, mx) === 1;
          // pngjs expands grayscale to RGBA
          if ((img.data[(y * side + x) * 4] === 0) !== dark) mismatched++;
        }
      }
      assert.equal(mismatched, 0, `${mismatched} pixels differ for ${text.slice(0, 40)}`);
    }
  });

  it('is a 1-bit PNG sized by scale and margin', () => {
    const small = decode(qrPng('http://a.b/', { scale: 1, margin: 0 }));
    assert.equal(small.depth, 1);
    assert.equal(small.width, 21, 'version 1 is 21 modules');
    assert.equal(decode(qrPng('http://a.b/', { scale: 4, margin: 2 })).width, (21 + 4) * 4);
  });
});
