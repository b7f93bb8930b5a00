// A device's life on a simulated board, for power-cut and fault sweeps: boot, run what the running
// image would run (check for updates, confirm if it is a good trial image), and repeat until
// Notehub has seen v2 installed, then v3 rejected, and v2 runs. Notehub stages v3 once it hears
// "installed 2.0.0". Each boot is checked against the invariants.
import { strict as assert } from "assert";
import { appImage, SimBoard } from "../../sim/board";
import { PowerCut } from "../../sim/power";
import { check, confirm, device, provision } from "./device";

export const V1 = appImage("1.0.0", { size: 4000 });
export const V2 = appImage("2.0.0", { size: 16400 });
export const V3 = appImage("3.0.0", { size: 16400, throws: true });
const COMPLETE = new Set([V1, V2, V3]);

export interface LifeOptions {
  layout?: unknown;
  memoryMapped?: boolean;
  maxBoots?: number;
  /** Module options for every boot. */
  options?: { [k: string]: unknown };
}

export interface LifeResult {
  boots: number;
  cuts: number;
  resumed: number;
  restartedCopies: number;
}

function bytes(src: string): Uint8Array {
  return new Uint8Array(Buffer.from(src, "latin1"));
}

/** Provisions v1 and stages v2: the state every sweep starts from. */
export function prepare(board: SimBoard, o: LifeOptions = {}): void {
  board.saveApp(V1);
  provision(board, device(board, "1.0.0", Object.assign({}, o.options, o.layout ? { layout: o.layout, memoryMapped: o.memoryMapped } : {})));
  board.card.stage({ data: bytes(V2), version: "2.0.0" });
}

export function live(board: SimBoard, o: LifeOptions = {}): LifeResult {
  const opts = Object.assign({}, o.options, o.layout ? { layout: o.layout, memoryMapped: o.memoryMapped } : {});
  const res: LifeResult = { boots: 0, cuts: 0, resumed: 0, restartedCopies: 0 };
  let v3Staged = false;
  const reported = (re: RegExp) => board.card.reports.some((r) => re.test(String(r.req.status || "") + "|" + String(r.req.err || "")));
  for (;;) {
    assert.ok(res.boots < (o.maxBoots ?? 40), "the device never reached its goal: " + JSON.stringify(board.card.reports.map((r) => r.req)));
    const b = board.boot();
    res.boots++;
    if (b.cut) { res.cuts++; continue; }
    // Invariant: after provisioning something complete always starts, and only a complete image.
    assert.ok(b.evaluated.length === 1, `boot ${res.boots}: no image started (${b.printed.join(" | ")})`);
    assert.ok(COMPLETE.has(b.evaluated[0]), `boot ${res.boots}: a partial or unknown image was started`);
    if (b.rebootRequested) continue;
    const v = b.ran as string;
    try {
      const dfu = device(board, v, opts);
      if (v === "2.0.0" && dfu.info().state === "trial") confirm(board, dfu);
      if (!v3Staged && reported(/installed 2\.0\.0/)) {
        board.card.stage({ data: bytes(V3), version: "3.0.0" });
        v3Staged = true;
      }
      const { result } = check(board, dfu);
      if (result.resumedAt) res.resumed++;
      if (v === "2.0.0" && v3Staged && reported(/rejected 3\.0\.0/) && result.state !== "updated") {
        assert.equal(board.card.hubMode, "periodic", "the Notecard was left in DFU mode");
        return res;
      }
    } catch (e) {
      if (!(e instanceof PowerCut)) throw e;
      res.cuts++;
    }
  }
}
