// Incremental CRC-32 on top of E.CRC32, which has no seed argument (espruino-platform.md §5.1).
// For a running CRC c, six prefix bytes p(c) put the CRC register where the earlier data left it,
// so natives.crc32(p(c) ‖ chunk) == CRC-32(earlier data ‖ chunk): one native pass per chunk and a
// 32-step loop per chunk, never a loop per byte. Six bytes, not four, so that the prefix is whole
// base64 quanta (8 letters) and can be decoded together with a chunk's payload.

/** Columns of the inverse of "run the CRC register over 4 zero bytes" (a 32x32 GF(2) matrix). */
var INV = [0xdb710641, 0x6d930ac3, 0xdb261586, 0x6d3d2d4d, 0xda7a5a9a, 0x6f85b375, 0xdf0b66ea, 0x6567cb95,
  0xcacf972a, 0x4eee2815, 0x9ddc502a, 0xe0c9a615, 0x1ae24a6b, 0x35c494d6, 0x6b8929ac, 0xd7125358,
  0x7555a0f1, 0xeaab41e2, 0x0e278585, 0x1c4f0b0a, 0x389e1614, 0x713c2c28, 0xe2785850, 0x1f81b6e1,
  0x3f036dc2, 0x7e06db84, 0xfc0db708, 0x236a6851, 0x46d4d0a2, 0x8da9a144, 0xc02244c9, 0x5b358fd3];

/** The CRC register after the prefix's two leading zero bytes. */
var AFTER_ZEROS = 0xbe26ed00;

/** The six bytes (a binary string) that make CRC(prefix ‖ next) equal CRC(data ‖ next), `crc` being CRC-32(data). */
export function crcPrefix(crc: number): string {
  var x = ~crc >>> 0, y = 0;
  for (var j = 0; j < 32; j++) if ((x >>> j) & 1) y ^= INV[j];
  y ^= AFTER_ZEROS;
  return String.fromCharCode(0, 0, y & 0xff, (y >>> 8) & 0xff, (y >>> 16) & 0xff, (y >>> 24) & 0xff);
}
