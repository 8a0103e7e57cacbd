// @ts-check
/**
 * QR code as a 1-bit grayscale PNG. `qrcode` builds the module matrix (qr-matrix.mjs chooses its mask faster than
 * qrcode itself); the PNG is framed here and compressed by
 * Node's native zlib. qrcode's own PNG path paints 32-bit pixels and compresses them in JavaScript (~9 ms per
 * code, blocking every other request meanwhile); a black-and-white image needs one bit per pixel.
 *
 * Plain JavaScript (type-checked through JSDoc) because it also runs in the QR thread (qr-thread.ts), which starts
 * without a TypeScript loader.
 */
import { crc32, deflateSync } from 'node:zlib';
import { qrMatrix } from './qr-matrix.mjs';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * @param {string} type
 * @param {Buffer} data
 * @returns {Buffer}
 */
function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * @typedef {object} QrPngOptions
 * @property {number} scale Pixels per module.
 * @property {number} margin Quiet zone around the code, in modules.
 */

/**
 * PNG of a QR code for `text` (error correction M).
 * @param {string} text
 * @param {QrPngOptions} [options]
 * @returns {Buffer}
 */
export function qrPng(text, { scale, margin } = { scale: 6, margin: 2 }) {
  const { size: modules, data } = qrMatrix(text);
  const size = (modules + 2 * margin) * scale;
  // each scanline: filter byte 0, then 1 bit per pixel, 1 = white (grayscale, bit depth 1), padded with 0 bits
  const line = Math.ceil(size / 8) + 1;
  const white = Buffer.alloc(line, 0xff);
  white[0] = 0;
  if (size % 8 !== 0) white[line - 1] = (0xff << (8 - (size % 8))) & 0xff;
  const raw = Buffer.allocUnsafe(line * size);
  for (let y = 0; y < size; y++) white.copy(raw, y * line);
  // a module row is drawn once, dark modules cleared, then copied to its other `scale - 1` scanlines
  for (let my = 0; my < modules; my++) {
    const first = (my + margin) * scale * line;
    for (let mx = 0; mx < modules; mx++) {
      if (data[my * modules + mx] !== 1) continue;
      const x0 = (mx + margin) * scale;
      for (let x = x0; x < x0 + scale; x++) {
        const at = first + 1 + (x >> 3);
        raw[at] = /** @type {number} */ (raw[at]) & ~(0x80 >> (x & 7));
      }
    }
    for (let k = 1; k < scale; k++) raw.copy(raw, first + k * line, first, first + line);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // grayscale
  // compression, filter and interlace methods: 0
  // zlib's fastest level: ~25 µs against ~90 at the default, for ~750 bytes instead of ~580 (a typical code)
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 1 })), chunk('IEND', Buffer.alloc(0))]);
}
