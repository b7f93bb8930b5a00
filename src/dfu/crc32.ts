// Incremental CRC-32 on top of E.CRC32, which has no seed argument (espruino-platform.md §5.1).
// For a running CRC c, four prefix bytes p(c) put the CRC register where the earlier data left it,
// so natives.crc32(p(c) ‖ chunk) == CRC-32(earlier data ‖ chunk): one native pass per chunk and a
// 32-step loop per chunk, never a loop per byte.

/** Columns of the inverse of "run the CRC register over 4 zero bytes" (a 32x32 GF(2) matrix). */
var INV = [0xdb710641, 0x6d930ac3, 0xdb261586, 0x6d3d2d4d, 0xda7a5a9a, 0x6f85b375, 0xdf0b66ea, 0x6567cb95,
  0xcacf972a, 0x4eee2815, 0x9ddc502a, 0xe0c9a615, 0x1ae24a6b, 0x35c494d6, 0x6b8929ac, 0xd7125358,
  0x7555a0f1, 0xeaab41e2, 0x0e278585, 0x1c4f0b0a, 0x389e1614, 0x713c2c28, 0xe2785850, 0x1f81b6e1,
  0x3f036dc2, 0x7e06db84, 0xfc0db708, 0x236a6851, 0x46d4d0a2, 0x8da9a144, 0xc02244c9, 0x5b358fd3];

/**
 * Writes into out[at..at+3] the prefix that makes a CRC over (prefix ‖ next) equal the CRC over
 * (data ‖ next), where `crc` is the CRC-32 of data.
 */
export function crcPrefix(crc: number, out: Uint8Array, at: number): void {
  var x = ~crc >>> 0, y = 0;
  for (var j = 0; j < 32; j++) if ((x >>> j) & 1) y ^= INV[j];
  y = (y ^ 0xffffffff) >>> 0;
  out[at] = y & 0xff;
  out[at + 1] = (y >>> 8) & 0xff;
  out[at + 2] = (y >>> 16) & 0xff;
  out[at + 3] = y >>> 24;
}
