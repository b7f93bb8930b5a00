// A NOR flash simulator behind the Flash port: erase sets 0xFF, writes only clear bits, alignment
// is checked, each word may be programmed a limited number of times between erases (nRF52: 2), and
// every erase or write can be cut by the PowerRail. Geometry: a list of pages, like Flash.getPage.
import { PowerRail } from "./power";
import { VirtualClock } from "./clock";

export interface Page {
  addr: number;
  length: number;
}

export interface FlashSimOptions {
  /** Pages in address order, contiguous. */
  pages: Page[];
  /** Areas Flash.getFree() reports. */
  free: Page[];
  rail?: PowerRail;
  clock?: VirtualClock;
  /** Program operations allowed per 32-bit word between erases. */
  maxWritesPerWord?: number;
  /** The part of flash to simulate (default: the span of the free areas). */
  span?: Page;
  /** Time charged per erase of a page, ms per KiB, and per written KiB. */
  eraseMsPerKiB?: number;
  writeMsPerKiB?: number;
}

/** Uniform pages: `count` pages of `size` bytes from `base`. */
export function uniformPages(base: number, size: number, count: number): Page[] {
  const out: Page[] = [];
  for (let i = 0; i < count; i++) out.push({ addr: base + i * size, length: size });
  return out;
}

export class FlashSim {
  readonly pages: Page[];
  readonly free: Page[];
  readonly base: number;
  readonly size: number;
  readonly mem: Uint8Array;
  private writes: Uint8Array;
  rail: PowerRail;
  clock?: VirtualClock;
  maxWritesPerWord: number;
  eraseMsPerKiB: number;
  writeMsPerKiB: number;
  erases = 0;
  writeOps = 0;
  violations: string[] = [];
  /** Bits that do not program (stay 1) at these byte addresses, for the next `times` writes there. */
  stuck: { addr: number; mask: number; times: number }[] = [];

  constructor(o: FlashSimOptions) {
    this.pages = o.pages;
    this.free = o.free;
    // Only the span (by default of the free areas) is backed by memory (the firmware is elsewhere);
    // reads outside it see erased flash, writes outside it are refused.
    const areas = o.span ? [o.span] : o.free.length ? o.free : [o.pages[0]];
    this.base = Math.min(...areas.map((a) => a.addr));
    this.size = Math.max(...areas.map((a) => a.addr + a.length)) - this.base;
    this.mem = new Uint8Array(this.size).fill(0xff);
    this.writes = new Uint8Array(this.size >> 2);
    this.rail = o.rail ?? new PowerRail();
    this.clock = o.clock;
    this.maxWritesPerWord = o.maxWritesPerWord ?? 2;
    this.eraseMsPerKiB = o.eraseMsPerKiB ?? 0;
    this.writeMsPerKiB = o.writeMsPerKiB ?? 0;
  }

  getPage(addr: number): Page | undefined {
    const p = this.pages.find((pg) => addr >= pg.addr && addr < pg.addr + pg.length);
    return p ? { addr: p.addr, length: p.length } : undefined;
  }

  getFree(): Page[] {
    return this.free.map((f) => ({ addr: f.addr, length: f.length }));
  }

  erasePage(addr: number): void {
    if (typeof addr !== "number" || addr !== Math.floor(addr)) throw new Error("Address should be an integer");
    const p = this.getPage(addr);
    if (!p) return;
    const mode = this.rail.begin();
    const op = this.rail.ops - 1;
    this.erases++;
    this.clock?.advance((p.length / 1024) * this.eraseMsPerKiB);
    const off = p.addr - this.base;
    if (off < 0 || off + p.length > this.size) throw new Error(`flash erase outside the simulated span at 0x${addr.toString(16)}`);
    if (mode === "torn") {
      // A torn erase leaves the page in between: some bytes erased, others not.
      for (let i = 0; i < p.length; i++) if (this.rail.random() < 0.5) this.mem[off + i] = 0xff;
      this.rail.fail(op);
    }
    this.mem.fill(0xff, off, off + p.length);
    this.writes.fill(0, off >> 2, (off + p.length) >> 2);
    if (mode === "cut-after") this.rail.fail(op);
  }

  write(data: Uint8Array | string | number[], addr: number): void {
    const bytes = typeof data === "string" ? Uint8Array.from(Buffer.from(data, "latin1")) : Uint8Array.from(data as ArrayLike<number>);
    if (!bytes.length) return;
    const off = addr - this.base;
    if (off < 0 || off + bytes.length > this.size) throw new Error(`flash write outside flash at 0x${addr.toString(16)}`);
    if (addr % 4 || bytes.length % 4) this.violations.push(`unaligned write of ${bytes.length} bytes at 0x${addr.toString(16)}`);
    const page = this.getPage(addr);
    if (page && addr + bytes.length > page.addr + page.length) this.violations.push(`write of ${bytes.length} bytes at 0x${addr.toString(16)} crosses a page boundary`);
    for (let w = off >> 2; w < (off + bytes.length + 3) >> 2; w++) {
      if (++this.writes[w] > this.maxWritesPerWord) this.violations.push(`word 0x${(this.base + w * 4).toString(16)} programmed ${this.writes[w]} times`);
    }
    const mode = this.rail.begin();
    const op = this.rail.ops - 1;
    this.writeOps++;
    this.clock?.advance((bytes.length / 1024) * this.writeMsPerKiB);
    let n = bytes.length;
    if (mode === "torn") n = Math.floor(this.rail.random() * bytes.length);
    for (let i = 0; i < n; i++) this.mem[off + i] &= bytes[i] | this.stuckMask(addr + i);
    if (mode === "torn" && n < bytes.length) this.mem[off + n] &= bytes[n] | (Math.floor(this.rail.random() * 256));
    if (mode !== "full") this.rail.fail(op);
  }

  private stuckMask(addr: number): number {
    const s = this.stuck.find((x) => x.addr === addr && x.times > 0);
    if (!s) return 0;
    s.times--;
    return s.mask;
  }

  read(length: number, addr: number): Uint8Array {
    if (this.rail.down) throw new Error("no power");
    const out = new Uint8Array(length).fill(0xff);
    const from = Math.max(addr, this.base), to = Math.min(addr + length, this.base + this.size);
    if (to > from) out.set(this.mem.subarray(from - this.base, to - this.base), from - addr);
    return out;
  }
}
