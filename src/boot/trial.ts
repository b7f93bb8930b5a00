// What the running application asks of the boot record: which image runs, and "this trial image
// is good" (confirm), which makes it the fallback and hands the trial watchdog to the idle loop.
import { Fault } from "../errors";
import { Ports } from "../ports";
import { append, BootRecord, load, Records } from "../slots/record-store";

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

export function info(rs: Records | null, version: string): BootInfo {
  var r: BootRecord | null = rs ? load(rs) : null;
  if (!r) return { state: "none", slot: -1, version: version, attempt: 0 };
  var run = r.s === "trial" ? r.c : r.a;
  var out: BootInfo = { state: r.s, slot: run ? run.s : -1, version: run ? run.v : version, attempt: r.n || 0 };
  if (r.s === "reverted" && r.c) {
    out.rejected = r.c.v;
    out.reason = r.r;
  } else if (r.c) out.candidate = { slot: r.c.s, version: r.c.v, length: r.c.l, crc32: r.c.c };
  return out;
}

/** Marks the running trial image good; cb(err, info). */
export function confirm(p: Ports, rs: Records | null, version: string, cb: (err: Fault | null, info?: BootInfo) => void) {
  var r = rs ? load(rs) : null;
  if (!r || r.s !== "trial") return cb(null, info(rs, version));
  append(rs as Records, "confirm", { q: 0, s: "confirmed", a: r.c, b: r.a, p: 0 }, function (err) {
    if (err) return cb(err);
    // The trial watchdog now belongs to the idle loop, which kicks it automatically.
    if ((rs as Records)._c.w) p.watchdog((rs as Records)._c.w as number, true);
    cb(null, info(rs, version));
  });
}
