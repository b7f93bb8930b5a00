// What the running application does with the boot machinery: install the selector, provision
// (move the app saved in .bootcde into slot 0 under the selector), confirm a trial image, and ask
// what it is running.
import { Ports } from "../ports";
import { BootRecord } from "../slots/record-store";
import { SlotWriter } from "../slots/slot-writer";
import { Slots } from "../slots/slots";
import { selectorSource } from "./selector";

export interface BootOptions {
  maxAttempts: number;
  watchdogSec: number;
  version: string;
}

export interface BootInfo {
  /** "none" before provisioning, else the record's state (confirmed, trial, reverted, progress, pending). */
  state: string;
  slot: number;
  version: string;
  attempt: number;
  /** After a revert: the rejected version and why. */
  rejected?: string;
  reason?: string;
  /** While an image is copied, staged or on trial: what it is. */
  candidate?: { slot: number; version: string; length: number; crc32: number };
}

export function createBootControl(ports: Ports, s: Slots, writer: SlotWriter, o: BootOptions) {
  function installBoot(): string {
    var src = selectorSource(s.selectorConfig(o.maxAttempts, o.watchdogSec));
    if (ports.storage.read(".boot0") !== src) ports.storage.write(".boot0", src);
    return src;
  }

  function info(): BootInfo {
    var r = s.records.load();
    if (!r) return { state: "none", slot: -1, version: o.version, attempt: 0 };
    var running = r.s === "trial" ? r.c : r.a;
    var out: BootInfo = { state: r.s, slot: running ? running.s : -1, version: running ? running.v : o.version, attempt: r.n || 0 };
    if (r.s === "reverted" && r.c) { out.rejected = r.c.v; out.reason = r.r; }
    else if (r.c) out.candidate = { slot: r.c.s, version: r.c.v, length: r.c.l, crc32: r.c.c };
    return out;
  }

  /** Marks the running trial image good; cb(err, info). */
  function confirm(cb?: (err: string | null, info?: BootInfo) => void) {
    var done = cb || function () {};
    var r = s.records.load();
    if (!r || r.s !== "trial") return done(null, info());
    s.records.append("confirm", { q: 0, s: "confirmed", a: r.c, b: r.a, p: 0 }, function (err) {
      if (err) return done(err);
      // The trial watchdog now belongs to the idle loop, which kicks it automatically.
      if (o.watchdogSec) ports.watchdog(o.watchdogSec, true);
      done(null, info());
    });
  }

  /**
   * Copies the application (default: the Storage file .bootcde) into a slot, records it as the
   * confirmed image, installs the selector and removes .bootcde. Until .bootcde is gone the selector
   * stands aside, so a power cut at any step still boots the application.
   */
  function provision(code: string | undefined, cb: (err: string | null, info?: BootInfo) => void) {
    var src = code !== undefined ? code : ports.storage.read(".bootcde");
    if (src === undefined || !src.length) return cb("provision: no application (.bootcde is empty and no code was given)");
    var latest: BootRecord | null = s.records.load();
    var target = latest && latest.a ? 1 - latest.a.s : 0;
    var slot = s.slots[target];
    if (src.length > slot.length) return cb("provision: application (" + src.length + " bytes) is larger than slot " + target + " (" + slot.length + ")");
    installBoot();
    var chunk = writer.buf.length - 8, off = 0;
    writer.begin(slot, src.length, 0, 0);
    function next() {
      if (off >= src!.length) return record();
      var n = Math.min(chunk, src!.length - off);
      ports.natives.put(writer.buf, src!.substr(off, n), 4);
      writer.write(n, function (err) {
        if (err) return cb("provision: " + err);
        off += n;
        ports.timers.set(next, 0);
      });
    }
    function record() {
      var crc = ports.natives.crc32(src!);
      if (writer.crc() !== crc) return cb("provision: slot CRC does not match the application");
      s.records.append("provision", { q: 0, s: "confirmed", a: { s: target, l: src!.length, c: crc, v: o.version }, p: 1 }, function (err) {
        if (err) return cb("provision: " + err);
        if (ports.storage.read(".bootcde") !== undefined) ports.storage.erase(".bootcde");
        cb(null, info());
      });
    }
    next();
  }

  return { installBoot: installBoot, info: info, confirm: confirm, provision: provision };
}
