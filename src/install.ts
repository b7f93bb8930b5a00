// NotecardDFUInstall: everything needed once, at provisioning. It checks a layout against the
// board's flash geometry, installs the boot selector as .boot0 with the layout as its first line
// (what the runtime and the selector read) and copies the application into slot 0. Erase it from
// Storage afterwards: the runtime (NotecardDFU) never needs it.
import { BOARDS } from "notecard-dfu:boards";
import SELECTOR from "./boot/selector.boot.js";
import { BootInfo, info } from "./boot/trial";
import { rawFlash } from "./build";
import { fault, Fault } from "./errors";
import { memory, resolvePorts } from "./platform";
import { FlashArea, FlashPort, Ports } from "./ports";
import { BOOT_FILE, Config, Layout, readConfig, RecordSpec, SlotSpec } from "./slots/config";
import { append, appendStep, createRecords, load, RECORD_SIZE, Records } from "./slots/record-store";
import { begin, createWriter, write, Writer, writerStep } from "./slots/slot-writer";

export { BOARDS };

/** A boards/ profile, reduced to what provisioning needs. */
export interface Profile {
  layout: Layout;
  memoryMapped: boolean;
  chunkSize: number;
  /** Where Storage starts, for boards whose process.memory() does not say (non-ARM). */
  storage?: number;
  /** Slot 0 lies in flash the chip's documentation does not promise: prove it, else use `fallback`. */
  fallback?: Layout;
}

export interface InstallOptions extends Partial<Ports> {
  /** A boards/ profile name (e.g. "PICO"), or give `layout` (and `memoryMapped`) yourself. */
  board?: string;
  layout?: Layout;
  memoryMapped?: boolean;
  /** Version of the application being provisioned. */
  version?: string;
  /** Default dfu.get chunk for the runtime, bytes (default: the board's, else 4096). */
  chunkSize?: number;
  /** Trial boots before a revert, 1 to 3 (default 3): each is a word of the record. */
  maxAttempts?: number;
  /** Trial watchdog, seconds (default 0 = off). */
  trialWatchdog?: number;
  /** Where Storage starts when process.memory() has no flash_code_start (default: the profile's). */
  storageAddr?: number;
  /** process.memory() (a port, for tests). */
  memory?: () => { total: number; blocksize: number; flash_code_start?: number };
}

var HEADER = 32;

function hex(n: number): string {
  return "0x" + n.toString(16);
}

/** Erase pages covering [addr, addr + length), or a problem text. */
function pagesOf(flash: FlashPort, addr: number, length: number): number[] | string {
  var pages: number[] = [], at = addr;
  while (at < addr + length) {
    var p = flash.getPage(at);
    if (!p) return hex(at) + " is outside flash";
    if (p.addr !== at) return hex(at) + " is not on an erase-page boundary (page starts at " + hex(p.addr) + ")";
    pages.push(p.addr);
    at = p.addr + p.length;
  }
  if (at !== addr + length) return "region " + hex(addr) + "+" + length + " does not end on an erase-page boundary";
  return pages;
}

/** Splits a raw record area into two units of whole pages, as equal as the pages allow. */
function recordUnits(flash: FlashPort, spec: RecordSpec): number[] | string {
  var pages = pagesOf(flash, spec.addr as number, spec.length);
  if (typeof pages === "string") return "record: " + pages;
  if (pages.length < 2) return "record: needs at least two erase pages, has " + pages.length;
  return [spec.addr as number, pages[Math.ceil(pages.length / 2)]];
}

/** Storage's first file as [name, size], read from the flash at Storage's start; null if none. */
function firstFile(flash: FlashPort, at: number): [string, number] | null {
  var h = flash.read(HEADER, at), n = (h[0] | (h[1] << 8) | (h[2] << 16)) >>> 0, name = "", i: number;
  if (h[3] === 255 && n === 0xffffff) return null;
  for (i = 4; i < HEADER && h[i] && h[i] !== 255; i++) name += String.fromCharCode(h[i]);
  return [name, n];
}

/**
 * Where Storage is: its start from process.memory() (ARM builds), else the profile's or the
 * option's; its size from Storage.getStats(). Raw flash there is refused unless it lies in whole
 * pages of the reservation file.
 */
function storageArea(options: InstallOptions, p: Ports, m: { flash_code_start?: number }, profile?: Profile): FlashArea | null {
  var at = m.flash_code_start;
  if (at === undefined) at = options.storageAddr !== undefined ? options.storageAddr : profile && profile.storage;
  return at === undefined ? null : { addr: at, length: p.storage.getStats().totalBytes };
}

/** "" when the layout is safe, else what is wrong with it. */
function checkLayout(layout: Layout, flash: FlashPort, storage: FlashArea | null, ram: { total: number; blocksize: number }, mapped: boolean): string {
  if (!layout || !layout.slots || layout.slots.length !== 2 || !layout.record) return "layout needs two slots and a record";
  var raw: { name: string; addr: number; length: number }[] = [], free: FlashArea[], i: number, res = layout.reserve, first: [string, number] | null, inner: FlashArea | null = null;
  if (storage && res) {
    // The reservation is Storage's first file and ends on a page boundary: a compaction starts at
    // the last page boundary with a header before the first deleted file, so it never reaches the
    // reservation's pages, and no file before it can be deleted to move it.
    first = firstFile(flash, storage.addr);
    if (!first || first[0] !== res.file || first[1] !== res.length) return "Storage's first file must be the reservation " + res.file + " (" + res.length + " bytes): reserve() on an erased Storage";
    var pg = flash.getPage(storage.addr + HEADER), end = storage.addr + HEADER + res.length, last = flash.getPage(end);
    if (!pg || !last || last.addr !== end) return "reservation " + res.file + " does not end on a page boundary";
    inner = { addr: pg.addr + pg.length, length: end - pg.addr - pg.length };
  }
  for (i = 0; i < 2; i++) {
    var s = layout.slots[i];
    if (!(s.length > 0)) return "slot " + i + ": length must be positive";
    if (s.file !== undefined) {
      if (!s.file || s.file.length > 28) return "slot " + i + ": Storage file name must be 1..28 characters";
      continue;
    }
    if (typeof s.addr !== "number") return "slot " + i + ": needs addr or file";
    var pages = pagesOf(flash, s.addr, s.length);
    if (typeof pages === "string") return "slot " + i + ": " + pages;
    raw.push({ name: "slot " + i, addr: s.addr, length: s.length });
  }
  var r = layout.record;
  if (r.files) {
    if (r.files.length !== 2 || r.files[0] === r.files[1]) return "record: needs two distinct Storage files";
    if (!(r.length >= RECORD_SIZE)) return "record: each file needs room for a record (" + RECORD_SIZE + " bytes)";
  } else {
    var units = recordUnits(flash, r);
    if (typeof units === "string") return units;
    if (units[1] - units[0] < RECORD_SIZE || (r.addr as number) + r.length - units[1] < RECORD_SIZE) return "record: each unit needs at least " + RECORD_SIZE + " bytes";
    raw.push({ name: "record", addr: r.addr as number, length: r.length });
  }
  if (layout.slots[0].file !== undefined && layout.slots[0].file === layout.slots[1].file) return "slots 0 and 1 use the same Storage file";
  // Asked only where raw flash is used: the Storage-only build has no flash port.
  free = raw.length ? flash.getFree() : [];
  for (var a = 0; a < raw.length; a++) {
    for (var b = a + 1; b < raw.length; b++) {
      if (overlaps(raw[a], raw[b])) return raw[a].name + " overlaps " + raw[b].name;
    }
    var inside = false, what = raw[a].name + " (" + hex(raw[a].addr) + "+" + raw[a].length + ")";
    for (var f = 0; f < free.length; f++) inside = inside || within(raw[a], free[f]);
    if (!inside) return what + " is not inside a free flash area (Flash.getFree()): it would overwrite firmware or Storage";
    if (!storage) return what + ": where Storage lies is unknown (give storageAddr)";
    if (overlaps(raw[a], storage) && !(inner && within(raw[a], inner))) return what + " overlaps Storage (" + hex(storage.addr) + "+" + storage.length + "), which moves files when it compacts";
    // Not memory-mapped: the selector reads the whole image into RAM to run it.
    if (!mapped && raw[a].name !== "record" && raw[a].length > ram.total * ram.blocksize) return what + " is larger than the RAM (" + ram.total * ram.blocksize + " bytes) an unmapped image is read into";
  }
  return "";
}

function within(x: FlashArea, y: FlashArea): boolean {
  return x.addr >= y.addr && x.addr + x.length <= y.addr + y.length;
}

function overlaps(x: FlashArea, y: FlashArea): boolean {
  return x.addr < y.addr + y.length && y.addr < x.addr + x.length;
}

/** Erases slot 0's pages, writes a pattern and reads it back: "" when the flash holds it. */
function prove(p: Ports, s: SlotSpec): string {
  var flash = p.flash, pages = pagesOf(flash, s.addr as number, s.length), probe = "NotecardDFU flash probe \x00\x55\xaa\xff", i: number, back: string;
  if (typeof pages === "string") return pages;
  try {
    for (i = 0; i < pages.length; i++) {
      flash.erasePage(pages[i]);
      flash.write(probe, pages[i]);
      back = p.natives.text(flash.read(probe.length, pages[i]));
      if (back !== probe) return "reads back wrong at " + hex(pages[i]);
    }
    for (i = 0; i < pages.length; i++) flash.erasePage(pages[i]);
  } catch (e) {
    return (e as Error).message || String(e);
  }
  return "";
}

/** The checked layout of `options` in its stored form; throws a layout fault. */
function configure(options: InstallOptions, p: Ports): Config {
  var profile = options.board ? BOARDS[options.board] : undefined;
  if (options.board && !profile) throw fault("layout", "unknown board " + options.board);
  var x = options.maxAttempts || 3, layout = options.layout || (profile && profile.layout), mapped = options.memoryMapped !== undefined ? !!options.memoryMapped : !!(profile && profile.memoryMapped);
  if (!layout) throw fault("layout", "give a board name or a layout");
  var rawSlot = layout.slots[0].file === undefined || layout.slots[1].file === undefined;
  if (!rawFlash() && (rawSlot || !layout.record.files)) throw fault("layout", "raw flash: needs the full build");
  // The longest progress record leaves 6 words for its marks: reported, confirmed, verified and
  // three trial boots.
  if (!(x >= 1 && x <= 3)) throw fault("layout", "maxAttempts: 1 to 3");
  // process.memory() runs a garbage collection and getStats() scans Storage: once each.
  var m = (options.memory || memory)(), area = storageArea(options, p, m, profile);
  var problem = checkLayout(layout, p.flash, area, m, mapped);
  // Flash beyond the chip's documented size is used only once it has held a pattern; else the
  // fallback. Proven once: a board provisioned before keeps its choice (slot 0 may hold its image).
  var was: Config | null = null;
  var stored = readConfig(p.storage);
  if (stored && !(stored as Fault).code) was = stored as Config;
  if (!problem && !options.layout && profile && profile.fallback && (was && was.b === options.board ? was.s[0].a === undefined : prove(p, layout.slots[0]))) {
    layout = profile.fallback;
    problem = checkLayout(layout, p.flash, area, m, mapped);
  }
  if (problem) throw fault("layout", "unsafe layout: " + problem);
  var r = layout.record, units = r.files ? undefined : recordUnits(p.flash, r) as number[];
  return {
    b: options.board || "",
    s: layout.slots.map(function (s: SlotSpec) { return s.file !== undefined ? { f: s.file, l: s.length } : { a: s.addr, l: s.length }; }),
    r: r.files ? { f: r.files, l: r.length } : { a: r.addr, l: r.length },
    u: units,
    z: units ? Math.min(units[1] - units[0], (r.addr as number) + r.length - units[1]) : r.length,
    // Stored only where they mean something: .boot0 is on every board's Storage.
    m: rawSlot && mapped || undefined,
    x: x,
    w: options.trialWatchdog || undefined,
    k: options.chunkSize || (profile && profile.chunkSize) || 4096
  };
}

/** Installs the selector (.boot0) with a checked layout as its first line; returns the selector. */
function store(p: Ports, cfg: Config): string {
  var src = "//" + JSON.stringify(cfg) + "\n" + SELECTOR;
  if (p.storage.read(BOOT_FILE) !== src) p.storage.write(BOOT_FILE, src);
  return src;
}

/**
 * Creates the layout's reservation (the Storage file its raw slots and record live in) as Storage's
 * first file: run it on an erased Storage, before anything else is saved. Throws a layout fault
 * when Storage already holds other files; does nothing when the reservation is there.
 */
export function reserve(options: InstallOptions) {
  var p = resolvePorts(options), profile = options.board ? BOARDS[options.board] : undefined, layout = options.layout || (profile && profile.layout);
  var res = layout && layout.reserve, st = p.storage.getStats();
  if (!res) throw fault("layout", "this layout reserves nothing");
  if (p.storage.read(res.file) !== undefined) return;
  if (st.fileCount + st.trashCount) throw fault("layout", "reserve: Storage is not empty; erase it first (require(\"Storage\").eraseAll())");
  p.storage.write(res.file, "\xff", 0, res.length);
}

/** Checks the layout and installs the selector with it (.boot0); returns the selector. Throws a layout fault. */
export function installBoot(options: InstallOptions): string {
  var p = resolvePorts(options);
  return store(p, configure(options, p));
}

/**
 * Copies the application (`code`, default: the Storage file .bootcde) into a slot, records it as
 * the confirmed image, installs the selector and removes .bootcde. Until .bootcde is gone the
 * selector stands aside, so a power cut at any step still boots the application. cb(err, info).
 */
export function provision(options: InstallOptions, code: string | undefined, cb: (err: Fault | null, info?: BootInfo) => void) {
  var p: Ports, cfg: Config;
  try {
    p = resolvePorts(options);
    cfg = configure(options, p);
  } catch (e) {
    return cb(e as Fault);
  }
  var src = code !== undefined ? code : p.storage.read(".bootcde"), version = options.version || "0.0.0";
  if (src === undefined || !src.length) return cb(fault("layout", "provision: no application (.bootcde is empty and no code was given)"));
  var rs: Records = createRecords(p, cfg, function () { appendStep(rs); }), latest = load(rs), target = latest && latest.a ? 1 - latest.a.s : 0, slot = cfg.s[target];
  if (src.length > slot.l) return cb(fault("layout", "provision: application (" + src.length + " bytes) is larger than slot " + target + " (" + slot.l + " bytes)"));
  try { store(p, cfg); } catch (e) { return cb(fault("flash", "provision: " + ((e as Error).message || e))); }
  var w: Writer = createWriter(p, function () { writerStep(w); }), off = 0, text = src;
  begin(w, slot, text.length, 0, 0);
  function next(err: Fault | null) {
    if (err) return cb(fault("flash", "provision: " + err.message));
    if (off >= text.length) {
      return append(rs, "provision", { q: 0, s: "confirmed", a: { s: target, l: text.length, c: p.natives.crc32(text), v: version }, p: 1 }, function (e) {
        if (e) return cb(e);
        if (p.storage.read(".bootcde") !== undefined) p.storage.erase(".bootcde");
        cb(null, info(rs, version));
      });
    }
    var n = Math.min(512, text.length - off);
    off += n;
    write(w, text, off - n, n, false, next);
  }
  next(null);
}
