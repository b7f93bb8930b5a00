// Espruino's Storage (src/jsflash.c, 2v29) on the simulated flash, byte for byte: files laid end to
// end from the area's start, each a 32-byte header ([size | flags << 24, LE][name, 28 bytes]) and
// its data padded to 4 bytes. A file written anew is appended after the last one; the old copy is
// only marked deleted (its name's first word programmed to 0) and stays in place as trash. A new
// file that does not fit the free tail triggers a compaction, done in place as Espruino does it:
// from the last page boundary with a header on it before the first trash, every page is erased
// and rewritten with the live files packed down. Every write, mark, erase and each compaction
// step is an operation on the PowerRail, so a power cut lands on any of them; a cut inside a
// compaction leaves what the flash then holds (files after the cut are typically gone), and so
// does a cut tearing a new file's header. At power-on Espruino checks Storage
// (jsfIsStorageValid at the first boot): when what follows the last file is not erased, it reports
// "Storage is corrupt" and erases all of it (jsfResetStorage), as powerOn() does.
import { FlashSim, Page, uniformPages } from "./flash";
import { PowerRail } from "./power";

export interface StorageArea {
  addr: number;
  length: number;
}

const HEADER = 32;
const UNSET = 0xffffffff;

interface Entry {
  addr: number;
  size: number;
  name: string;
  live: boolean;
}

const align = (n: number) => (n + 3) & ~3;

export class StorageSim {
  readonly flash: FlashSim;
  readonly area: StorageArea;
  rail: PowerRail;
  writeOps = 0;
  compactions = 0;
  /** Pages erased by compactions, and the lowest address any compaction started at. */
  compactedPages = 0;
  compactedFrom = Infinity;
  /** A power cut landed inside a compaction. */
  cutInCompaction = false;
  /** A power cut tore a new file's header (its size or name half programmed). */
  cutInHeader = false;
  /** Times powerOn() found Storage corrupt and erased it. */
  resets = 0;

  constructor(rail?: PowerRail, flash?: FlashSim, area?: StorageArea) {
    this.rail = rail ?? flash?.rail ?? new PowerRail();
    this.area = area ?? { addr: 0x70000000, length: 4 << 20 };
    this.flash = flash ?? new FlashSim({ pages: uniformPages(this.area.addr, 4096, this.area.length >> 12), free: [], span: this.area, rail: this.rail });
    const f = this.flash;
    if (this.area.addr < f.base || this.area.addr + this.area.length > f.base + f.size) throw new Error("Storage area outside the simulated flash");
  }

  private u32(addr: number): number {
    const m = this.flash.mem, o = addr - this.flash.base;
    return (m[o] | (m[o + 1] << 8) | (m[o + 2] << 16) | (m[o + 3] << 24)) >>> 0;
  }

  private page(addr: number): Page {
    return this.flash.getPage(addr) as Page;
  }

  private end(): number {
    return this.area.addr + this.area.length;
  }

  /** A valid header at addr: set, non-zero size, inside the area (jsfGetFileHeader). */
  private header(addr: number): Entry | null {
    if (addr + HEADER > this.end()) return null;
    const word = this.u32(addr);
    const size = word & 0xffffff;
    if (word === UNSET || size === 0 || addr + HEADER + size > this.end()) return null;
    const o = addr - this.flash.base + 4;
    const raw = this.flash.mem.subarray(o, o + 28);
    let name = "";
    for (let i = 0; i < 28 && raw[i]; i++) name += String.fromCharCode(raw[i]);
    return { addr, size, name, live: this.u32(addr + 4) !== 0 };
  }

  /** Every header in order, as jsfGetNextFileHeader(GNFH_GET_ALL) walks them. */
  private entries(from = this.area.addr): Entry[] {
    const out: Entry[] = [];
    let addr = from, h = this.header(addr);
    while (h) {
      out.push(h);
      addr = align(addr + HEADER + h.size);
      h = this.header(addr);
      if (!h) {
        // No header right after this file: Espruino looks once more at the next page's start.
        const pg = this.flash.getPage(addr);
        if (!pg || pg.addr === addr || pg.addr + pg.length >= this.end()) break;
        addr = pg.addr + pg.length;
        h = this.header(addr);
      }
    }
    return out;
  }

  private find(name: string): Entry | undefined {
    return this.entries().find((e) => e.live && e.name === name);
  }

  /** Address after the last file: where the next file goes. */
  private tail(): number {
    const all = this.entries();
    const last = all[all.length - 1];
    return last ? align(last.addr + HEADER + last.size) : this.area.addr;
  }

  private program(addr: number, bytes: Uint8Array, torn: boolean): void {
    const o = addr - this.flash.base, m = this.flash.mem;
    const n = torn ? Math.floor(this.rail.random() * bytes.length) : bytes.length;
    for (let i = 0; i < n; i++) m[o + i] &= bytes[i];
  }

  /** One operation on the rail: fn(torn) runs unless the cut comes before it. */
  private op(fn: (torn: boolean) => void): void {
    const mode = this.rail.begin();
    const op = this.rail.ops - 1;
    fn(mode === "torn");
    if (mode !== "full") this.rail.fail(op);
  }

  read(name: string, offset = 0, length?: number): string | undefined {
    if (this.rail.down) throw new Error("no power");
    const f = this.find(name);
    if (!f) return undefined;
    const from = Math.min(f.size, offset), to = length === undefined ? f.size : Math.min(f.size, offset + length);
    const o = f.addr + HEADER - this.flash.base;
    return Buffer.from(this.flash.mem.subarray(o + from, o + to)).toString("latin1");
  }

  /** The bytes of a live file, as a view of the flash (tests damage files through it). */
  fileBytes(name: string): Uint8Array | undefined {
    const f = this.find(name);
    if (!f) return undefined;
    const o = f.addr + HEADER - this.flash.base;
    return this.flash.mem.subarray(o, o + f.size);
  }

  /** Where a live file's header lies (Storage files are memory-mapped on most boards). */
  addressOf(name: string): number | undefined {
    return this.find(name)?.addr;
  }

  list(): string[] {
    return this.entries().filter((e) => e.live).map((e) => e.name);
  }

  getFree(): number {
    return this.end() - this.tail();
  }

  getStats(): { totalBytes: number; freeBytes: number; fileBytes: number; fileCount: number; trashBytes: number; trashCount: number } {
    const all = this.entries(), live = all.filter((e) => e.live), trash = all.filter((e) => !e.live);
    const bytes = (l: Entry[]) => l.reduce((n, e) => n + align(e.size) + HEADER, 0);
    return { totalBytes: this.area.length, freeBytes: this.getFree(), fileBytes: bytes(live), fileCount: live.length, trashBytes: bytes(trash), trashCount: trash.length };
  }

  write(name: string, data: string | Uint8Array, offset?: number, size?: number): boolean {
    const bytes = typeof data === "string" ? Uint8Array.from(Buffer.from(data, "latin1")) : Uint8Array.from(data);
    if (name.length > 28) throw new Error("File name too long");
    const off = offset ?? 0;
    const want = size || bytes.length;
    let f = this.find(name);
    if (!off) {
      const fo = f ? f.addr + HEADER - this.flash.base : 0;
      const erased = f ? this.flash.mem.subarray(fo, fo + f.size).every((b) => b === 0xff) : false;
      if (f && f.size === want && bytes.length === want && Buffer.compare(Buffer.from(this.flash.mem.subarray(fo, fo + f.size)), Buffer.from(bytes)) === 0) return true;
      if (!f || f.size !== want || !erased) {
        if (f) this.mark(f);
        f = this.create(name, want);
      }
    }
    if (!f) throw new Error(`File ${name} does not exist`);
    if (off + bytes.length > f.size) throw new Error("Too much data for file size");
    const at = f.addr + HEADER + off, o = at - this.flash.base;
    for (let i = 0; i < bytes.length; i++) if (this.flash.mem[o + i] !== 0xff) throw new Error("File already written with different data");
    this.writeOps++;
    this.op((torn) => this.program(at, bytes, torn));
    return true;
  }

  /**
   * Espruino's check at power-on: the 32 bytes after the last file must be erased (or Storage
   * full); else Storage is corrupt and is erased whole. A torn header (size half written) is such a
   * case; so is a compaction cut after it erased a page but before it rewrote the headers there.
   */
  powerOn(): void {
    const at = this.tail(), o = at - this.flash.base;
    if (at + HEADER > this.end() || this.flash.mem.subarray(o, o + HEADER).every((b) => b === 0xff)) return;
    this.resets++;
    this.flash.mem.fill(0xff, this.area.addr - this.flash.base, this.end() - this.flash.base);
  }

  erase(name: string): void {
    const f = this.find(name);
    if (f) this.mark(f);
  }

  eraseAll(): void {
    for (let a = this.area.addr; a < this.end(); a += this.page(a).length) {
      const at = a;
      this.op(() => this.flash.mem.fill(0xff, at - this.flash.base, at - this.flash.base + this.page(at).length));
    }
  }

  /** Marks a file deleted: its name's first word programmed to 0 (jsfEraseFileInternal). */
  private mark(f: Entry): void {
    this.op((torn) => this.program(f.addr + 4, new Uint8Array(4), torn));
  }

  /** Appends a header for `size` bytes, compacting first when the free tail is too short. */
  private create(name: string, size: number): Entry {
    const need = align(size) + HEADER;
    let at = this.tail();
    if (at + need > this.end()) {
      const s = this.getStats();
      if (need >= s.freeBytes + s.trashBytes || !this.compact()) throw new Error("Unable to find or create file");
      at = this.tail();
      if (at + need > this.end()) throw new Error("Unable to find or create file");
    }
    const h = new Uint8Array(HEADER);
    new DataView(h.buffer).setUint32(0, size, true);
    for (let i = 0; i < name.length; i++) h[4 + i] = name.charCodeAt(i);
    this.op((torn) => {
      if (torn) this.cutInHeader = true;
      this.program(at, h, torn);
    });
    return { addr: at, size, name, live: true };
  }

  /** Compacts in place, page by page; false when there is no trash. */
  compact(): boolean {
    const all = this.entries();
    const first = all.findIndex((e) => !e.live);
    if (first < 0) return false;
    // Compaction starts at the last page boundary before the first trash that a header sits on.
    let start = this.area.addr;
    for (let i = 0; i < first; i++) if (this.page(all[i].addr).addr === all[i].addr) start = all[i].addr;
    if (this.page(all[first].addr).addr === all[first].addr) start = all[first].addr;
    const oldEnd = this.tail();
    const packed: number[] = [];
    for (const e of all) {
      if (e.addr < start || !e.live) continue;
      const o = e.addr - this.flash.base;
      for (const b of this.flash.mem.subarray(o, o + HEADER + align(e.size))) packed.push(b);
    }
    this.compactions++;
    this.compactedFrom = Math.min(this.compactedFrom, start);
    try {
      this.rewrite(start, oldEnd, packed);
    } catch (e) {
      this.cutInCompaction = true;
      throw e;
    }
    return true;
  }

  /** Erases and rewrites [start, oldEnd) page by page with `packed`, then erased bytes. */
  private rewrite(start: number, oldEnd: number, packed: number[]): void {
    let a = start, i = 0;
    while (a < oldEnd) {
      const pg = this.page(a), at = a, o = a - this.flash.base;
      const content = Uint8Array.from(packed.slice(i, i + pg.length));
      this.compactedPages++;
      this.op((torn) => {
        for (let k = 0; k < pg.length; k++) if (!torn || this.rail.random() < 0.5) this.flash.mem[o + k] = 0xff;
      });
      if (content.length) this.op((torn) => this.program(at, content, torn));
      i += pg.length;
      a += pg.length;
    }
  }
}
