// How often Storage compacts over a fleet device's life: ten updates in a row, each the largest
// application the profile allows, from a card that needs DFU mode, confirmed each time, then one
// that never confirms and is reverted, on every profile's board model. Nothing of the module's
// state is a Storage file: none of it may compact Storage, and the runtime stays intact.
import { strict as assert } from "assert";
import { readdirSync, readFileSync } from "fs";
import { appImage, SimBoard } from "../../sim/board";
import { Config, readConfig } from "../../src/slots/config";
import { check, confirm, device, Install, provision } from "../helpers/device";
import { add } from "./figures";

const UPDATES = 10;

describe("Storage compactions over ten updates of the largest application", function () {
  this.timeout(300e3);
  for (const f of readdirSync("boards").sort()) {
    const profile = JSON.parse(readFileSync("boards/" + f, "utf8"));
    it(`${profile.name}: never compacts`, function () {
      const board = new SimBoard({ board: profile.name, notecard: { needsDfuMode: true } });
      Install.installBoot(Object.assign(board.ports(), { board: profile.name }));
      const t = (readConfig(board.storage) as Config).t;
      const size = Math.min(...profile.layout.slots.map((s: any) => s.length)) - t;
      board.saveApp(appImage("1.0.0", { size: 1000 }));
      provision(board, device(board, "1.0.0"));
      const c0 = board.storage.compactions, p0 = board.storage.compactedPages;
      let running = "1.0.0";
      for (let i = 2; i < 2 + UPDATES; i++) {
        const v = `${i}.0.0`;
        board.card.stage({ data: new Uint8Array(Buffer.from(appImage(v, { size }), "latin1")), version: v });
        const { err, result } = check(board, device(board, running, { resumeEvery: undefined }));
        assert.equal(result.state, "updated", `${v}: ${err && err.message}`);
        assert.equal(board.boot().ran, v);
        confirm(board, device(board, v));
        check(board, device(board, v));
        running = v;
      }
      // One more, never confirmed: its trial boots, the revert and the report.
      const bad = `${2 + UPDATES}.0.0`;
      board.card.stage({ data: new Uint8Array(Buffer.from(appImage(bad, { size, throws: true }), "latin1")), version: bad });
      assert.equal(check(board, device(board, running, { resumeEvery: undefined })).result.state, "updated");
      for (let k = 0; k < 3; k++) assert.equal(board.boot().ran, bad);
      assert.equal(board.boot().ran, running, "reverted");
      check(board, device(board, running));
      assert.ok(board.card.reports.some((r) => new RegExp(`rejected ${bad}`).test(String(r.req.err))));
      if (board.runtime) assert.equal(board.storage.read("NotecardDFU"), board.runtime, "the runtime is intact");
      const n = board.storage.compactions - c0, pages = board.storage.compactedPages - p0;
      add(`Storage compactions in ${UPDATES} updates and a revert, ${profile.name}`, n);
      console.log(`      ${n} compactions, ${pages} pages rewritten, in ${UPDATES} updates of ${size} bytes and a revert`);
      assert.equal(n, 0);
    });
  }
});
