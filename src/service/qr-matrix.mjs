// @ts-check
/**
 * A QR code's module matrix, the same as `qrcode`'s QRCode.create(text, {errorCorrectionLevel: 'M'}) gives, in a
 * fifth of the time. qrcode spends ~85 % of a code on choosing the data mask (ISO/IEC 18004 §7.8.3: each of the
 * eight masks is applied and scored, the lowest penalty wins), through a BitMatrix method call per module and
 * step. Here qrcode builds the symbol once with mask 0; the unmasked data is recovered from it, and the eight
 * masks are scored on typed arrays with qrcode's own rules (its N1–N4 penalties, its format-information
 * placement, its tie-break: the first lowest). A test compares the result with qrcode's for many texts.
 *
 * Plain JavaScript (type-checked through JSDoc) because it runs in the QR thread, which has no TypeScript loader.
 */
import QRCode from 'qrcode';

/** The format information's BCH(15,5) generator and XOR mask (ISO/IEC 18004 §7.9.1), as qrcode's format-info.js. */
const G15 = 0b10100110111;
const G15_MASK = 0b101010000010010;

/** @param {number} n */
const bitLength = (n) => 32 - Math.clz32(n);

/**
 * @param {number} eclBit the error correction level's two format bits (M = 0)
 * @param {number} mask
 */
function formatBits(eclBit, mask) {
  const data = (eclBit << 3) | mask;
  let d = data << 10;
  while (bitLength(d) >= bitLength(G15)) d ^= G15 << (bitLength(d) - bitLength(G15));
  return ((data << 10) | d) ^ G15_MASK;
}

/**
 * Where qrcode's setupFormatInfo puts format bit i (two places each), as [row, col] pairs, and the fixed dark
 * module.
 * @param {number} size
 * @returns {{ at: number[][]; dark: number }}
 */
function formatPlaces(size) {
  /** @type {number[][]} */
  const at = [];
  for (let i = 0; i < 15; i++) {
    const vertical = i < 6 ? i * size + 8 : i < 8 ? (i + 1) * size + 8 : (size - 15 + i) * size + 8;
    const horizontal = i < 8 ? 8 * size + (size - i - 1) : i < 9 ? 8 * size + (15 - i) : 8 * size + (15 - i - 1);
    at.push([vertical, horizontal]);
  }
  return { at, dark: (size - 8) * size + 8 };
}

/**
 * The eight data masks of a symbol size, 1 where the mask flips a module (qrcode's getMaskAt, i = row, j = col).
 * @type {Map<number, Uint8Array[]>}
 */
const maskCache = new Map();

/** @param {number} size */
function masksFor(size) {
  let masks = maskCache.get(size);
  if (masks === undefined) {
    masks = [];
    for (let p = 0; p < 8; p++) {
      const m = new Uint8Array(size * size);
      for (let i = 0; i < size; i++) {
        for (let j = 0; j < size; j++) {
          const ij = i * j;
          const flip = [
            (i + j) % 2 === 0,
            i % 2 === 0,
            j % 3 === 0,
            (i + j) % 3 === 0,
            (Math.floor(i / 2) + Math.floor(j / 3)) % 2 === 0,
            (ij % 2) + (ij % 3) === 0,
            ((ij % 2) + (ij % 3)) % 2 === 0,
            ((ij % 3) + ((i + j) % 2)) % 2 === 0,
          ][p];
          m[i * size + j] = flip ? 1 : 0;
        }
      }
      masks.push(m);
    }
    maskCache.set(size, masks);
  }
  return masks;
}

/**
 * qrcode's getPenaltyN1 + N2 + N3 + N4 (mask-pattern.js), the same rules on a flat array, without a branch on
 * each module's colour (a data area is close to random, so such a branch is mispredicted half the time).
 * @param {Uint8Array} d
 * @param {number} size
 */
function penalty(d, size) {
  let points = 0;
  // N1: a run of five or more same-coloured modules in a row or column scores 3 + (run - 5): 3 when it reaches
  // five, then 1 per module more. N3: 1:1:3:1:1 finder-like patterns with four light modules on one side: 40 each.
  for (let pass = 0; pass < 2; pass++) {
    // pass 0 walks the rows, pass 1 the columns
    const step = pass === 0 ? 1 : size;
    const lineStep = pass === 0 ? size : 1;
    for (let line = 0; line < size; line++) {
      let at = line * lineStep;
      let last = 1 - /** @type {number} */ (d[at]);
      let run = 0;
      let bits = 0;
      for (let k = 0; k < size; k++, at += step) {
        const m = /** @type {number} */ (d[at]);
        run = run * (m ^ last ^ 1) + 1;
        last = m;
        if (run >= 5) points += run === 5 ? 3 : 1;
        bits = ((bits << 1) & 0x7ff) | m;
        if ((bits === 0x5d0 || bits === 0x05d) && k >= 10) points += 40;
      }
    }
  }
  // N2: 2×2 blocks of one colour: 3 each
  let blocks = 0;
  for (let r = 0; r < size - 1; r++) {
    let at = r * size;
    let left = /** @type {number} */ (d[at]) + /** @type {number} */ (d[at + size]);
    for (let c = 1; c < size; c++) {
      at++;
      const right = /** @type {number} */ (d[at]) + /** @type {number} */ (d[at + size]);
      const sum = left + right;
      blocks += (sum === 0 || sum === 4) ? 1 : 0;
      left = right;
    }
  }
  points += blocks * 3;
  // N4: the dark share's distance from 50 %, in steps of 5 %: 10 each
  let dark = 0;
  for (let i = 0; i < d.length; i++) dark += /** @type {number} */ (d[i]);
  points += Math.abs(Math.ceil((dark * 100) / d.length / 5) - 10) * 10;
  return points;
}

/**
 * @typedef {object} QrMatrix
 * @property {number} size Modules per side.
 * @property {Uint8Array} data Row-major, 1 = dark.
 * @property {number} maskPattern
 */

/**
 * The module matrix of a QR code for `text`, error correction M, with the mask qrcode would choose.
 * @param {string} text
 * @returns {QrMatrix}
 */
export function qrMatrix(text) {
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M', maskPattern: 0 });
  const { size, data, reservedBit } = /** @type {{ size: number; data: Uint8Array; reservedBit: Uint8Array }} */ (
    /** @type {unknown} */ (qr.modules)
  );
  const masks = masksFor(size);
  const mask0 = /** @type {Uint8Array} */ (masks[0]);
  // the data modules without a mask (function patterns, format and version information are reserved: unmasked)
  const plain = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) plain[i] = reservedBit[i] ? (data[i] ?? 0) : (data[i] ?? 0) ^ (mask0[i] ?? 0);
  const { at, dark } = formatPlaces(size);
  const eclBit = /** @type {{ bit: number }} */ (/** @type {unknown} */ (qr.errorCorrectionLevel)).bit;
  /** @param {number} p */
  const masked = (p) => {
    const mask = /** @type {Uint8Array} */ (masks[p]);
    const out = new Uint8Array(plain.length);
    for (let i = 0; i < plain.length; i++) out[i] = reservedBit[i] ? (plain[i] ?? 0) : (plain[i] ?? 0) ^ (mask[i] ?? 0);
    const bits = formatBits(eclBit, p);
    for (let i = 0; i < 15; i++) {
      const bit = (bits >> i) & 1;
      const [vertical = 0, horizontal = 0] = at[i] ?? [];
      out[vertical] = bit;
      out[horizontal] = bit;
    }
    out[dark] = 1;
    return out;
  };
  let best = 0;
  let bestData = masked(0);
  let lowest = penalty(bestData, size);
  for (let p = 1; p < 8; p++) {
    const candidate = masked(p);
    const points = penalty(candidate, size);
    if (points < lowest) {
      lowest = points;
      best = p;
      bestData = candidate;
    }
  }
  return { size, data: bestData, maskPattern: best };
}
