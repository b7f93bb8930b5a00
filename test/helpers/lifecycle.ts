// A device's life on a simulated board, for power-cut and fault sweeps: boot, run what the running
// image would run (check for updates, confirm if it is a good trial image), and repeat until
// Notehub has seen v2 installed (then, with `bad`, v3 rejected) and v2 runs. Notehub stages v3
// once it hears "installed 2.0.0". Every boot and every staged update is checked against the
// invariants: only complete images start, and nothing is activated unless it is byte-exact.
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import { appImage, SimBoard } from "../../sim/board";
import { crc32 } from "../../sim/natives";
import { PowerCut } from "../../sim/power";
import { check, confirm, device, provision } from "./device";

export interface Images {
  v1: string;
  v2: string;
  v3: string;
}

export function images(size: number): Images {
  return {
    v1: appImage("1.0.0", { size: Math.max(64, size >> 2) }),
    v2: appImage("2.0.0", { size }),
    v3: appImage("3.0.0", { size, throws: true })
  };
}

export const DEFAULT_IMAGES = images(16400);

export interface LifeOptions {
  layout?: unknown;
  memoryMapped?: boolean;
  maxBoots?: number;
  /** Also deploy a v3 that never confirms and expect its revert. */
  bad?: boolean;
  images?: Images;
  /** Module options for every boot. */
  options?: { [k: string]: unknown };
  /** Called after every boot that started an image (for cutting power at a Notecard transaction). */
  onBoot?: (board: SimBoard) => void;
}

export interface LifeResult {
  boots: number;
  cuts: number;
  resumed: number;
  checks: number;
}

function bytes(src: string): Uint8Array {
  return new Uint8Array(Buffer.from(src, "latin1"));
}

function moduleOptions(o: LifeOptions) {
  return Object.assign({}, o.options, o.layout ? { layout: o.layout, memoryMapped: o.memoryMapped } : {});
}

/** Provisions v1 and stages v2: the state every sweep starts from. */
export function prepare(board: SimBoard, o: LifeOptions = {}): void {
  const im = o.images ?? DEFAULT_IMAGES;
  board.saveApp(im.v1);
  provision(board, device(board, "1.0.0", moduleOptions(o)));
  board.card.stage({ data: bytes(im.v2), version: "2.0.0" });
}

/** The bytes of slot `index` as the board holds them. */
function slotBytes(board: SimBoard, o: LifeOptions, index: number, length: number): Uint8Array {
  const layout: any = o.layout ?? JSON.parse(readFileSync(`boards/${board.name}.json`, "utf8")).layout;
  return board.flash.read(length, layout.slots[index].addr);
}

/** The boot state may only make an image bootable (pending, trial) when its slot holds exactly it. */
function assertActivations(board: SimBoard, info: any, o: LifeOptions, im: Images) {
  if (info.state !== "trial" && info.state !== "pending") return;
  const c = info.candidate;
  const want = c.version === "2.0.0" ? im.v2 : c.version === "3.0.0" ? im.v3 : null;
  assert.ok(want, `a ${info.state} image of unknown version ${c.version}`);
  assert.equal(c.length, want!.length);
  assert.equal(Buffer.compare(Buffer.from(slotBytes(board, o, c.slot, c.length)), Buffer.from(want!, "latin1")), 0, `the ${info.state} image in slot ${c.slot} is not byte-exact`);
}

export function live(board: SimBoard, o: LifeOptions = {}): LifeResult {
  const im = o.images ?? DEFAULT_IMAGES;
  const complete = new Set([im.v1, im.v2, im.v3]);
  const opts = moduleOptions(o);
  const res: LifeResult = { boots: 0, cuts: 0, resumed: 0, checks: 0 };
  let v3Staged = !o.bad;
  const reported = (re: RegExp) => board.card.reports.some((r) => re.test(String(r.req.status || "") + "|" + String(r.req.err || "")));
  for (;;) {
    assert.ok(res.boots < (o.maxBoots ?? 40), "the device never reached its goal: " + JSON.stringify(board.card.reports.map((r) => r.req)));
    const b = board.boot();
    res.boots++;
    if (b.cut) { res.cuts++; continue; }
    // Invariants: after provisioning something complete always starts, and only a complete image.
    assert.ok(b.evaluated.length === 1, `boot ${res.boots}: no image started (${b.printed.join(" | ")})`);
    assert.ok(complete.has(b.evaluated[0]), `boot ${res.boots}: a partial or unknown image was started (CRC ${crc32(b.evaluated[0])})`);
    if (board.runtime) assert.ok(board.storage.read("NotecardDFU") === board.runtime, `boot ${res.boots}: the runtime module in Storage is lost`);
    if (b.rebootRequested) continue;
    const v = b.ran as string;
    try {
      if (o.onBoot) o.onBoot(board);
      const dfu = device(board, v, opts);
      if (v === "2.0.0" && dfu.info().state === "trial") confirm(board, dfu);
      if (!v3Staged && reported(/installed 2\.0\.0/)) {
        board.card.stage({ data: bytes(im.v3), version: "3.0.0" });
        v3Staged = true;
      }
      const { result } = check(board, dfu);
      res.checks++;
      if (result.resumedAt) res.resumed++;
      assertActivations(board, device(board, v, opts).info(), o, im);
      const goal = o.bad ? v3Staged && reported(/rejected 3\.0\.0/) : reported(/installed 2\.0\.0/);
      if (v === "2.0.0" && goal && result.state !== "updated" && result.state !== "retry") {
        // Once faults have stopped, the Notecard is out of DFU mode after one cycle.
        assert.equal(board.card.hubMode, "periodic", "the Notecard was left in DFU mode");
        return res;
      }
    } catch (e) {
      if (!(e instanceof PowerCut)) throw e;
      res.cuts++;
    }
  }
}
