// Power-cut sweep over a whole update life: a cut before, during (torn) or right after every flash
// operation, and a host reset at every Notecard transaction, across the copy, activation, trial
// boot, confirm, a bad image's trials and its revert, on every profile and a 128 KiB-sector
// layout (the full run adds a second image size). Reboot is a fresh process state. Every boot
// must start a complete image, nothing may be activated unless byte-exact, and once the cuts stop
// the life must reach its goal with the Notecard out of DFU mode.
import { strict as assert } from "assert";
import { SimBoard } from "../../sim/board";
import { F4_SECTORS_LAYOUT, GEOMETRIES } from "../../sim/geometry";
import { CutKind } from "../../sim/power";
import { images, live, LifeOptions, prepare } from "../helpers/lifecycle";
import { add, FULL } from "./figures";

/** Every profile on its board's model (Storage included), and a 128 KiB-sector case. */
const LAYOUTS: { name: string; board: string; life: LifeOptions; sizes: number[] }[] = [
  { name: "1 KiB pages in the reservation (LINUX)", board: "LINUX", life: {}, sizes: [16400, 40000] },
  { name: "4 KiB pages outside Storage (ESP32)", board: "ESP32", life: {}, sizes: [16400, 32640] },
  { name: "128 KiB sectors (STM32F4)", board: "F4_SECTORS", life: { layout: F4_SECTORS_LAYOUT, memoryMapped: true }, sizes: [16400, 60000] },
  { name: "16 KiB sectors outside Storage (ESPRUINOWIFI)", board: "ESPRUINOWIFI", life: {}, sizes: [16312] },
  { name: "a 128 KiB sector and a 16 KiB one in the reservation (PICO)", board: "PICO", life: {}, sizes: [16312] },
  { name: "4 KiB pages in the reservation, 40 KB Storage (PUCKJS)", board: "PUCKJS", life: {}, sizes: [8112] },
  { name: "4 KiB pages in the reservation, 40 KB Storage (MDBT42Q)", board: "MDBT42Q", life: {}, sizes: [8112] },
  { name: "4 KiB pages in the reservation, 36 KB Storage (PIXLJS)", board: "PIXLJS", life: {}, sizes: [8112] },
  { name: "4 KiB pages in the reservation, 400 KB Storage (JOLTJS)", board: "JOLTJS", life: {}, sizes: [16400, 134968] }
];

/** npm test takes every cut point of the first image size; the full run every size. */
const STEP = 1;

function newBoard(board: string): SimBoard {
  return new SimBoard({ board, geometry: GEOMETRIES[board], notecard: { needsDfuMode: true, dfuEntryMs: 3000 } });
}

describe("power-cut sweep over a whole update life", function () {
  this.timeout(900e3);
  for (const g of LAYOUTS) {
    for (const size of FULL ? g.sizes : g.sizes.slice(0, 1)) {
      const life: LifeOptions = Object.assign({ bad: true, images: images(size) }, g.life);

      it(`${g.name}, ${size}-byte image: a cut at every flash operation`, function () {
        const clean = newBoard(g.board);
        prepare(clean, life);
        const first = clean.rail.ops;
        const before = clean.storage.compactions, pages = clean.storage.compactedPages;
        live(clean, life);
        const total = clean.rail.ops - first;
        assert.deepEqual(clean.flash.violations, []);
        console.log(`      a life without cuts (v2 installed, v3 rejected): ${clean.storage.compactions - before} Storage compactions, ${clean.storage.compactedPages - pages} pages rewritten`);
        let points = 0, resumed = 0, storageCuts = 0, unsafe = 0;
        const why: string[] = [];
        for (let op = 0; op < total; op += STEP) {
          for (const kind of ["before", "torn", "after"] as CutKind[]) {
            const board = newBoard(g.board);
            prepare(board, life);
            board.rail.seed = op * 3 + kind.length;
            board.rail.schedule(board.rail.ops + op, kind);
            points++;
            // A broken invariant throws an AssertionError: an unsafe cut point.
            try {
              const r = live(board, life);
              assert.equal(r.cuts, 1, `cut ${kind} op ${op} did not land exactly once`);
              assert.deepEqual(board.flash.violations, [], `cut ${kind} op ${op}`);
              resumed += r.resumed;
            } catch (e) {
              if (!(e instanceof assert.AssertionError)) throw e;
              unsafe++;
              if (why.length < 3) why.push(`${kind} op ${op}: ${e.message.split("\n")[0]}`);
            }
            if (board.storage.cutInCompaction || board.storage.cutInHeader) storageCuts++;
          }
        }
        add("flash-operation cut points", points);
        add("copies resumed after a cut", resumed);
        add(`unsafe cut points, ${g.board}`, unsafe);
        console.log(`      ${total} flash operations per life; ${points} cut points; ${resumed} copies resumed; ${unsafe} unsafe; ${storageCuts} inside a Storage write`);
        assert.deepEqual(why, [], "unsafe cut points");
        assert.equal(storageCuts, 0, "no Storage file written or compacted during the life");
      });

      it(`${g.name}, ${size}-byte image: a host reset at every Notecard transaction`, function () {
        const clean = newBoard(g.board);
        prepare(clean, life);
        const first = clean.card.log.length;
        live(clean, life);
        const total = clean.card.log.length - first;
        let points = 0, landed = 0;
        for (let tx = 0; tx < total; tx += STEP) {
          const board = newBoard(g.board);
          prepare(board, life);
          // The host resets the moment the card has answered request number `tx`.
          let n = 0;
          board.card.onRequest = () => { if (n++ === tx) board.rail.down = true; };
          const r = live(board, life);
          assert.ok(r.cuts <= 1);
          landed += r.cuts;
          points++;
        }
        assert.equal(landed, points, "every scheduled reset should have landed");
        add("Notecard-transaction reset points", points);
        console.log(`      ${total} Notecard transactions per life; ${points} reset points`);
      });
    }
  }
});
