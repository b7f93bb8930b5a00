// Incremental CRC-32 on top of E.CRC32, which has no seed argument (espruino-platform.md §5.1).
// For a running CRC c, six prefix bytes p(c) put the CRC register where the earlier data left it,
// so natives.crc32(p(c) ‖ chunk) == CRC-32(earlier data ‖ chunk): one native pass per chunk and an
// 8-step loop per chunk, never a loop per byte. Six bytes, not four, so that the prefix is whole
// base64 quanta (8 letters) and can be decoded together with a chunk's payload.

/** The six bytes (a binary string) that make CRC(prefix ‖ next) equal CRC(data ‖ next), `crc` being CRC-32(data). */
export function crcPrefix(crc: number): string {
  // Run the CRC register backwards over 32 bits from where the data left it (~crc): that is the
  // register just before four zero bits' worth of input, so the four bytes are it XOR the
  // register after the two leading zero bytes (0xbe26ed00). A backward step is linear,
  // r -> (r << 1) ^ (r < 0 ? 0xdb710641 : 0), so four at a time go by the top nibble's entry in T:
  // 8 turns of the loop instead of 32 (the interpreter reads a loop's text again every turn).
  var T = [0, 0xdb710641, 0x6d930ac3, 0xb6e20c82, 0xdb261586, 0x005713c7, 0xb6b51f45, 0x6dc41904,
    0x6d3d2d4d, 0xb64c2b0c, 0x00ae278e, 0xdbdf21cf, 0xb61b38cb, 0x6d6a3e8a, 0xdb883208, 0x00f93449];
  var r = ~crc;
  for (var j = 0; j < 8; j++) r = (r << 4) ^ T[r >>> 28];
  r ^= 0xbe26ed00;
  return String.fromCharCode(0, 0, r & 0xff, (r >>> 8) & 0xff, (r >>> 16) & 0xff, (r >>> 24) & 0xff);
}
