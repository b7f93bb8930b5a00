// Drives the built bundle on a simulated board: one module instance per boot, run on the board's
// virtual clock.
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import { loadBundle, loadInstall, loadMd5, SimBoard } from "../../sim/board";
import { GEOMETRIES } from "../../sim/geometry";
import { PowerCut } from "../../sim/power";
import { FLOW, P } from "../../src/dfu/flow";

/** The install module. */
export const Install = loadInstall();
export const Md5 = loadMd5();

/**
 * The runtime on a simulated board, with the MD5 add-on stored (cards without crc need it);
 * provision() through it uses the install module, like a user.
 */
export function device(board: SimBoard, version: string, options: { [k: string]: unknown } = {}): any {
  const base: { [k: string]: unknown } = options.layout ? { md5: Md5 } : { board: board.name, md5: Md5 };
  // A resume point at every page, unless a test says otherwise (resumeEvery: undefined is the
  // default spacing): the small images of the tests then resume mid-copy.
  const all = Object.assign(board.ports(), base, { version, resumeEvery: 0 }, options);
  const dfu = loadBundle().setup(all);
  holdToFlow(dfu._d);
  dfu.provision = (code: string | undefined, cb: (...a: any[]) => void) => Install.provision(all, code, cb);
  dfu.installBoot = () => Install.installBoot(all);
  return dfu;
}

/** Every move of the engines the tests made ("from>to", phases by number as in P), and those FLOW lacks (none, or a test fails). */
export const moves = new Set<string>();
export const offTable: string[] = [];

/** Whether the table (src/dfu/flow.ts) allows the move: its rows, a failure or a finish from any phase, Done to Idle, Idle to Status. */
export function allowed(from: P, to: P): boolean {
  return FLOW[from].indexOf(to) >= 0 || to === P.Recheck || to === P.Done || (from === P.Done && to === P.Idle) || (from === P.Idle && to === P.Status);
}

/** The engine's phase, watched: a move FLOW lacks is recorded and thrown, as a failure inside the engine. */
export function holdToFlow(d: any) {
  let ph: P = d._ph;
  Object.defineProperty(d, "_ph", {
    get: () => ph,
    set: (to: P) => {
      const move = ph + ">" + to;
      if (!allowed(ph, to)) {
        offTable.push(move);
        throw new Error("move " + move + " is not in FLOW");
      }
      moves.add(move);
      ph = to;
    }
  });
}

/**
 * Whether the profile takes part in this run. Under npm run mutation the selector carries
 * StrykerJS's instrumentation, several times its size: a profile whose .boot0, before its
 * reservation, cannot hold it (and the 512 bytes kept for the layout line) is then left out.
 */
export function runsHere(name: string): boolean {
  const p = JSON.parse(readFileSync("boards/" + name + ".json", "utf8"));
  if (!(globalThis as any).__stryker__ || !p.layout.reserve) return true;
  const lead = Math.min(...p.layout.slots.map((s: any) => s.addr)) - GEOMETRIES[name].storage.addr - 64;
  return lead >= readFileSync("dist/selector.min.js", "utf8").length + 3 + 512;
}

/** Runs an async module call to completion on the virtual clock; returns its callback arguments. */
export function settle(board: SimBoard, start: (cb: (...args: any[]) => void) => void, limitMs = 3600e3): any[] {
  let out: any[] | null = null;
  const down = () => board.rail.down;
  // A power cut stops the world: whatever the module does after it never happened.
  try {
    start((...args: any[]) => { out = args; });
  } catch (e) {
    if (!down()) throw e;
  }
  board.clock.runUntil(() => out !== null || down(), limitMs);
  if (down()) throw new PowerCut(board.rail.ops, board.rail.cutKind);
  assert.ok(out, "the call never completed");
  // Let what the call scheduled after its callback (a restart) happen too.
  board.clock.runUntil(() => board.clock.pending() === 0 || down(), 60e3);
  if (down()) throw new PowerCut(board.rail.ops, board.rail.cutKind);
  return out as any[];
}

export function check(board: SimBoard, dfu: any, limitMs?: number): { err: any; result: any } {
  const [err, result] = settle(board, (cb) => dfu.check(cb), limitMs);
  return { err, result };
}

export function provision(board: SimBoard, dfu: any, code?: string): any {
  const [err, info] = settle(board, (cb) => dfu.provision(code, cb));
  assert.equal(err, null, "provision failed: " + err);
  board.storeRuntime();
  return info;
}

export function confirm(board: SimBoard, dfu: any): any {
  const [err, info] = settle(board, (cb) => dfu.confirm(cb));
  assert.equal(err, null);
  return info;
}

/** Deterministic image bytes. */
export function image(size: number, seed = 7): Uint8Array {
  const d = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) { x = (x * 1103515245 + 12345) >>> 0; d[i] = x >>> 24; }
  return d;
}
