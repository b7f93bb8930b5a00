// Node equivalents of the Espruino natives the module uses (E.CRC32, atob, btoa, E.toString,
// E.toArrayBuffer views, Uint8Array.set of a string). Strings are binary strings: one char per byte,
// as on Espruino. Node has no zero-copy string views, so text() and view() copy here.
import CRC32 from "crc-32";

export function bytesOf(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "latin1"));
}

export function textOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString("latin1");
}

export function crc32(data: string | Uint8Array): number {
  return (typeof data === "string" ? CRC32.bstr(data) : CRC32.buf(data)) >>> 0;
}

export const nodeNatives = {
  crc32,
  // Like Espruino's atob, whitespace is skipped.
  atob: (s: string) => Buffer.from(s, "base64").toString("latin1"),
  btoa: (d: string | Uint8Array) => (typeof d === "string" ? Buffer.from(d, "latin1") : Buffer.from(d)).toString("base64"),
  text: textOf,
  // Espruino makes such a view even past the string's end, over whatever memory follows: here that
  // is an error, so a view that overruns its string is caught by the tests.
  view: (s: string, off: number, n: number) => {
    if (off < 0 || n < 0 || off + n > s.length) throw new RangeError(`view ${off}+${n} of a ${s.length}-byte string`);
    return bytesOf(s.substr(off, n));
  },
  put: (dst: Uint8Array, src: string | Uint8Array, at: number) => dst.set(typeof src === "string" ? Buffer.from(src, "latin1") : src, at)
};
