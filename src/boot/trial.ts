// What the running application asks of the boot state: which image runs, and "this trial image
// is good" (confirm), which makes it the fallback and hands the trial watchdog to the idle loop.
import { Fault } from "../errors";
import { Ports } from "../ports";
import { append, BootState, load, MARK, Store } from "../slots/boot-state";

export interface BootInfo {
  /** "none" before provisioning, else the boot state (confirmed, trial, reverted, progress, pending). */
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

export function info(st: Store | null, version: string): BootInfo {
  var r: BootState | null = st ? load(st) : null;
  if (!r) return { state: "none", slot: -1, version: version, attempt: 0 };
  var run = r.s === "trial" ? r.c! : r.a;
  var out: BootInfo = { state: r.s, slot: run.s, version: run.v, attempt: r.n || 0 };
  if (r.s === "reverted") {
    out.rejected = r.c!.v;
    out.reason = r.r;
  } else if (r.c) out.candidate = { slot: r.c.s, version: r.c.v, length: r.c.l, crc32: r.c.c };
  return out;
}

/** Marks the running trial image good; cb(err, info). */
export function confirm(p: Ports, st: Store | null, version: string, cb: (err: Fault | null, info?: BootInfo) => void) {
  var r = st ? load(st) : null;
  if (!r || r.s !== "trial") return cb(null, info(st, version));
  append(st as Store, MARK.Confirmed, null, function (err) {
    if (err) return cb(err);
    // The trial watchdog now belongs to the idle loop, which kicks it automatically.
    if ((st as Store)._c.w) p.watchdog((st as Store)._c.w as number, true);
    cb(null, info(st, version));
  });
}
