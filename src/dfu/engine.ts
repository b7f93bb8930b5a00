// The IAP update loop (DEVELOPERS.md steps 1-8) as an explicit table of phases over one state
// object. Each phase does one request, one boot-state write or one flash step and names the phase
// that takes its result, so every turn of the event loop does a bounded amount of work; the table
// (FLOW in ./flow.ts) says which phase may follow which, and every exit passes through finish(),
// which leaves DFU mode. The phases are the cases of one function: on Espruino every function
// costs RAM for as long as the module is loaded, code inside a function costs none.
import { Client, payload, release, request, Response } from "../notecard/client";
import { fault, Fault } from "../errors";
import { later, Ports } from "../ports";
import { append, BootState, createStore, ImageRef, load, MARK, Store, storeStep } from "../slots/boot-state";
import { Config, readConfig } from "../slots/config";
import { begin, createWriter, write, Writer, writerStep } from "../slots/slot-writer";
import { crcPrefix } from "./crc32";
import { P } from "./flow";
import { Md5AddOn } from "./md5";
import { compareVersions } from "./version";

/** setup()'s options as the engine keeps them (short internal names: each costs RAM on a board). */
export interface EngineOptions {
  _version: string;
  _chunk: number;
  _downgrade: boolean;
  /** Also check the whole image's MD5 against body.md5 (needs `md5`; slow on a board). */
  _verifyMd5: boolean;
  /** The optional MD5 add-on (require("NotecardDFUMD5")): see src/dfu/md5.ts. */
  _md5?: Md5AddOn;
  /** How long to wait for DFU mode, ms. */
  _dfuWait: number;
  /** Re-send hub.set mode:dfu this often during a copy (the card leaves DFU mode after 15 min). */
  _keepAlive: number;
  /** Attempts per chunk after the first. */
  _chunkRetries: number;
  /** Least distance between resume points, bytes (0: every page). */
  _resume: number;
  _onProgress?: (p: Progress) => void;
  _onEvent?: (text: string) => void;
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
  /** Layout and boot state as provisioning stored them (null before). */
  _cfg: Config | null;
  _st: Store | null;
  _ph: P;
  _busy: boolean;
  _cb: CheckCallback;
  _res: CheckResult;
  /** Result of the last request, append or write: error and value. */
  _e: Fault | null;
  _v: any;
  /** The cycle's first dfu.status answer. */
  _rsp: Response;
  _rec: BootState;
  _img: ImageRef;
  /** the card is, or may be, in DFU mode for this download: leave it at the end */
  _entered: boolean;
  _left: boolean;
  _keep: number;
  /** when hub.set mode:dfu was answered; -1 before it (the probe) */
  _wait0: number;
  _tries: number;
  _copy0: number;
  _from: number;
  /** committed offset of the copy's last resume point; -1 before a fresh copy's header */
  _journaled: number;
  _entries: number;
  _mism: number;
  _versionSent: boolean;
  /** The chunk asked for; the failure being confirmed or reported. */
  _n: number;
  _fail: Fault | null;
  /** The one callback for timers and for results: (err, value) then the current phase runs. */
  _tick: (err?: Fault | null, v?: any) => void;
  /** Periodic checks: interval (0 = off), timer, back-off factor, and the timer's callback. */
  _interval: number;
  _timer: unknown;
  _backoff: number;
  _periodic: () => void;
}

/**
 * Default least distance between resume points. Each is two words of the target slot's trailer,
 * which holds a fixed number of them; a reset costs at most this much of the download again.
 */
export const RESUME_EVERY = 16384;

export function createEngine(p: Ports, c: Client, o: EngineOptions): Engine {
  var d = { _p: p, _c: c, _o: o, _busy: false, _versionSent: false, _ph: P.Idle, _cfg: null, _st: null, _interval: 0, _timer: null, _backoff: 1 } as any as Engine;
  d._tick = function (err, v) {
    // The writer and the boot state run their steps on this one timer callback, here: on
    // Espruino a call costs the lexing of its whole function, so a flash step must not go
    // through the engine's.
    if (d._w._busy) return writerStep(d._w);
    if (d._st && d._st._busy) return storeStep(d._st);
    d._e = err || null;
    d._v = v;
    step(d);
  };
  d._w = createWriter(p, null as any as Config, d._tick);
  d._periodic = function () {
    d._timer = null;
    check(d, function (err, res) {
      d._backoff = err && res.state === "retry" ? Math.min(d._backoff * 2, 8) : 1;
    });
  };
  return d;
}

/** The boot state of the provisioned layout; null before provisioning; a layout fault. */
export function bootState(d: Engine): Store | null | Fault {
  var p = d._p, c = d._cfg || readConfig(p.storage);
  // Read once provisioned; a damaged or different layout is read again each time, and refused.
  if (!c || (c as Fault).code) return c as null | Fault;
  // The reservation's header where provisioning left it, checked every time: an application's
  // Storage.eraseAll() or a compaction may have moved it.
  if ((c as Config).h && p._crc32(p.flash.read(32, (c as Config).h![0])) !== (c as Config).h![1]) return fault("layout", "reservation moved: provision again");
  if (!d._cfg) {
    d._cfg = d._w._c = c as Config;
    d._st = createStore(d._p, d._cfg, d._tick);
  }
  return d._st;
}

/** One full update cycle; cb(err, result), result.state says what happened. */
export function check(d: Engine, cb: CheckCallback) {
  if (d._busy) return cb(fault("busy", "check already running"), { state: "retry", error: "busy" });
  d._busy = true;
  // The link keeps its receive buffer for the whole cycle: nothing is allocated per exchange.
  d._c._hold = true;
  d._cb = cb;
  d._res = { state: "idle" };
  d._entered = d._left = false;
  d._copy0 = d._entries = d._mism = d._tries = 0;
  d._wait0 = -1;
  d._fail = null;
  d._ph = P.Status;
  later(d, 0);
}

/** Moves to `next` (the tests hold every move to FLOW, ./flow.ts), and runs it after ms (not when ms < 0: a result will). */
function go(d: Engine, next: P, ms?: number) {
  d._ph = next;
  if (!(ms! < 0)) later(d, ms || 0);
}

/** Sends a request; `next` gets its result in d._e / d._v. */
function ask(d: Engine, req: Response, next: P) {
  go(d, next, -1);
  request(d._c, req, d._tick, 2);
}

function event(d: Engine, text: string) {
  if (d._o._onEvent) d._o._onEvent(text);
}

/**
 * Journals the download position, then `next`: the header of a fresh copy, then resume points.
 * The header is written only when the card is, or is about to be, in DFU mode: a reset still
 * takes it out.
 */
function journal(d: Engine, next: P) {
  var w = d._w;
  d._journaled = w._committed;
  go(d, next, -1);
  append(d._st as Store, MARK.Progress, d._img, d._tick, w._committed, w._committedCrc);
}

/** The copy's phases, which run for every chunk; the others are in phase(), so these lex only themselves. */
function step(d: Engine) {
  var e = d._e, v = d._v, o = d._o, p = d._p, w = d._w, img = d._img, bin: string | Fault, x: any, t: number;
  try {
    switch (d._ph) {
      case P.Copy:
        if (w._pos >= img.l) return go(d, P.Complete);
        if (p.clock() - d._keep > o._keepAlive) {
          d._keep = p.clock();
          event(d, "keep-alive");
          return ask(d, { req: "hub.set", mode: "dfu" }, P.Copy);
        }
        d._n = Math.min(o._chunk, img.l - w._pos);
        return ask(d, { req: "dfu.get", offset: w._pos, length: d._n }, P.Chunk);

      case P.Chunk:
        if (e && /DFU operating mode/.test(e.message)) {
          // DFU mode ended (expiry, card restart): enter it again and carry on at the same offset.
          event(d, "DFU mode lost at " + w._pos);
          return go(d, P.Enter);
        }
        bin = e || payload(d._c, crcPrefix(w._crc), d._n);
        // Without the transport crc, the chunk's MD5 in `status` is the integrity check: the add-on's
        // (Checked made sure it is there).
        if (!d._c._crc && typeof bin === "string" && (x = (o._md5 as Md5AddOn).chunk(d, v.status, p._view(bin, 6, d._n)))) bin = fault("io", x);
        if (typeof bin !== "string") {
          if (++d._tries > o._chunkRetries) return fail(d, bin.code, "chunk " + w._pos + " failed " + d._tries + " times: " + bin.message);
          event(d, "chunk " + w._pos + ": " + bin.message);
          return go(d, P.Copy, 1000);
        }
        d._tries = 0;
        go(d, P.Written, -1);
        write(w, bin, 6, d._n, true, d._tick);
        return;

      case P.Written:
        if (e) return fail(d, "flash", e.message);
        if (o._onProgress) {
          t = p.clock() - d._copy0;
          o._onProgress({ phase: "copy", offset: w._pos, total: img.l, bytesPerSecond: t > 0 ? Math.round((w._pos - d._from) * 1000 / t) : 0 });
        }
        if (w._committed > d._journaled && w._committed - d._journaled >= o._resume) return journal(d, P.Copy);
        // The next request in this turn: a turn of its own would only cost this text again.
        go(d, P.Copy, -1);
        step(d);
        return;

      default:
        return phase(d);
    }
  } catch (err) {
    if (!d._busy) throw err; // the cycle is over: it is the caller's own callback
    fail(d, "internal", "exception: " + ((err as Error).message || err));
  }
}

/** Every phase but the copy's (step() calls it, inside its exception guard). */
function phase(d: Engine) {
  var e = d._e, m = e ? e.message : "", v = d._v, o = d._o, p = d._p, w = d._w, res = d._res, r = d._rec, rsp = d._rsp, img = d._img;
  var req: Response, text: string, x: any, t: number, slot: any;
  switch (d._ph) {
    case P.Status:
      req = { req: "dfu.status" };
      if (!d._versionSent) req.version = o._version;
      return ask(d, req, P.StatusRsp);

    case P.StatusRsp:
      if (e) return fail(d, e.code, "dfu.status: " + m);
      d._versionSent = true;
      rsp = d._rsp = v;
      x = bootState(d);
      if (x && x.code) return fail(d, "layout", x.message);
      r = (x ? load(x) : null) as BootState;
      if (!r) {
        res.state = "unprovisioned";
        return finish(d, fault("layout", "not provisioned"));
      }
      d._rec = r;
      // A download cut short (reset, power) may have left the Notecard in DFU mode: leave it.
      if (r.s === "progress") d._entered = true;
      // Closed loop: tell Notehub what became of the last update, once. Only a confirm's and a
      // revert's outcome carries p: 0 until it is reported.
      if (r.p !== 0) return go(d, P.Checked);
      req = { req: "dfu.status" };
      // stop:true would delete an image Notehub staged since; send it only when none is.
      if (rsp.mode !== "ready" && rsp.mode !== "downloading") req.stop = true;
      if (r.s === "confirmed") req.status = "installed " + (r.a as ImageRef).v;
      else req.err = "rejected " + (r.c as ImageRef).v + ": " + r.r;
      event(d, "report " + (req.err || req.status));
      return ask(d, req, P.Reported);

    case P.Reported:
      if (e) {
        d._e = null;
        return go(d, P.Checked);
      }
      go(d, P.Checked, -1);
      append(d._st as Store, MARK.Reported, null, d._tick);
      return;

    case P.Checked:
      if (e) return fail(d, e.code, m);
      d._rec = (d._st as Store)._latest as BootState;
      if (rsp.mode !== "ready" || d._c._crc) return go(d, P.Gates);
      // Without the transport crc a flipped bit could change the image's description: act only
      // on two identical answers (Recheck), and check every chunk with the MD5 add-on.
      if (!o._md5) return fail(d, "refused", "no crc: needs NotecardDFUMD5");
      return ask(d, { req: "dfu.status" }, P.Recheck);

    case P.Gates:
      res.state = rsp.mode || "idle";
      if (r.s === "trial") {
        res.state = "trial";
        return finish(d, null);
      }
      if (r.s === "pending") {
        event(d, "staged: restart");
        return go(d, P.Stopped);
      }
      if (rsp.mode === "error") res.error = String(rsp.status || "DFU error");
      if (rsp.mode !== "ready") return finish(d, null);
      x = rsp.body || {};
      // body.version: a version string, or the firmware::info JSON text Notehub scanned from the image.
      text = x.version === undefined || x.version === null ? "" : String(x.version);
      if (text.charAt(0) === "{") {
        try { text = String(JSON.parse(text).version); } catch (err) { /* a plain string after all */ }
      }
      res.version = text;
      if (!(x.length > 0) || x.length !== Math.floor(x.length) || typeof x.crc32 !== "number") return fail(d, "refused", "image description incomplete", 1);
      if (x.type !== undefined && x.type !== "firmware") return fail(d, "refused", "image type " + x.type + " is not firmware", 1);
      if (text && text === o._version) {
        res.state = "current";
        return ask(d, { req: "dfu.status", stop: true, status: "already running " + text }, P.Finish);
      }
      if (!o._downgrade && compareVersions(text, o._version) < 0) return fail(d, "refused", "downgrade from " + o._version + " to " + text + " refused", 1);
      if (r.s === "reverted" && r.c && r.c.c === x.crc32 && r.c.l === x.length) return fail(d, "refused", "image " + text + " was rejected before", 1);
      t = 1 - r.a.s;
      slot = (d._cfg as Config).s[t].l - (d._cfg as Config).t;
      if (x.length > slot) return fail(d, "refused", "image (" + x.length + " bytes) is larger than slot " + t + " (" + slot + " bytes)", 1);
      img = d._img = { s: t, l: x.length, c: x.crc32 >>> 0, v: text };
      event(d, "update " + text + " to slot " + t);
      // Prepared before DFU mode, so erasing does not eat its 15 minutes: resume or start afresh.
      // A copy into the trailer's page resumes only once complete: its words are written once.
      x = r.c;
      if (r.s === "progress" && x && x.c === img.c && x.l === img.l && x.s === img.s && r.d && r.d.o > 0 && r.d.o <= img.l && (!r.t || r.d.o === img.l)) {
        event(d, "check " + r.d.o);
        begin(w, t, img.l, 0, 0);
        go(d, P.Resumed, -1);
        write(w, "", 0, o._chunk, false, d._tick, r.d.o);
        return;
      }
      return go(d, P.Fresh);

    case P.Resumed:
      x = r.d;
      if (e || v !== x.k) {
        event(d, "no resume");
        return go(d, P.Fresh);
      }
      begin(w, img.s, img.l, x.o, x.k);
      d._journaled = x.o;
      res.resumedAt = x.o;
      event(d, "resume " + x.o);
      return go(d, P.Probe);

    case P.Fresh:
      // A copy from offset 0. Its header waits until the card is, or is about to be, in DFU mode.
      begin(w, img.s, img.l, 0, 0);
      d._journaled = -1;
      d._wait0 = -1;
      return go(d, P.Probe);

    case P.Probe:
      if (e) return fail(d, e.code, m);
      return ask(d, { req: "dfu.get", length: 0 }, P.ProbeRsp);

    case P.ProbeRsp:
      // Before hub.set (_wait0 -1) the probe asks whether DFU mode is already on; after it, the
      // same request waits for it.
      if (e) {
        if (/DFU operating mode/.test(m) || (d._wait0 < 0 && /\{connected\}|dfu-not-ready|DFU mode is not yet/.test(m))) return go(d, P.Enter);
        if (d._wait0 < 0) return fail(d, e.code, "dfu.get probe: " + m);
        if (p.clock() - d._wait0 > o._dfuWait) return fail(d, e.code, "DFU mode not active after " + Math.round(o._dfuWait / 1000) + " s: " + m);
        return go(d, P.Probe, 2500);
      }
      // DFU mode is active, and the card leaves it at the end even if it was in DFU mode before the
      // cycle. Journaled first, so that a reset takes it out too, then the card is asked again.
      d._entered = true;
      if (d._journaled < 0) return journal(d, P.Probe);
      d._keep = p.clock();
      if (!d._copy0) {
        d._copy0 = d._keep;
        d._from = w._pos;
      }
      return go(d, P.Copy);

    case P.Enter:
      // Journal first (then the card is asked again): a reset after hub.set still knows to take
      // the card out of DFU mode.
      d._entered = true;
      if (d._journaled < 0) return journal(d, P.Probe);
      return go(d, P.Entering);

    case P.Entering:
      if (++d._entries > 10) return fail(d, "card", "DFU mode lost 10 times");
      event(d, "enter DFU mode");
      return ask(d, { req: "hub.set", mode: "dfu" }, P.EnterRsp);

    case P.EnterRsp:
      if (e) return fail(d, e.code, "hub.set mode:dfu refused: " + m);
      d._wait0 = p.clock();
      return go(d, P.Probe);

    case P.Complete:
      d._left = true;
      event(d, "leave DFU mode");
      return ask(d, { req: "hub.set", mode: "dfu-completed" }, P.Verify);

    case P.Verify:
      if (w._crc !== img.c) {
        text = "image CRC-32 " + w._crc + ", expected " + img.c;
        if (d._mism) return fail(d, "refused", text + " twice", 1);
        // Once could be a corruption the chunk checks missed: copy it again from the start, in DFU mode again.
        d._mism = 1;
        d._left = false;
        event(d, text + "; copying it again");
        return go(d, P.Fresh);
      }
      // The add-on's whole-image check (setup() made sure it is there).
      if (o._verifyMd5 && (text = (o._md5 as Md5AddOn).image(p.flash.read(img.l, (d._cfg as Config).s[img.s].a), rsp.body.md5))) return fail(d, "refused", text, 1);
      event(d, "verified");
      go(d, P.Staged, -1);
      append(d._st as Store, MARK.Verified, null, d._tick);
      return;

    case P.Staged:
      if (e) return fail(d, e.code, m);
      event(d, "staged in slot " + img.s);
      return ask(d, { req: "dfu.status", stop: true, status: "installing " + img.v }, P.Stopped);

    case P.Stopped:
      res.state = "updated";
      event(d, "restart");
      finish(d, null);
      return void p.timers.set(p.reboot, 10);

    case P.Recheck:
      // A second dfu.status must describe the same ready image: before acting on a card without
      // crc (no failure yet), and before dropping the image for a definitive failure.
      x = d._fail;
      if (e || v.mode !== "ready" || JSON.stringify(v.body) !== JSON.stringify(rsp.body)) return fail(d, "io", x ? x.message + " (not confirmed by a second dfu.status)" : "two dfu.status answers disagree");
      if (!x) return go(d, P.Gates);
      return ask(d, { req: "dfu.status", stop: true, err: x.message }, P.Rejected);

    case P.Rejected:
      x = load(d._st as Store);
      if (!x || x.s !== "progress") return finish(d, d._fail);
      go(d, P.Finish, -1);
      append(d._st as Store, MARK.Abandoned, null, d._tick);
      return;

    case P.Finish:
      return finish(d, res.state === "failed" ? d._fail : null);

    case P.Done:
      d._busy = false;
      d._c._hold = false;
      release(d._c);
      d._ph = P.Idle;
      if (d._fail && !res.error) res.error = d._fail.message;
      d._cb(d._fail, res);
      if (d._interval && d._timer === null) d._timer = p.timers.set(d._periodic, d._interval * d._backoff);
  }
}

/**
 * A failure. Definitive: the image itself is bad; after a second dfu.status agrees, Notehub is told
 * and the image dropped. Otherwise the next cycle tries again.
 */
function fail(d: Engine, code: string, text: string, definitive?: number) {
  var res = d._res;
  res.state = definitive ? "failed" : "retry";
  res.error = text;
  d._fail = fault(code as Fault["code"], text);
  event(d, (definitive ? "failed: " : "retry: ") + text);
  if (!definitive) return finish(d, d._fail);
  // Dropping the Notecard's image is final: first read its description again. A corrupted answer
  // (cards without crc) or an image Notehub replaced meanwhile makes this transient.
  ask(d, { req: "dfu.status" }, P.Recheck);
}

/** Every exit: leave DFU mode if we entered it, then report (phase Done). */
function finish(d: Engine, err: Fault | null) {
  d._fail = err;
  d._ph = P.Done;
  if (d._entered && !d._left) {
    d._left = true;
    event(d, "leave DFU mode");
    return ask(d, { req: "hub.set", mode: "dfu-completed" }, P.Done);
  }
  step(d);
}
