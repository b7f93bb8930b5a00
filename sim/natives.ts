// Node equivalents of the Espruino natives the module uses (E.CRC32, atob, E.toUint8Array,
// E.toString). Strings are binary strings: one char per byte, as on Espruino.
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
  atob: (s: string) => Buffer.from(s, "base64").toString("latin1"),
  btoa: (s: string) => Buffer.from(s, "latin1").toString("base64"),
  bytes: bytesOf,
  text: textOf,
  put: (dst: Uint8Array, src: string, at: number) => dst.set(Buffer.from(src, "latin1"), at)
};
