// Exhaustive power-cut sweep: a cut before, during (torn) or right after every flash operation of
// a whole update life (copy, activation, trial boot, confirm, a bad image's trials and revert), on
// three flash geometries. Every boot must start a complete image, and the life must still reach
// its goal once the cuts stop.
import { strict as assert } from "assert";
import { SimBoard } from "../sim/board";
import { F4_SECTORS_LAYOUT, GEOMETRIES } from "../sim/geometry";
import { CutKind } from "../sim/power";
import { live, LifeOptions, prepare } from "./helpers/lifecycle";

const GEOMS: { name: string; board: string; life: LifeOptions }[] = [
  { name: "1 KiB pages (LINUX)", board: "LINUX", life: {} },
  { name: "4 KiB pages (ESP32)", board: "ESP32", life: {} },
  { name: "128 KiB sectors (STM32F4)", board: "F4_SECTORS", life: { layout: F4_SECTORS_LAYOUT, memoryMapped: true } }
];

/** The full sweep runs in `npm run reliability`; npm test samples every `step`-th operation. */
const STEP = Number(process.env.POWERCUT_STEP || 1);

function newBoard(board: string): SimBoard {
  return new SimBoard({ board, geometry: GEOMETRIES[board], notecard: { needsDfuMode: true, dfuEntryMs: 3000 } });
}

describe("power-cut sweep over a whole update life", function () {
  this.timeout(600e3);
  for (const g of GEOMS) {
    it(`always boots a complete image and finishes, with a cut at every flash operation: ${g.name}`, function () {
      const life = Object.assign({ bad: true }, g.life);
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
      console.log(`      ${g.name}: ${total} flash operations per life, ${points} cut points, ${resumed} copies resumed`);
    });
  }
});
