// Power-cut sweep over a whole update life: a cut before, during (torn) or right after every flash
// operation, and a host reset at every Notecard transaction, across the copy, activation, trial
// boot, confirm, a bad image's trials and its revert; two image sizes on four layouts (1 KiB
// pages, 4 KiB pages, 128 KiB sectors, Storage files). Reboot is a fresh process state. Every boot
// must start a complete image, nothing may be activated unless byte-exact, and once the cuts stop
// the life must reach its goal with the Notecard out of DFU mode.
import { strict as assert } from "assert";
import { SimBoard } from "../../sim/board";
import { F4_SECTORS_LAYOUT, GEOMETRIES } from "../../sim/geometry";
import { CutKind } from "../../sim/power";
import { images, live, LifeOptions, prepare } from "../helpers/lifecycle";
import { add, FULL } from "./figures";

const LAYOUTS: { name: string; board: string; life: LifeOptions; sizes: number[] }[] = [
  { name: "1 KiB pages (LINUX)", board: "LINUX", life: {}, sizes: [16400, 40000] },
  { name: "4 KiB pages (ESP32)", board: "ESP32", life: {}, sizes: [16400, 24000] },
  { name: "128 KiB sectors (STM32F4)", board: "F4_SECTORS", life: { layout: F4_SECTORS_LAYOUT, memoryMapped: true }, sizes: [16400, 60000] },
  { name: "Storage files (PICO)", board: "PICO", life: {}, sizes: [3000, 6000] }
];

/** npm test takes every STEP-th cut point, and only the first image size; the full run all. */
const STEP = FULL ? 1 : 3;

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
        live(clean, life);
        const total = clean.rail.ops - first;
        assert.deepEqual(clean.flash.violations, []);
        let points = 0, resumed = 0;
        for (let op = 0; op < total; op += STEP) {
          for (const kind of ["before", "torn", "after"] as CutKind[]) {
            const board = newBoard(g.board);
            prepare(board, life);
            board.rail.seed = op * 3 + kind.length;
            board.rail.schedule(board.rail.ops + op, kind);
            const r = live(board, life);
            assert.equal(r.cuts, 1, `cut ${kind} op ${op} did not land exactly once`);
            assert.deepEqual(board.flash.violations, [], `cut ${kind} op ${op}`);
            resumed += r.resumed;
            points++;
          }
        }
        add("flash-operation cut points", points);
        add("copies resumed after a cut", resumed);
        console.log(`      ${total} flash operations per life; ${points} cut points; ${resumed} copies resumed`);
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
