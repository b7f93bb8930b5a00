// Storage after provisioning belongs to the application: on every profile, ten updates (each
// copied, verified, booted on trial, confirmed and reported) and a revert (three failed trial
// boots, reported) write no Storage file and cause no compaction; only raw pages change.
import { strict as assert } from "assert";
import { readdirSync } from "fs";
import { appImage, SimBoard } from "../sim/board";
import { check, confirm, device, provision } from "./helpers/device";

function snapshot(board: SimBoard) {
  return JSON.stringify({ list: board.storage.list().sort(), stats: board.storage.getStats(), compactions: board.storage.compactions });
}

describe("Storage untouched after provisioning (built bundle)", function () {
  for (const name of readdirSync("boards").map((f) => f.replace(/\.json$/, ""))) {
    it(`${name}: ten updates and a revert leave Storage.list() and getStats() as provisioning left them`, function () {
      const board = new SimBoard({ board: name });
      board.saveApp(appImage("1.0.0", { size: 1500 }));
      provision(board, device(board, "1.0.0"));
      board.storage.write("settings.json", '{"app":"its own file"}');
      const before = snapshot(board);
      let running = "1.0.0";
      for (let n = 2; n <= 11; n++) {
        const v = n + ".0.0";
        board.card.stage({ data: new Uint8Array(Buffer.from(appImage(v, { size: 1500 + 97 * n }), "latin1")), version: v });
        assert.equal(check(board, device(board, running)).result.state, "updated", v);
        assert.equal(board.boot().ran, v);
        confirm(board, device(board, v));
        check(board, device(board, v));
        running = v;
      }
      board.card.stage({ data: new Uint8Array(Buffer.from(appImage("12.0.0", { size: 1500, throws: true }), "latin1")), version: "12.0.0" });
      assert.equal(check(board, device(board, running)).result.state, "updated");
      for (let i = 0; i < 4; i++) board.boot();
      assert.equal(board.boot().ran, running, "reverted");
      check(board, device(board, running));
      assert.ok(board.card.reports.some((r) => /rejected 12\.0\.0/.test(String(r.req.err))), "the revert reported");
      assert.equal(snapshot(board), before);
      assert.equal(board.storage.read("settings.json"), '{"app":"its own file"}');
      assert.deepEqual(board.flash.violations, []);
    });
  }
});
