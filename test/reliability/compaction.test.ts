// How often Storage compacts over a fleet device's life: ten updates in a row, each the largest
// application the profile allows, from a card that needs DFU mode, confirmed each time, then one
// that never confirms and is reverted, on every profile's board model. A raw layout must never
// compact (nothing of it is in Storage); in the others an update compacts only where it plans to,
// before DFU mode, and nothing after the restart does (the trial boots, confirm and the report are
// marks in the record; the revert's record has its room). The counts are the window the README
// documents (each compaction rewrites Storage in place, not power-fail safe).
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
      const board = new SimBoard({ board: profile.name, notecard: { needsDfuMode: true } });
      board.saveApp(appImage("1.0.0", { size }));
      provision(board, device(board, "1.0.0"));
      const c0 = board.storage.compactions, p0 = board.storage.compactedPages;
      let running = "1.0.0", planned = 0, later = 0;
      const events: string[] = [];
      const compact = board.storage.compact.bind(board.storage);
      board.storage.compact = () => { events.push("COMPACT"); return compact(); };
      const onEvent = (t: string) => events.push(t);
      for (let i = 2; i < 2 + UPDATES; i++) {
        const v = `${i}.0.0`;
        board.card.stage({ data: new Uint8Array(Buffer.from(appImage(v, { size }), "latin1")), version: v });
        events.length = 0;
        const { err, result } = check(board, device(board, running, { onEvent, resumeEvery: undefined }));
        assert.equal(result.state, "updated", `${v}: ${err && err.message}`);
        events.forEach((t, k) => { if (t === "COMPACT") assert.equal(events[k - 1], "compact Storage", `${v}: a compaction the update did not plan: ${events.join(" | ")}`); });
        planned += events.filter((t) => t === "COMPACT").length;
        const mark = board.storage.compactions;
        assert.equal(board.boot().ran, v);
        confirm(board, device(board, v));
        check(board, device(board, v));
        later += board.storage.compactions - mark;
        running = v;
      }
      // One more, never confirmed: its trial boots, the revert and the report.
      const bad = `${2 + UPDATES}.0.0`;
      board.card.stage({ data: new Uint8Array(Buffer.from(appImage(bad, { size, throws: true }), "latin1")), version: bad });
      events.length = 0;
      assert.equal(check(board, device(board, running, { onEvent, resumeEvery: undefined })).result.state, "updated");
      planned += events.filter((t) => t === "COMPACT").length;
      assert.equal(planned, board.storage.compactions - c0, "every compaction so far planned");
      const mark = board.storage.compactions;
      for (let k = 0; k < 3; k++) assert.equal(board.boot().ran, bad);
      assert.equal(board.boot().ran, running, "reverted");
      check(board, device(board, running));
      assert.ok(board.card.reports.some((r) => new RegExp(`rejected ${bad}`).test(String(r.req.err))));
      later += board.storage.compactions - mark;
      assert.equal(board.storage.read("NotecardDFU"), board.runtime, "the runtime is intact");
      const n = board.storage.compactions - c0, pages = board.storage.compactedPages - p0;
      add(`Storage compactions in ${UPDATES} updates and a revert, ${profile.name}`, n);
      console.log(`      ${n} compactions (${planned} planned before DFU mode, ${later} after a restart), ${pages} pages rewritten, in ${UPDATES} updates of ${size} bytes and a revert`);
      if (raw) assert.equal(n, 0);
      assert.equal(later, 0, "no compaction after a restart");
    });
  }
});
