// How often Storage compacts over a fleet device's life: ten updates in a row, each the largest
// application the profile allows, confirmed each time, on every profile's board model. A raw layout
// must never compact (nothing of it is in Storage); for the others the count is the window the
// README documents (each compaction rewrites Storage in place, not power-fail safe).
import { strict as assert } from "assert";
import { readdirSync, readFileSync } from "fs";
import { appImage, SimBoard } from "../../sim/board";
import { check, confirm, device, provision } from "../helpers/device";
import { add } from "./figures";

const UPDATES = 10;

describe("Storage compactions over ten updates of the largest application", function () {
  this.timeout(300e3);
  for (const f of readdirSync("boards").sort()) {
    const profile = JSON.parse(readFileSync("boards/" + f, "utf8"));
    const raw = profile.layout.slots.every((s: any) => s.file === undefined) && !profile.layout.record.files;
    it(`${profile.name}: ${raw ? "never compacts" : "counts its compactions"}`, function () {
      const size = Math.min(...profile.layout.slots.map((s: any) => s.length));
      const board = new SimBoard({ board: profile.name });
      board.saveApp(appImage("1.0.0", { size }));
      provision(board, device(board, "1.0.0"));
      const c0 = board.storage.compactions, p0 = board.storage.compactedPages;
      let running = "1.0.0";
      for (let i = 2; i < 2 + UPDATES; i++) {
        const v = `${i}.0.0`;
        board.card.stage({ data: new Uint8Array(Buffer.from(appImage(v, { size }), "latin1")), version: v });
        const { err, result } = check(board, device(board, running));
        assert.equal(result.state, "updated", `${v}: ${err && err.message}`);
        assert.equal(board.boot().ran, v);
        confirm(board, device(board, v));
        check(board, device(board, v));
        running = v;
      }
      assert.equal(board.storage.read("NotecardDFU"), board.runtime, "the runtime is intact");
      const n = board.storage.compactions - c0, pages = board.storage.compactedPages - p0;
      add(`Storage compactions in ${UPDATES} updates, ${profile.name}`, n);
      console.log(`      ${n} compactions, ${pages} pages rewritten, in ${UPDATES} updates of ${size} bytes`);
      if (raw) assert.equal(n, 0);
    });
  }
});
