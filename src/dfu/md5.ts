// NotecardDFUMD5: MD5 (RFC 1321) in ES5, an optional add-on to NotecardDFU for Notecards that do not
// send the transport crc (firmware before mid-2023): each chunk is then checked against the MD5 in
// dfu.get's `status`, and two dfu.status answers must agree; also the whole image's MD5 (setup's
// verifyMd5). Espruino has no native MD5 (espruino-platform.md §5.3); it runs per 64-byte block,
// so it costs far more than E.CRC32: `npm run bench` reports its price.

/** What the runtime calls (pass require("NotecardDFUMD5") as setup's md5 option). */
export interface Md5AddOn {
  chunk(owner: object, status: unknown, data: Uint8Array): string;
  image(data: Uint8Array, md5: unknown): string;
}

var S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
var K: number[] | null = null;

function constants(): number[] {
  if (!K) {
    K = [];
    for (var i = 0; i < 64; i++) K.push((Math.abs(Math.sin(i + 1)) * 4294967296) >>> 0);
  }
  return K;
}

/** Lowercase hex MD5 of `data`. */
export function hex(data: Uint8Array): string {
  var k = constants();
  var n = data.length;
  var words = new Uint32Array((((n + 8) >> 6) + 1) * 16);
  // A native copy packs the bytes into little-endian words (Espruino and Node are little endian).
  new Uint8Array(words.buffer).set(data);
  words[n >> 2] |= 0x80 << ((n & 3) * 8);
  words[words.length - 2] = (n * 8) >>> 0;
  words[words.length - 1] = Math.floor(n / 0x20000000);
  var a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe, d0 = 0x10325476;
  for (var blk = 0; blk < words.length; blk += 16) {
    var a = a0, b = b0, c = c0, d = d0;
    for (var j = 0; j < 64; j++) {
      var f: number, g: number, r = j >> 4;
      if (r === 0) { f = (b & c) | (~b & d); g = j; }
      else if (r === 1) { f = (d & b) | (~d & c); g = (5 * j + 1) & 15; }
      else if (r === 2) { f = b ^ c ^ d; g = (3 * j + 5) & 15; }
      else { f = c ^ (b | ~d); g = (7 * j) & 15; }
      var t = d;
      d = c;
      c = b;
      var sum = (a + f + k[j] + words[blk + g]) | 0;
      var s = S[(r << 2) | (j & 3)];
      b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
      a = t;
    }
    a0 = (a0 + a) | 0; b0 = (b0 + b) | 0; c0 = (c0 + c) | 0; d0 = (d0 + d) | 0;
  }
  var out = "";
  var st = [a0, b0, c0, d0];
  for (var w = 0; w < 4; w++) {
    for (var by = 0; by < 4; by++) {
      var v = (st[w] >>> (by * 8)) & 0xff;
      out += (v < 16 ? "0" : "") + v.toString(16);
    }
  }
  return out;
}

/**
 * The check of one chunk from a card without crc: "" when it passes, else what is wrong. Once the
 * card has sent chunk MD5s (remembered on `owner`), a chunk without one is as suspect as one that
 * fails it.
 */
export function chunk(owner: { md5seen?: number }, status: unknown, data: Uint8Array): string {
  if (typeof status === "string" && status.length === 32 && /^[0-9a-fA-F]+$/.test(status)) {
    owner.md5seen = 1;
    return hex(data) === status.toLowerCase() ? "" : "MD5 mismatch";
  }
  return owner.md5seen ? "no chunk MD5" : "";
}

/** The whole image's check against body.md5: "" when it passes or the body has none. */
export function image(data: Uint8Array, md5: unknown): string {
  return typeof md5 === "string" && hex(data) !== md5.toLowerCase() ? "image MD5 mismatch" : "";
}
