// One image slot: raw flash pages or a Storage file. Writes are 4-byte aligned whole words padded
// with 0xFF, each word programmed once; erases go one page (or the file) per call so the caller can
// yield between them; every write is read back and compared by CRC-32.
import { FlashPort, Natives, StoragePort } from "../ports";
import { pagesOf, SlotSpec } from "./layout";

export interface SlotStore {
  index: number;
  length: number;
  /** Erase units in the slot, and the byte range of each (a file slot is one unit). */
  pages: { off: number; length: number }[];
  erase(page: number): void;
  /** Writes `data` (length a multiple of 4, offset 4-aligned); for a file slot, `total` sizes it. */
  write(off: number, data: Uint8Array, total: number): void;
  read(off: number, length: number): Uint8Array;
  /** Source text for the selector's eval (raw) or Storage.read. */
  isFile: boolean;
}

export function createSlotStore(index: number, spec: SlotSpec, flash: FlashPort, storage: StoragePort, natives: Natives): SlotStore {
  if (spec.file !== undefined) {
    var name = spec.file;
    return {
      index: index, length: spec.length, isFile: true,
      pages: [{ off: 0, length: spec.length }],
      erase: function () { storage.erase(name); },
      write: function (off, data, total) {
        // Offset 0 creates the file at its final size; later writes fill its erased bytes.
        if (!storage.write(name, data, off, total)) throw new Error("Storage.write failed");
      },
      read: function (off, length) {
        var s = storage.read(name, off, length);
        return s === undefined ? new Uint8Array(0) : natives.bytes(s);
      }
    };
  }
  var base = spec.addr as number;
  var addrs = pagesOf(flash, base, spec.length) as number[];
  var pages: { off: number; length: number }[] = [];
  for (var i = 0; i < addrs.length; i++) {
    var end = i + 1 < addrs.length ? addrs[i + 1] : base + spec.length;
    pages.push({ off: addrs[i] - base, length: end - addrs[i] });
  }
  return {
    index: index, length: spec.length, isFile: false, pages: pages,
    erase: function (page) { flash.erasePage(addrs[page]); },
    write: function (off, data) { flash.write(data, base + off); },
    read: function (off, length) { return flash.read(length, base + off); }
  };
}
