/** qrMatrix must give exactly qrcode's module matrix, mask choice included, only faster. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import QRCode from 'qrcode';
import { qrMatrix } from '../../src/service/qr-matrix.mjs';

/** A deterministic generator, so a failure names a text that can be replayed. */
function* texts(count: number): Generator<string> {
  let seed = 0x9e3779b9;
  const next = (n: number): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed % n;
  };
  // code points, not UTF-16 units: a lone surrogate is not text (qrcode refuses it)
  const alphabets = ['0123456789', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 $%*+-./:', 'abcdefghijklmnopqrstuvwxyz-_.~?=&/', 'äöüß€👢日本語'].map((a) => Array.from(a));
  for (let i = 0; i < count; i++) {
    // lengths across versions 1 to ~25; mixed alphabets make qrcode split the text into several segments
    const length = 1 + next(i % 10 === 0 ? 900 : 160);
    let text = i % 4 === 0 ? `https://shop.example.com/basket?jaySource=demo&jayToken=` : '';
    while (text.length < length) {
      const alphabet = alphabets[next(alphabets.length)]!;
      const run = 1 + next(20);
      for (let k = 0; k < run; k++) text += alphabet[next(alphabet.length)];
    }
    yield text;
  }
}

describe('qrMatrix', () => {
  it("gives qrcode's modules and mask for every text", () => {
    const masks = new Set<number>();
    const sizes = new Set<number>();
    let compared = 0;
    for (const text of texts(400)) {
      const want = QRCode.create(text, { errorCorrectionLevel: 'M' });
      const got = qrMatrix(text);
      assert.equal(got.size, want.modules.size, text);
      assert.equal(got.maskPattern, want.maskPattern, text);
      assert.ok(Buffer.from(got.data).equals(Buffer.from(want.modules.data)), `modules differ for ${JSON.stringify(text)}`);
      masks.add(want.maskPattern as number);
      sizes.add(got.size);
      compared++;
    }
    assert.equal(compared, 400);
    assert.equal(masks.size, 8, 'every mask was the best for some text');
    assert.ok(sizes.size >= 15, `${sizes.size} symbol sizes, versions 7+ (with version information) among them`);
    assert.ok([...sizes].some((s) => s >= 45));
  });
});
