// NotecardDFUInstall: everything needed once, at provisioning. It checks a layout against the
// board's flash geometry, installs the boot selector as .boot0 with the layout as its last line
// (what the runtime and the selector read) and copies the application into slot 0. Erase it from
// Storage afterwards: the runtime (NotecardDFU) never needs it.
import { BOARDS } from "notecard-dfu:boards";
import SELECTOR from "./boot/selector.boot.js";
import { BootInfo, info } from "./boot/trial";
import { fault, Fault } from "./errors";
import { memory, resolvePorts } from "./platform";
import { FlashArea, FlashPort, PortOptions, Ports } from "./ports";
import { append, AT, createStore, load, MARK, markAt, Store, storeStep } from "./slots/boot-state";
import { BOOT_FILE, Config, Layout, readConfig, SlotSpec } from "./slots/config";
import { begin, createWriter, write, Writer, writerStep } from "./slots/slot-writer";

/** A boards/ profile, reduced to what provisioning needs. */
export interface Profile {
  layout: Layout;
  memoryMapped: boolean;
  chunkSize: number;
  /** Where Storage starts, for boards whose process.memory() does not say (non-ARM). */
  storage?: number;
  /** Slot 0 lies in flash the chip's documentation does not promise: prove it, else refuse. */
  prove?: boolean;
}

export interface InstallOptions extends Partial<PortOptions> {
  /** A boards/ profile name (e.g. "PICO"), or give `layout` (and `memoryMapped`) yourself. */
  board?: string;
  layout?: Layout;
  memoryMapped?: boolean;
  /** Version of the application being provisioned. */
  version?: string;
  /** Default dfu.get chunk for the runtime, bytes (default: the board's, else 4096). */
  chunkSize?: number;
  /** Trial boots before a revert, 1 to 3 (default 3): each is a word of the trailer. */
  maxAttempts?: number;
  /** Trial watchdog, seconds (default 0 = off). */
  trialWatchdog?: number;
  /** Where Storage starts when process.memory() has no flash_code_start (default: the profile's). */
  storageAddr?: number;
  /** process.memory() (a port, for tests). */
  memory?: () => { total: number; blocksize: number; flash_code_start?: number };
}

/** The boards/ profile `name` (undefined if none), from the build's table of numbers (rollup.config.js). */
export function profile(name?: string): Profile | undefined {
  var r = name ? BOARDS[name] : undefined;
  return r && {
    layout: { slots: [{ addr: r[0], length: r[1] }, { addr: r[2], length: r[3] }], reserve: r[4] ? { file: "dfu.area", length: r[4] } : undefined },
    memoryMapped: !!(r[5] & 1), prove: !!(r[5] & 2), chunkSize: r[6], storage: r[7] || undefined
  };
}

var FILE_HEADER = 32;
/** Most resume points a trailer keeps. */
var POINTS = 16;
/** What .boot0 holds before its layout line: the selector, then the comment the line continues. */
var HEAD = SELECTOR + "\n//";
/** Room .boot0 keeps for the layout line when it sits before a reservation. */
var LINE_ROOM = 512;

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

/** The Storage file whose header is at `at`, as [name, size]; null if none. */
function fileAt(flash: FlashPort, at: number): [string, number] | null {
  var h = flash.read(FILE_HEADER, at), n = (h[0] | (h[1] << 8) | (h[2] << 16)) >>> 0, name = "", i: number;
  if (h[3] === 255 && n === 0xffffff) return null;
  for (i = 4; i < FILE_HEADER && h[i] && h[i] !== 255; i++) name += String.fromCharCode(h[i]);
  return [name, n];
}

/**
 * Where Storage is: its start from process.memory() (ARM builds), else the profile's or the
 * option's; its size from Storage.getStats(). Raw flash there is refused unless it lies in whole
 * pages of the reservation file.
 */
function storageArea(options: InstallOptions, p: Ports, m: { flash_code_start?: number }, prof?: Profile): FlashArea | null {
  var at = m.flash_code_start;
  if (at === undefined) at = options.storageAddr !== undefined ? options.storageAddr : prof && prof.storage;
  return at === undefined ? null : { addr: at, length: p.storage.getStats().totalBytes };
}

/** "" when the layout is safe, else what is wrong with it; `inner` gets the reservation's whole pages. */
function checkLayout(layout: Layout, flash: FlashPort, storage: FlashArea | null, ram: { total: number; blocksize: number }, mapped: boolean, inner: FlashArea[]): string {
  if (!layout || !layout.slots || layout.slots.length !== 2) return "layout needs two slots";
  var free: FlashArea[], i: number, f: number, res = layout.reserve, first: [string, number] | null, s: SlotSpec, pages: number[] | string, inside: boolean, what: string;
  if (storage && res) {
    // .boot0 is Storage's first file and the reservation its second: a compaction starts at the
    // first page holding a deleted file, and neither is ever deleted, so it never reaches them.
    // .boot0 fills Storage's first page(s) up to the reservation's header, so the reservation's
    // data is whole pages, from the slots' first page on, and none of it goes unused.
    first = fileAt(flash, storage.addr);
    var hdr = first ? storage.addr + FILE_HEADER + ((first[1] + 3) & ~3) : 0, second = first && fileAt(flash, hdr);
    if (!first || first[0] !== BOOT_FILE || !second || second[0] !== res.file || second[1] !== res.length) return "Storage must begin with .boot0 and the reservation " + res.file + " (" + res.length + " bytes): reserve() on an erased Storage";
    var pg = flash.getPage(hdr + FILE_HEADER), end = hdr + FILE_HEADER + res.length, last = flash.getPage(end);
    if (!pg || pg.addr !== hdr + FILE_HEADER || !last || last.addr !== end) return "reservation " + res.file + " does not start and end on page boundaries";
    inner.push({ addr: pg.addr, length: res.length });
  }
  free = flash.getFree();
  for (i = 0; i < 2; i++) {
    s = layout.slots[i];
    if (typeof s.addr !== "number" || !(s.length > AT.Resume + 8)) return "slot " + i + ": needs addr and a length past its trailer";
    what = "slot " + i + " (" + hex(s.addr) + "+" + s.length + ")";
    pages = pagesOf(flash, s.addr, s.length);
    if (typeof pages === "string") return what + ": " + pages;
    if (i && overlaps(s, layout.slots[0])) return "slot 1 overlaps slot 0";
    // Inside the reservation's whole pages, or in free flash outside Storage.
    inside = inner.length > 0 && within(s, inner[0]);
    for (f = 0; f < free.length; f++) inside = inside || within(s, free[f]);
    if (!inside) return what + " is not inside a free flash area (Flash.getFree()) or the reservation: it would overwrite firmware or Storage";
    if (!storage) return what + ": where Storage lies is unknown (give storageAddr)";
    if (overlaps(s, storage) && !(inner.length && within(s, inner[0]))) return what + " overlaps Storage (" + hex(storage.addr) + "+" + storage.length + ") outside a reservation: Storage moves files when it compacts";
    // Not memory-mapped: the selector reads the whole image into RAM to run it.
    if (!mapped && s.length > ram.total * ram.blocksize) return what + " is larger than the RAM (" + ram.total * ram.blocksize + " bytes) an unmapped image is read into";
  }
  return "";
}

function within(x: SlotSpec, y: FlashArea): boolean {
  return x.addr >= y.addr && x.addr + x.length <= y.addr + y.length;
}

function overlaps(x: SlotSpec, y: FlashArea): boolean {
  return x.addr < y.addr + y.length && y.addr < x.addr + x.length;
}

/** Erases slot 0's pages, writes a pattern and reads it back: "" when the flash holds it. */
function prove(p: Ports, s: SlotSpec): string {
  var flash = p.flash, pages = pagesOf(flash, s.addr, s.length), probe = "NotecardDFU flash probe \x00\x55\xaa\xff", i: number, back: string;
  if (typeof pages === "string") return pages;
  try {
    for (i = 0; i < pages.length; i++) {
      flash.erasePage(pages[i]);
      flash.write(probe, pages[i]);
      back = p._text(flash.read(probe.length, pages[i]));
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
  var prof = profile(options.board);
  if (options.board && !prof) throw fault("layout", "unknown board " + options.board);
  var x = options.maxAttempts || 3, layout = options.layout || (prof && prof.layout), mapped = options.memoryMapped !== undefined ? !!options.memoryMapped : !!(prof && prof.memoryMapped);
  if (!layout) throw fault("layout", "give a board name or a layout");
  // The trailer has three words for trial boots.
  if (!(x >= 1 && x <= 3)) throw fault("layout", "maxAttempts: 1 to 3");
  // process.memory() runs a garbage collection and getStats() scans Storage: once each.
  var m = (options.memory || memory)(), area = storageArea(options, p, m, prof), inner: FlashArea[] = [], i: number, n = 0, pages: number;
  var problem = checkLayout(layout, p.flash, area, m, mapped, inner);
  // Flash beyond the chip's documented size is used only once it has held a pattern. Proven once:
  // a board provisioned before keeps its slot 0 (it may hold its image).
  var was = readConfig(p.storage);
  if (!problem && !options.layout && prof && prof.prove && !(was && !(was as Fault).code && (was as Config).b === options.board) && (problem = prove(p, layout.slots[0]))) {
    problem = "slot 0 " + problem + ": this board's flash past its documented size is not there";
  }
  if (problem) throw fault("layout", "unsafe layout: " + problem);
  // Resume points: one per page before the trailer's, up to POINTS.
  for (i = 0; i < 2; i++) {
    pages = (pagesOf(p.flash, layout.slots[i].addr, layout.slots[i].length) as number[]).length - 1;
    n = Math.max(n, Math.min(POINTS, pages));
  }
  return {
    b: options.board || "",
    s: layout.slots.map(function (s: SlotSpec) { return inner.length && within(s, inner[0]) ? { a: s.addr, l: s.length, r: 1 } : { a: s.addr, l: s.length }; }),
    t: AT.Resume + 8 * n,
    h: inner.length ? [inner[0].addr - FILE_HEADER, p._crc32(p.flash.read(FILE_HEADER, inner[0].addr - FILE_HEADER))] : undefined,
    m: mapped || undefined,
    x: x,
    w: options.trialWatchdog || undefined,
    k: options.chunkSize || (prof && prof.chunkSize) || 4096
  };
}

/**
 * Installs the selector (.boot0) with a checked layout as its last line; returns .boot0's text.
 * Before a reservation .boot0 is written once: reserve() wrote the selector, and the layout goes
 * into the part it left erased (inside the comment the selector ends with).
 */
function store(p: Ports, cfg: Config): string {
  var line = JSON.stringify(cfg), cur = p.storage.read(BOOT_FILE);
  if (!cfg.h) {
    if (cur !== HEAD + line) p.storage.write(BOOT_FILE, HEAD + line);
  } else if (!cur || cur.indexOf(HEAD + line)) {
    if (!cur || cur.substr(0, HEAD.length) !== HEAD || cur.charCodeAt(HEAD.length) !== 255) throw fault("layout", ".boot0 holds another selector or layout: erase Storage and provision again");
    p.storage.write(BOOT_FILE, line, HEAD.length);
  }
  return HEAD + line;
}

/**
 * Creates the layout's reservation (the Storage file whose whole pages hold its slots) on an
 * erased Storage, before anything else is saved: .boot0 first, holding the selector and sized so
 * that the reservation's header ends where the slots' first page begins, then the reservation.
 * Throws a layout fault when Storage already holds other files; does nothing when the reservation
 * is there, and after a power cut between the two writes carries on from the .boot0 it finds.
 */
export function reserve(options: InstallOptions) {
  var p = resolvePorts(options), prof = profile(options.board), layout = options.layout || (prof && prof.layout);
  var res = layout && layout.reserve, st = p.storage.getStats(), area: FlashArea | null, lead = Infinity, i: number, a: number, b: string | undefined;
  if (!res) throw fault("layout", "this layout reserves nothing");
  if (p.storage.read(res.file) !== undefined) return;
  area = storageArea(options, p, (options.memory || memory)(), prof);
  if (!area) throw fault("layout", "reserve: where Storage lies is unknown (give storageAddr)");
  // The reservation's data begins at the lowest slot inside Storage (a raw slot elsewhere does not count).
  for (i = 0; i < 2; i++) {
    a = (layout as Layout).slots[i].addr - area.addr;
    if (a >= 0 && a < area.length) lead = Math.min(lead, a - 2 * FILE_HEADER);
  }
  if (!(lead >= HEAD.length + LINE_ROOM && lead % 4 === 0)) throw fault("layout", "reserve: .boot0 needs the slots " + (HEAD.length + LINE_ROOM + 2 * FILE_HEADER) + " bytes into Storage, on a word (they are " + (lead + 2 * FILE_HEADER) + ")");
  b = p.storage.read(BOOT_FILE);
  if (!(st.fileCount === 1 && !st.trashCount && b && b.length === lead && !b.indexOf(HEAD))) {
    if (st.fileCount + st.trashCount) throw fault("layout", "reserve: Storage is not empty; erase it first (require(\"Storage\").eraseAll())");
    p.storage.write(BOOT_FILE, HEAD, 0, lead);
  }
  p.storage.write(res.file, "\xff", 0, res.length);
}

/** Checks the layout and installs the selector with it (.boot0); returns .boot0's text. Throws a layout fault. */
export function installBoot(options: InstallOptions): string {
  var p = resolvePorts(options);
  return store(p, configure(options, p));
}

/**
 * Copies the application (`code`, default: the Storage file .bootcde) into a slot, marks it
 * verified, confirmed and reported, installs the selector and removes .bootcde. Until .bootcde is
 * gone the selector stands aside, so a power cut at any step still boots the application.
 * cb(err, info).
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
  var st: Store = createStore(p, cfg, function () { storeStep(st); }), latest = load(st), target = latest ? 1 - latest.a.s : 0, room = cfg.s[target].l - cfg.t;
  if (src.length > room) return cb(fault("layout", "provision: application (" + src.length + " bytes) is larger than slot " + target + " (" + room + " bytes)"));
  try { store(p, cfg); } catch (e) { return cb(fault("flash", "provision: " + ((e as Error).message || e))); }
  var w: Writer = createWriter(p, cfg, function () { writerStep(w); }), off = 0, text = src;
  function next(err: Fault | null) {
    if (err) return cb(fault("flash", "provision: " + err.message));
    if (off >= text.length) {
      try {
        // Verified first: a power cut before the confirmed mark leaves a candidate behind .bootcde.
        for (var k = 0; k < 3; k++) p.flash.write(new Uint8Array(4), markAt(cfg, target, [MARK.Verified, MARK.Confirmed, MARK.Reported][k]));
      } catch (e) {
        return cb(fault("flash", "provision: " + ((e as Error).message || e)));
      }
      if (p.storage.read(".bootcde") !== undefined) p.storage.erase(".bootcde");
      return cb(null, info(st, version));
    }
    var n = Math.min(512, text.length - off);
    off += n;
    write(w, text, off - n, n, false, next);
  }
  // The header (its trailer's page erased first), then the image, then its marks.
  append(st, MARK.Progress, { s: target, l: text.length, c: p._crc32(text), v: version }, function (err) {
    begin(w, target, text.length, 0, 0);
    next(err);
  });
}
