// The IAP update loop (DEVELOPERS.md steps 1-8) as an explicit table of phases: each phase does one
// request or one flash step and names the phase that follows, so every turn of the event loop does
// a bounded amount of work and every exit passes through finish(), which leaves DFU mode.
import { Client, Response } from "../notecard/client";
import { describe, LinkError } from "../notecard/errors";
import { Ports } from "../ports";
import { BootRecord, ImageRef } from "../slots/record-store";
import { DIRTY, SlotWriter } from "../slots/slot-writer";
import { Slots } from "../slots/slots";
import { md5Hex } from "./md5";
import { compareVersions } from "./version";

export interface EngineOptions {
  version: string;
  chunkSize: number;
  allowDowngrade: boolean;
  /** Also check the whole image's MD5 against body.md5 (ES5 MD5: slow on a board). */
  verifyMd5: boolean;
  /** How long to wait for DFU mode, and how often to probe, ms. */
  dfuWaitMs: number;
  dfuPollMs: number;
  /** Re-send hub.set mode:dfu this often during a copy (the card leaves DFU mode after 15 min). */
  keepAliveMs: number;
  /** Attempts per chunk after the first, and the pause between them, ms. */
  chunkRetries: number;
  chunkRetryDelayMs: number;
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

export type CheckCallback = (err: LinkError | null, result: CheckResult) => void;

/** Which phase may follow which: the loop's state table. */
var FLOW: { [phase: string]: string[] } = {
  start: ["status"],
  status: ["prepare", "reboot", "done", "fail"],
  prepare: ["probe", "fail"],
  probe: ["copy", "enter", "fail"],
  enter: ["wait", "fail"],
  wait: ["copy", "wait", "enter", "fail"],
  copy: ["copy", "enter", "complete", "fail"],
  complete: ["verify"],
  verify: ["stage", "fail"],
  stage: ["stop", "fail"],
  stop: ["reboot"],
  reboot: ["done"],
  fail: ["done"]
};

/** The card needs hub.set mode:dfu (again), or is still entering it. */
var NOT_IN_DFU = /DFU operating mode/;
var NOT_YET = /\{connected\}|dfu-not-ready|DFU mode is not yet/;
var HEX = /^[0-9a-fA-F]+$/;
/** Entries into DFU mode one cycle may make (the first, and re-entries after the card drops it). */
var MAX_ENTRIES = 10;

/** body.version: a version string, or the firmware::info JSON text Notehub scanned from the image. */
function imageVersion(v: unknown): string {
  if (v === undefined || v === null) return "";
  var t = String(v);
  if (t.charAt(0) === "{") {
    try { var info = JSON.parse(t); if (info && info.version !== undefined) return String(info.version); } catch (e) { /* a plain string after all */ }
  }
  return t;
}

export function createEngine(ports: Ports, client: Client, s: Slots, writer: SlotWriter, o: EngineOptions) {
  var running = false;
  var versionReported = false;

  function check(cb: CheckCallback) {
    if (running) return cb({ code: "busy", message: "an update check is already running" }, { state: "retry", error: "busy" });
    running = true;
    var phase = "start";
    var entered = false, left = false, lastKeepAlive = 0, waitStart = 0;
    var rec: BootRecord | null = null, body: Response = {}, image: ImageRef = { s: 0, l: 0, c: 0, v: "" };
    var chunkTries = 0, copyStart = 0, copyFrom = 0, journaled = 0, entries = 0, restarted = false, mismatches = 0, md5Seen = false;
    var result: CheckResult = { state: "idle" };

    function event(text: string) {
      if (o.onEvent) o.onEvent(text);
    }
    function progress(name: string) {
      if (!o.onProgress) return;
      var dt = ports.clock() - copyStart;
      o.onProgress({ phase: name, offset: writer.pos(), total: image.l, bytesPerSecond: dt > 0 ? Math.round((writer.pos() - copyFrom) * 1000 / dt) : 0 });
    }
    function go(next: string, fn: () => void, ms?: number) {
      if (FLOW[phase].indexOf(next) < 0) return finish({ code: "io", message: "internal: " + phase + " -> " + next + " is not in the table" });
      phase = next;
      ports.timers.set(function () {
        try { fn(); } catch (e) { fail(false, "exception in " + next + ": " + describe(e)); }
      }, ms || 0);
    }
    /**
     * Wraps a callback the link, the record store or the writer will call from its own timer: an
     * exception in it ends this cycle cleanly (leaving DFU mode) instead of escaping the timer.
     */
    function guard<A, B>(fn: (a: A, b?: B) => void): (a: A, b?: B) => void {
      return function (a: A, b?: B) {
        try { fn(a, b); } catch (e) {
          if (!running) throw e; // the cycle is over: it is the caller's own callback
          fail(false, "exception: " + describe(e));
        }
      };
    }
    function request(req: Response, done: (err: LinkError | null, rsp: Response) => void) {
      client.request(req, guard(function (err: LinkError | null, rsp?: Response) { done(err, rsp || {}); }));
    }

    /** Every exit: leave DFU mode if we entered it, then report. */
    function finish(err: LinkError | null) {
      if (entered && !left) {
        left = true;
        event("leaving DFU mode");
        return request({ req: "hub.set", mode: "dfu-completed" }, function () { finish(err); });
      }
      running = false;
      if (err && !result.error) result.error = err.message;
      cb(err, result);
    }

    /** definitive: the image itself is bad; tell Notehub and drop it. Otherwise retry next cycle. */
    function fail(definitive: boolean, text: string) {
      phase = "fail";
      result.state = definitive ? "failed" : "retry";
      result.error = text;
      event((definitive ? "update failed: " : "will retry: ") + text);
      var err: LinkError = { code: definitive ? "card" : "io", message: text };
      if (!definitive) return finish(err);
      // Dropping the Notecard's image is final: first read its description again. A corrupted
      // answer (cards without crc) or an image Notehub replaced meanwhile makes this transient.
      request({ req: "dfu.status" }, function (e, again) {
        if (e || again.mode !== "ready" || JSON.stringify(again.body) !== JSON.stringify(body)) {
          return fail(false, text + " (not confirmed by a second dfu.status; trying again later)");
        }
        reject(text, err);
      });
    }

    function reject(text: string, err: LinkError) {
      request({ req: "dfu.status", stop: true, err: text }, function () {
        var r = s.records.latest();
        if (!r || r.s !== "progress") return finish(err);
        s.records.append("abandon", { q: 0, s: "confirmed", a: r.a, p: 1 }, guard(function () { finish(err); }));
      });
    }

    function status() {
      var req: Response = { req: "dfu.status" };
      if (!versionReported) req.version = o.version;
      request(req, function (err, rsp) {
        if (err) return fail(false, "dfu.status: " + err.message);
        versionReported = true;
        rec = s.records.load();
        // A download cut short (reset, power) may have left the Notecard in DFU mode: leave it.
        if (rec && rec.s === "progress" && rec.m) entered = true;
        if (!rec) {
          result.state = "unprovisioned";
          return finish({ code: "card", message: "not provisioned: call provision() once to put the application in slot 0" });
        }
        reportOutcome(rsp, function () {
          if (rsp.mode !== "ready" || client.crcSeen()) return gates(rsp);
          // Without the transport crc a flipped bit could change the image's description: act only
          // on two identical answers.
          request({ req: "dfu.status" }, function (e2, again) {
            if (e2 || again.mode !== rsp.mode || JSON.stringify(again.body) !== JSON.stringify(rsp.body)) {
              return fail(false, "two dfu.status answers disagree");
            }
            gates(rsp);
          });
        });
      });
    }

    /** Closed loop: tell Notehub what became of the last update, once. */
    function reportOutcome(rsp: Response, then: () => void) {
      var r = rec as BootRecord;
      if (r.p !== 0 || (r.s !== "confirmed" && r.s !== "reverted")) return then();
      var req: Response = { req: "dfu.status" };
      // stop:true would delete an image Notehub staged since; send it only when none is.
      if (rsp.mode !== "ready" && rsp.mode !== "downloading") req.stop = true;
      if (r.s === "confirmed") req.status = "installed " + (r.a as ImageRef).v;
      else req.err = "rejected " + (r.c as ImageRef).v + ": " + r.r;
      event(r.s === "confirmed" ? "reporting: installed " + (r.a as ImageRef).v : "reporting: " + req.err);
      request(req, function (err) {
        if (err) return then();
        s.records.append("reported", { q: 0, s: r.s, a: r.a, b: r.b, c: r.c, r: r.r, p: 1 }, guard(function () {
          rec = s.records.latest();
          then();
        }));
      });
    }

    function gates(rsp: Response) {
      var r = rec as BootRecord;
      result.state = rsp.mode || "idle";
      if (r.s === "trial") { result.state = "trial"; return finish(null); }
      if (r.s === "pending") { event("an update is staged: restarting into it"); return go("reboot", reboot); }
      if (rsp.mode === "error") result.error = String(rsp.status || "the Notecard reports a DFU error");
      if (rsp.mode !== "ready") return go("done", function () { finish(null); });
      body = rsp.body || {};
      var v = imageVersion(body.version);
      result.version = v;
      if (!(body.length > 0) || body.length !== Math.floor(body.length) || typeof body.crc32 !== "number") {
        return fail(true, "the Notecard's image description is incomplete (length/crc32 missing or invalid)");
      }
      if (body.type !== undefined && body.type !== "firmware") return fail(true, "image type \"" + body.type + "\" is not firmware");
      if (v && v === o.version) {
        result.state = "current";
        event("version " + v + " is already running");
        return request({ req: "dfu.status", stop: true, status: "already running " + v }, function () { finish(null); });
      }
      if (!o.allowDowngrade && compareVersions(v, o.version) < 0) return fail(true, "downgrade from " + o.version + " to " + v + " refused");
      if (r.s === "reverted" && r.c && r.c.c === body.crc32 && r.c.l === body.length) return fail(true, "image " + v + " was already rejected at its trial boot");
      var target = 1 - (r.a as ImageRef).s;
      if (body.length > s.slots[target].length) return fail(true, "image (" + body.length + " bytes) is larger than slot " + target + " (" + s.slots[target].length + " bytes)");
      image = { s: target, l: body.length, c: body.crc32 >>> 0, v: v };
      event("update " + o.version + " -> " + v + ": " + body.length + " bytes into slot " + target);
      go("prepare", prepare);
    }

    /** Journals the download position (and whether we put the card in DFU mode). */
    function journal(then: () => void) {
      var d = { o: writer.committed(), k: writer.committedCrc() };
      s.records.append("progress", { q: 0, s: "progress", a: (rec as BootRecord).a, c: image, d: d, m: entered ? 1 : undefined, x: mismatches || undefined }, guard(function (err: string | null) {
        if (err) return fail(false, err);
        then();
      }));
    }

    function probe() {
      request({ req: "dfu.get", length: 0 }, function (err) {
        if (!err) { event("the Notecard serves the image without DFU mode"); return startCopy(); }
        if (NOT_IN_DFU.test(err.message) || NOT_YET.test(err.message)) return go("enter", enter);
        fail(false, "dfu.get probe: " + err.message);
      });
    }

    function enter() {
      if (++entries > MAX_ENTRIES) return fail(false, "the Notecard left DFU mode " + MAX_ENTRIES + " times");
      event("entering DFU mode");
      // Journal first: a reset after hub.set still knows to take the card out of DFU mode.
      entered = true;
      left = false;
      journal(function () {
        request({ req: "hub.set", mode: "dfu" }, function (err) {
          if (err) return fail(false, "hub.set mode:dfu refused: " + err.message);
          lastKeepAlive = waitStart = ports.clock();
          go("wait", wait);
        });
      });
    }

    function wait() {
      request({ req: "dfu.get", length: 0 }, function (err) {
        if (!err) return startCopy();
        if (NOT_IN_DFU.test(err.message)) return go("enter", enter);
        if (ports.clock() - waitStart > o.dfuWaitMs) return fail(false, "DFU mode not active after " + Math.round(o.dfuWaitMs / 1000) + " s: " + err.message);
        go("wait", wait, o.dfuPollMs);
      });
    }

    function startCopy() {
      if (!copyStart) {
        copyStart = ports.clock();
        copyFrom = journaled = writer.pos();
      }
      go("copy", copy);
    }

    /** Before DFU mode (so erasing does not eat its 15 minutes): resume or start afresh. */
    function prepare() {
      var r = rec as BootRecord, slot = s.slots[image.s];
      var d = r.d, c = r.c;
      if (r.s === "progress" && c && c.c === image.c && c.l === image.l) mismatches = r.x || 0;
      function fresh() {
        writer.begin(slot, image.l, 0, 0);
        journal(function () { go("probe", probe); });
      }
      if (r.s === "progress" && c && d && d.o > 0 && c.s === image.s && c.c === image.c && c.l === image.l) {
        event("checking the " + d.o + " bytes copied before the reset");
        return writer.verify(slot, d.o, d.k, guard(function (ok: boolean) {
          if (!ok) { event("they do not match their journal: starting again"); return fresh(); }
          writer.begin(slot, image.l, d!.o, d!.k);
          result.resumedAt = d!.o;
          event("resuming at offset " + d!.o);
          go("probe", probe);
        }));
      }
      fresh();
    }

    function copy() {
      var pos = writer.pos();
      if (pos >= image.l) return go("complete", complete);
      if (entered && ports.clock() - lastKeepAlive > o.keepAliveMs) {
        lastKeepAlive = ports.clock();
        event("refreshing DFU mode");
        return request({ req: "hub.set", mode: "dfu" }, function () { go("copy", copy); });
      }
      var n = Math.min(o.chunkSize, image.l - pos);
      request({ req: "dfu.get", offset: pos, length: n }, function (err, rsp) {
        if (err && NOT_IN_DFU.test(err.message)) {
          // DFU mode ended (expiry, card restart): enter it again and carry on at the same offset.
          event("DFU mode lost at offset " + pos);
          return go("enter", enter);
        }
        var bad = err ? "dfu.get: " + err.message : chunkProblem(rsp, n);
        if (bad) {
          if (++chunkTries > o.chunkRetries) return fail(false, "chunk at offset " + pos + " failed " + chunkTries + " times: " + bad);
          event("chunk at offset " + pos + " rejected (" + bad + "), retrying");
          return go("copy", copy, o.chunkRetryDelayMs);
        }
        chunkTries = 0;
        writer.write(n, guard(function (werr: string | null) {
          if (werr === DIRTY && !restarted) {
            restarted = true;
            event(werr + ": starting the copy again");
            writer.begin(s.slots[image.s], image.l, 0, 0);
            journaled = 0;
            return journal(function () { go("copy", copy); });
          }
          if (werr) return fail(false, werr);
          progress("copy");
          if (writer.committed() > journaled) {
            journaled = writer.committed();
            return journal(function () { go("copy", copy); });
          }
          go("copy", copy);
        }));
      });
    }

    /** Decodes the chunk into the writer's buffer; returns what is wrong with it, or "". */
    function chunkProblem(rsp: Response, n: number): string {
      if (typeof rsp.payload !== "string") return "no payload";
      var bin = ports.natives.atob(rsp.payload);
      if (bin.length !== n) return "payload is " + bin.length + " bytes, asked for " + n;
      // Espruino's atob decodes stray characters as zero bytes: only canonical base64 survives a
      // round trip (two native calls, no per-byte loop).
      if (ports.natives.btoa(bin) !== rsp.payload) return "payload is not valid base64";
      ports.natives.put(writer.buf, bin, 4);
      // Without the transport crc, the chunk's MD5 in `status` is the integrity check; once the card
      // has sent one, a chunk without it is as suspect as one that fails it.
      if (!client.crcSeen()) {
        if (typeof rsp.status === "string" && rsp.status.length === 32 && HEX.test(rsp.status)) {
          md5Seen = true;
          if (md5Hex(writer.buf.subarray(4, 4 + n)) !== rsp.status.toLowerCase()) return "MD5 mismatch";
        } else if (md5Seen) return "no chunk MD5";
      }
      return "";
    }

    function complete() {
      progress("complete");
      if (!entered) return go("verify", verify);
      left = true;
      event("leaving DFU mode");
      request({ req: "hub.set", mode: "dfu-completed" }, function () { go("verify", verify); });
    }

    function verify() {
      if (writer.crc() !== image.c) {
        var text = "image CRC-32 " + writer.crc() + " does not match the Notecard's " + image.c;
        if (mismatches) return fail(true, text + " twice");
        // Once could be a corruption the chunk checks missed: copy it again from the start.
        mismatches = 1;
        writer.begin(s.slots[image.s], image.l, 0, 0);
        return journal(function () { fail(false, text + "; copying it again"); });
      }
      if (o.verifyMd5 && typeof body.md5 === "string") {
        var all = s.slots[image.s].read(0, image.l);
        if (md5Hex(all) !== body.md5.toLowerCase()) return fail(true, "image MD5 does not match the Notecard's");
      }
      event("image verified (CRC-32 " + image.c + ")");
      go("stage", stage);
    }

    function stage() {
      var r = s.records.latest() as BootRecord;
      s.records.append("verified", { q: 0, s: "pending", a: r.a, c: image }, guard(function (err: string | null) {
        if (err) return fail(false, err);
        event("slot " + image.s + " is the next boot, on trial");
        go("stop", stop);
      }));
    }

    function stop() {
      request({ req: "dfu.status", stop: true, status: "installing " + image.v }, function () {
        result.state = "updated";
        go("reboot", reboot);
      });
    }

    function reboot() {
      result.state = "updated";
      event("restarting");
      finish(null);
      ports.timers.set(ports.reboot, 10);
    }

    go("status", status);
  }

  return { check: check, busy: function () { return running; } };
}
