// The IAP update loop (DEVELOPERS.md steps 1-8) as an explicit table of phases. Each phase is a
// top-level function of the one state object: it does one request, one record append or one flash
// step and names the phase that takes its result, so every turn of the event loop does a bounded
// amount of work. Every exit passes through finish(), which leaves DFU mode.
import { Client, crcSeen, payload, request, Response } from "../notecard/client";
import { describe, fault, Fault } from "../errors";
import { Ports } from "../ports";
import { Config } from "../slots/config";
import { append, BootRecord, createRecords, ImageRef, load, Records } from "../slots/record-store";
import { begin, readSlot, scan, write, Writer } from "../slots/slot-writer";
import { crcPrefix } from "./crc32";
import { compareVersions } from "./version";

export interface EngineOptions {
  version: string;
  chunkSize: number;
  allowDowngrade: boolean;
  /** Also check the whole image's MD5 against body.md5 (needs `md5`; slow on a board). */
  verifyMd5: boolean;
  /** The optional MD5 add-on (require("NotecardDFUMD5")): hex(bytes) is their lowercase hex MD5. */
  md5?: { hex(data: Uint8Array): string };
  /** How long to wait for DFU mode, ms. */
  dfuWaitMs: number;
  /** Re-send hub.set mode:dfu this often during a copy (the card leaves DFU mode after 15 min). */
  keepAliveMs: number;
  /** Attempts per chunk after the first. */
  chunkRetries: number;
  onProgress?: (p: Progress) => void;
  onEvent?: (text: string) => void;
}

export interface Progress {
  phase: string;
  offset: number;
  total: number;
  bytesPerSecond: number;
}

export interface CheckResult {
  /** unprovisioned | idle | downloading | error | current | trial | updated | failed | retry */
  state: string;
  version?: string;
  /** The failure, when state is failed (definitive, reported to Notehub) or retry (transient). */
  error?: string;
  /** The copy continued from this offset after a reset. */
  resumedAt?: number;
}

export type CheckCallback = (err: Fault | null, result: CheckResult) => void;

export interface Engine {
  _p: Ports;
  _c: Client;
  _w: Writer;
  _o: EngineOptions;
  /** Layout and boot record, read at the start of each cycle. */
  _cfg: Config | null;
  _rs: Records | null;
  _get: () => Config | null | Fault;
  _ph: P;
  _busy: boolean;
  _cb: CheckCallback;
  _res: CheckResult;
  /** Result of the last request, append or write: error and value. */
  _e: Fault | null;
  _v: any;
  _rsp: Response;
  _rec: BootRecord;
  _body: Response;
  _img: ImageRef;
  _entered: boolean;
  _left: boolean;
  _keep: number;
  _wait0: number;
  _tries: number;
  _copy0: number;
  _from: number;
  _journaled: number;
  _entries: number;
  _restarted: boolean;
  _mism: number;
  _md5seen: boolean;
  _versionSent: boolean;
  /** The chunk asked for; the failure being confirmed or reported. */
  _n: number;
  _fail: Fault;
  _k: (err: Fault | null, v?: any) => void;
  _tick: () => void;
  /** After each cycle (the periodic timer hooks in here). */
  _after: () => void;
}

/** The phases. Names say what the phase does with the result of the one before. */
export const enum P {
  Status, StatusRsp, Reported, Checked, Again, Gates, Resumed, Probe, ProbeRsp, Enter, Entering,
  EnterRsp, Wait, WaitRsp, Copy, Chunk, Written, Complete, Verify, Staged, Stopped, Recopy,
  FailRsp, Rejected, Finish, Done
}

/** Which phase may follow which: the loop's state table. Any phase may fail or finish. */
var FLOW = [
  /* Status */ 1 << P.StatusRsp,
  /* StatusRsp */ 1 << P.Reported | 1 << P.Checked,
  /* Reported */ 1 << P.Checked,
  /* Checked */ 1 << P.Again | 1 << P.Gates,
  /* Again */ 1 << P.Gates,
  /* Gates */ 1 << P.Resumed | 1 << P.Probe | 1 << P.Stopped | 1 << P.Finish,
  /* Resumed */ 1 << P.Probe,
  /* Probe */ 1 << P.ProbeRsp,
  /* ProbeRsp */ 1 << P.Copy | 1 << P.Enter,
  /* Enter */ 1 << P.Entering,
  /* Entering */ 1 << P.EnterRsp,
  /* EnterRsp */ 1 << P.Wait,
  /* Wait */ 1 << P.WaitRsp,
  /* WaitRsp */ 1 << P.Copy | 1 << P.Wait | 1 << P.Enter,
  /* Copy */ 1 << P.Copy | 1 << P.Chunk | 1 << P.Complete,
  /* Chunk */ 1 << P.Copy | 1 << P.Enter | 1 << P.Written,
  /* Written */ 1 << P.Copy,
  /* Complete */ 1 << P.Verify,
  /* Verify */ 1 << P.Staged | 1 << P.Recopy,
  /* Staged */ 1 << P.Stopped,
  /* Stopped */ 0,
  /* Recopy */ 0,
  /* FailRsp */ 1 << P.Rejected,
  /* Rejected */ 1 << P.Finish,
  /* Finish */ 1 << P.Done,
  /* Done */ 0
];

/** The card needs hub.set mode:dfu (again), or is still entering it. */
var NOT_IN_DFU = /DFU operating mode/;
var NOT_YET = /\{connected\}|dfu-not-ready|DFU mode is not yet/;
var HEX = /^[0-9a-fA-F]+$/;
/** Entries into DFU mode one cycle may make (the first, and re-entries after the card drops it). */
var MAX_ENTRIES = 10;
var POLL_MS = 2500;
var CHUNK_RETRY_MS = 1000;

export function createEngine(p: Ports, c: Client, w: Writer, o: EngineOptions, get: () => Config | null | Fault, after: () => void): Engine {
  var d = { _p: p, _c: c, _w: w, _o: o, _get: get, _after: after, _busy: false, _versionSent: false } as any as Engine;
  d._tick = function () { run(d); };
  d._k = function (err, v) {
    d._e = err;
    d._v = v;
    run(d);
  };
  return d;
}

/** The boot record store of the provisioned layout; null before provisioning. */
export function records(d: Engine): Records | null | Fault {
  var cfg = d._get();
  if (!cfg || (cfg as Fault).code) return cfg as null | Fault;
  if (cfg !== d._cfg) {
    d._cfg = cfg as Config;
    d._rs = createRecords(d._p, cfg as Config);
  }
  return d._rs;
}

/** One full update cycle; cb(err, result), result.state says what happened. */
export function check(d: Engine, cb: CheckCallback) {
  if (d._busy) return cb(fault("busy", "an update check is already running"), { state: "retry", error: "busy" });
  d._busy = true;
  d._cb = cb;
  d._res = { state: "idle" };
  d._entered = d._left = d._restarted = d._md5seen = false;
  d._copy0 = d._entries = d._mism = d._tries = 0;
  d._ph = P.Status;
  d._p.timers.set(d._tick, 0);
}

function run(d: Engine) {
  try {
    PHASES[d._ph](d);
  } catch (e) {
    if (!d._busy) throw e; // the cycle is over: it is the caller's own callback
    fail(d, "internal", "exception: " + describe(e));
  }
}

/** Moves to `next` (checked against the table), now or after ms. */
function go(d: Engine, next: P, ms?: number) {
  if (!to(d, next)) return;
  d._p.timers.set(d._tick, ms || 0);
}

function to(d: Engine, next: P): boolean {
  if (!((FLOW[d._ph] >> next) & 1)) {
    fail(d, "internal", "phase " + d._ph + " -> " + next + " is not in the table");
    return false;
  }
  d._ph = next;
  return true;
}

/** Sends a request; `next` gets its result in d._e / d._v. */
function ask(d: Engine, req: Response, next: P) {
  if (to(d, next)) request(d._c, req, d._k, 2);
}

function event(d: Engine, text: string) {
  if (d._o.onEvent) d._o.onEvent(text);
}

/** body.version: a version string, or the firmware::info JSON text Notehub scanned from the image. */
function imageVersion(v: unknown): string {
  if (v === undefined || v === null) return "";
  var t = String(v);
  if (t.charAt(0) === "{") {
    try { var info = JSON.parse(t); if (info && info.version !== undefined) return String(info.version); } catch (e) { /* a plain string after all */ }
  }
  return t;
}

function same(a: Response, b: Response): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function status(d: Engine) {
  var req: Response = { req: "dfu.status" };
  if (!d._versionSent) req.version = d._o.version;
  ask(d, req, P.StatusRsp);
}

function statusRsp(d: Engine) {
  var rsp = d._v as Response, r: BootRecord | null;
  if (d._e) return fail(d, d._e.code, "dfu.status: " + d._e.message);
  d._versionSent = true;
  d._rsp = rsp;
  var rs = records(d);
  if (rs && (rs as Fault).code) return fail(d, "layout", (rs as Fault).message);
  r = rs ? load(rs as Records) : null;
  if (!r) {
    d._res.state = "unprovisioned";
    return finish(d, fault("layout", "not provisioned: run provision() once"));
  }
  d._rec = r;
  // A download cut short (reset, power) may have left the Notecard in DFU mode: leave it.
  if (r.s === "progress" && r.m) d._entered = true;
  // Closed loop: tell Notehub what became of the last update, once.
  if (r.p !== 0 || (r.s !== "confirmed" && r.s !== "reverted")) return go(d, P.Checked);
  var req: Response = { req: "dfu.status" };
  // stop:true would delete an image Notehub staged since; send it only when none is.
  if (rsp.mode !== "ready" && rsp.mode !== "downloading") req.stop = true;
  if (r.s === "confirmed") req.status = "installed " + (r.a as ImageRef).v;
  else req.err = "rejected " + (r.c as ImageRef).v + ": " + r.r;
  event(d, "reporting: " + (req.err || req.status));
  ask(d, req, P.Reported);
}

function reported(d: Engine) {
  var r = d._rec;
  if (d._e) {
    d._e = null;
    return go(d, P.Checked);
  }
  if (to(d, P.Checked)) append(d._rs as Records, "reported", { q: 0, s: r.s, a: r.a, b: r.b, c: r.c, r: r.r, p: 1 }, d._k);
}

function checked(d: Engine) {
  var rsp = d._rsp;
  if (d._e) return fail(d, d._e.code, d._e.message);
  d._rec = (d._rs as Records)._latest as BootRecord;
  if (rsp.mode !== "ready" || crcSeen(d._c)) return go(d, P.Gates);
  // Without the transport crc a flipped bit could change the image's description: act only on two
  // identical answers.
  ask(d, { req: "dfu.status" }, P.Again);
}

function again(d: Engine) {
  var a = d._v as Response;
  if (d._e || a.mode !== d._rsp.mode || !same(a.body, d._rsp.body)) return fail(d, "io", "two dfu.status answers disagree");
  go(d, P.Gates);
}

function gates(d: Engine) {
  var r = d._rec, rsp = d._rsp, o = d._o, res = d._res, body: Response;
  res.state = rsp.mode || "idle";
  if (r.s === "trial") {
    res.state = "trial";
    return finish(d, null);
  }
  if (r.s === "pending") {
    event(d, "an update is staged: restarting into it");
    return go(d, P.Stopped);
  }
  if (rsp.mode === "error") res.error = String(rsp.status || "the Notecard reports a DFU error");
  if (rsp.mode !== "ready") return finish(d, null);
  body = d._body = rsp.body || {};
  var v = res.version = imageVersion(body.version);
  if (!(body.length > 0) || body.length !== Math.floor(body.length) || typeof body.crc32 !== "number") {
    return reject(d, "image description incomplete (length/crc32)");
  }
  if (body.type !== undefined && body.type !== "firmware") return reject(d, "image type " + body.type + " is not firmware");
  if (v && v === o.version) {
    res.state = "current";
    return ask(d, { req: "dfu.status", stop: true, status: "already running " + v }, P.Finish);
  }
  if (!o.allowDowngrade && compareVersions(v, o.version) < 0) return reject(d, "downgrade from " + o.version + " to " + v + " refused");
  if (r.s === "reverted" && r.c && r.c.c === body.crc32 && r.c.l === body.length) return reject(d, "image " + v + " was rejected at its trial boot");
  var target = 1 - (r.a as ImageRef).s, slot = (d._cfg as Config).s[target];
  if (body.length > slot.l) return reject(d, "image (" + body.length + " bytes) is larger than slot " + target + " (" + slot.l + " bytes)");
  var img = d._img = { s: target, l: body.length, c: body.crc32 >>> 0, v: v }, c = r.c, at = r.d;
  event(d, "update " + o.version + " -> " + v + ": " + img.l + " bytes into slot " + target);
  // Prepared before DFU mode, so erasing does not eat its 15 minutes: resume or start afresh.
  if (r.s === "progress" && c && c.c === img.c && c.l === img.l) {
    d._mism = r.x || 0;
    if (at && at.o > 0 && c.s === img.s) {
      event(d, "checking the " + at.o + " bytes copied before the reset");
      if (to(d, P.Resumed)) scan(d._w, slot, at.o, o.chunkSize, d._k);
      return;
    }
  }
  fresh(d, P.Probe);
}

/** Starts the copy at offset 0, journals it, then `next`. */
function fresh(d: Engine, next: P) {
  begin(d._w, (d._cfg as Config).s[d._img.s], d._img.l, 0, 0);
  d._journaled = 0;
  journal(d, next);
}

/** Journals the download position (and whether we put the card in DFU mode), then `next`. */
function journal(d: Engine, next: P) {
  var w = d._w;
  if (to(d, next)) append(d._rs as Records, "progress", { q: 0, s: "progress", a: d._rec.a, c: d._img, d: { o: w._committed, k: w._committedCrc }, m: d._entered ? 1 : undefined, x: d._mism || undefined }, d._k);
}

function resumed(d: Engine) {
  var at = d._rec.d as { o: number; k: number };
  if (d._e || d._v !== at.k) {
    event(d, "they do not match their journal: starting again");
    return fresh(d, P.Probe);
  }
  begin(d._w, (d._cfg as Config).s[d._img.s], d._img.l, at.o, at.k);
  d._res.resumedAt = at.o;
  event(d, "resuming at offset " + at.o);
  go(d, P.Probe);
}

function probe(d: Engine) {
  if (d._e) return fail(d, d._e.code, d._e.message);
  ask(d, { req: "dfu.get", length: 0 }, P.ProbeRsp);
}

function probeRsp(d: Engine) {
  var e = d._e;
  if (!e) {
    event(d, "the Notecard serves the image without DFU mode");
    return startCopy(d);
  }
  if (NOT_IN_DFU.test(e.message) || NOT_YET.test(e.message)) return go(d, P.Enter);
  fail(d, e.code, "dfu.get probe: " + e.message);
}

function enter(d: Engine) {
  if (++d._entries > MAX_ENTRIES) return fail(d, "card", "the Notecard left DFU mode " + MAX_ENTRIES + " times");
  event(d, "entering DFU mode");
  // Journal first: a reset after hub.set still knows to take the card out of DFU mode.
  d._entered = true;
  d._left = false;
  journal(d, P.Entering);
}

function entering(d: Engine) {
  if (d._e) return fail(d, d._e.code, d._e.message);
  ask(d, { req: "hub.set", mode: "dfu" }, P.EnterRsp);
}

function enterRsp(d: Engine) {
  if (d._e) return fail(d, d._e.code, "hub.set mode:dfu refused: " + d._e.message);
  d._keep = d._wait0 = d._p.clock();
  go(d, P.Wait);
}

function wait(d: Engine) {
  ask(d, { req: "dfu.get", length: 0 }, P.WaitRsp);
}

function waitRsp(d: Engine) {
  var e = d._e;
  if (!e) return startCopy(d);
  if (NOT_IN_DFU.test(e.message)) return go(d, P.Enter);
  if (d._p.clock() - d._wait0 > d._o.dfuWaitMs) return fail(d, e.code, "DFU mode not active after " + Math.round(d._o.dfuWaitMs / 1000) + " s: " + e.message);
  go(d, P.Wait, POLL_MS);
}

function startCopy(d: Engine) {
  if (!d._copy0) {
    d._copy0 = d._p.clock();
    d._from = d._journaled = d._w._pos;
  }
  go(d, P.Copy);
}

function copy(d: Engine) {
  var w = d._w, pos = w._pos, p = d._p;
  if (pos >= d._img.l) return go(d, P.Complete);
  if (d._entered && p.clock() - d._keep > d._o.keepAliveMs) {
    d._keep = p.clock();
    event(d, "refreshing DFU mode");
    return ask(d, { req: "hub.set", mode: "dfu" }, P.Copy);
  }
  d._n = Math.min(d._o.chunkSize, d._img.l - pos);
  ask(d, { req: "dfu.get", offset: pos, length: d._n }, P.Chunk);
}

function chunk(d: Engine) {
  var e = d._e, rsp = d._v as Response, n = d._n, w = d._w, o = d._o, st: string, bin: string | Fault;
  if (e && NOT_IN_DFU.test(e.message)) {
    // DFU mode ended (expiry, card restart): enter it again and carry on at the same offset.
    event(d, "DFU mode lost at offset " + w._pos);
    return go(d, P.Enter);
  }
  bin = e || payload(d._c, crcPrefix(w._crc), n);
  // Without the transport crc, the chunk's MD5 in `status` is the integrity check; once the card
  // has sent one, a chunk without it is as suspect as one that fails it.
  if (typeof bin === "string" && !crcSeen(d._c)) {
    st = rsp.status;
    if (typeof st === "string" && st.length === 32 && HEX.test(st)) {
      d._md5seen = true;
      if (!o.md5) return fail(d, "refused", "this Notecard sends no crc: chunks need the NotecardDFUMD5 add-on");
      if (o.md5.hex(d._p.natives.view(bin, 6, n)) !== st.toLowerCase()) bin = fault("io", "MD5 mismatch");
    } else if (d._md5seen) bin = fault("io", "no chunk MD5");
  }
  if (typeof bin !== "string") {
    if (++d._tries > o.chunkRetries) return fail(d, bin.code, "chunk at offset " + w._pos + " failed " + d._tries + " times: " + bin.message);
    event(d, "chunk at offset " + w._pos + " rejected (" + bin.message + "), retrying");
    return go(d, P.Copy, CHUNK_RETRY_MS);
  }
  d._tries = 0;
  if (to(d, P.Written)) write(w, bin, 6, n, true, d._k);
}

function written(d: Engine) {
  var w = d._w, o = d._o, dt: number;
  if (d._e) {
    if (!w._dirty || d._restarted) return fail(d, "flash", d._e.message);
    d._restarted = true;
    event(d, d._e.message + ": starting the copy again");
    return fresh(d, P.Copy);
  }
  if (o.onProgress) {
    dt = d._p.clock() - d._copy0;
    o.onProgress({ phase: "copy", offset: w._pos, total: d._img.l, bytesPerSecond: dt > 0 ? Math.round((w._pos - d._from) * 1000 / dt) : 0 });
  }
  if (w._committed > d._journaled) {
    d._journaled = w._committed;
    return journal(d, P.Copy);
  }
  go(d, P.Copy);
}

function complete(d: Engine) {
  if (!d._entered) return go(d, P.Verify);
  d._left = true;
  event(d, "leaving DFU mode");
  ask(d, { req: "hub.set", mode: "dfu-completed" }, P.Verify);
}

function verify(d: Engine) {
  var img = d._img, o = d._o, crc = d._w._crc, text: string;
  if (crc !== img.c) {
    text = "image CRC-32 " + crc + " does not match the Notecard's " + img.c;
    if (d._mism) return reject(d, text + " twice");
    // Once could be a corruption the chunk checks missed: copy it again from the start.
    d._mism = 1;
    d._fail = fault("io", text + "; copying it again");
    return fresh(d, P.Recopy);
  }
  if (o.verifyMd5 && typeof d._body.md5 === "string") {
    if (!o.md5) return fail(d, "refused", "verifyMd5 needs the NotecardDFUMD5 add-on");
    var all = readSlot(d._p, (d._cfg as Config).s[img.s], 0, img.l);
    if (o.md5.hex(typeof all === "string" ? d._p.natives.view(all, 0, img.l) : all) !== d._body.md5.toLowerCase()) return reject(d, "image MD5 does not match the Notecard's");
  }
  event(d, "image verified (CRC-32 " + img.c + ")");
  if (to(d, P.Staged)) append(d._rs as Records, "verified", { q: 0, s: "pending", a: d._rec.a, c: img }, d._k);
}

function recopy(d: Engine) {
  fail(d, d._fail.code, d._fail.message);
}

function staged(d: Engine) {
  if (d._e) return fail(d, d._e.code, d._e.message);
  event(d, "slot " + d._img.s + " is the next boot, on trial");
  ask(d, { req: "dfu.status", stop: true, status: "installing " + d._img.v }, P.Stopped);
}

function stopped(d: Engine) {
  var p = d._p;
  d._res.state = "updated";
  event(d, "restarting");
  finish(d, null);
  p.timers.set(p.reboot, 10);
}

/** A definitive failure: the image itself is bad. */
function reject(d: Engine, text: string) {
  fail(d, "refused", text, 1);
}

/** A failure. Definitive: the image itself is bad; Notehub is told and the image dropped. Otherwise: retry next cycle. */
function fail(d: Engine, code: string, text: string, definitive?: number) {
  var res = d._res;
  res.state = definitive ? "failed" : "retry";
  res.error = text;
  d._fail = fault(code as Fault["code"], text);
  event(d, (definitive ? "update failed: " : "will retry: ") + text);
  if (!definitive) return finish(d, d._fail);
  // Dropping the Notecard's image is final: first read its description again. A corrupted answer
  // (cards without crc) or an image Notehub replaced meanwhile makes this transient.
  d._ph = P.FailRsp;
  request(d._c, { req: "dfu.status" }, d._k);
}

function failRsp(d: Engine) {
  var a = d._v as Response, text = d._fail.message;
  if (d._e || a.mode !== "ready" || !same(a.body, d._body)) return fail(d, "io", text + " (not confirmed by a second dfu.status; trying again later)");
  ask(d, { req: "dfu.status", stop: true, err: text }, P.Rejected);
}

function rejected(d: Engine) {
  var r = load(d._rs as Records);
  if (!r || r.s !== "progress") return finish(d, d._fail);
  if (to(d, P.Finish)) append(d._rs as Records, "abandon", { q: 0, s: "confirmed", a: r.a, p: 1 }, d._k);
}

function finishRsp(d: Engine) {
  finish(d, d._res.state === "failed" ? d._fail : null);
}

/** Every exit: leave DFU mode if we entered it, then report. */
function finish(d: Engine, err: Fault | null) {
  d._fail = err as Fault;
  if (d._entered && !d._left) {
    d._left = true;
    event(d, "leaving DFU mode");
    d._ph = P.Done;
    return request(d._c, { req: "hub.set", mode: "dfu-completed" }, d._k);
  }
  d._ph = P.Done;
  done(d);
}

function done(d: Engine) {
  var err = d._fail;
  d._busy = false;
  if (err && !d._res.error) d._res.error = err.message;
  d._cb(err || null, d._res);
  d._after();
}

/** Phase number -> its function (after them all: Espruino does not hoist). */
var PHASES = [status, statusRsp, reported, checked, again, gates, resumed, probe, probeRsp, enter, entering,
  enterRsp, wait, waitRsp, copy, chunk, written, complete, verify, staged, stopped, recopy,
  failRsp, rejected, finishRsp, done];
