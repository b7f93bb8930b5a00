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

/** Every profile on its board's model (Storage included), and a 128 KiB-sector raw case. */
const LAYOUTS: { name: string; board: string; life: LifeOptions; sizes: number[] }[] = [
  { name: "raw, 1 KiB pages in the reservation (LINUX)", board: "LINUX", life: {}, sizes: [16400, 40000] },
  { name: "raw, 4 KiB pages (ESP32)", board: "ESP32", life: {}, sizes: [16400, 24000] },
  { name: "raw, 128 KiB sectors (STM32F4)", board: "F4_SECTORS", life: { layout: F4_SECTORS_LAYOUT, memoryMapped: true }, sizes: [16400, 60000] },
  { name: "raw slots, Storage record (ESPRUINOWIFI)", board: "ESPRUINOWIFI", life: {}, sizes: [16384] },
  { name: "mixed: sector and Storage file (PICO)", board: "PICO", life: {}, sizes: [20480] },
  { name: "Storage files, 40 KB Storage (PUCKJS)", board: "PUCKJS", life: {}, sizes: [8192] },
  { name: "Storage files, 400 KB Storage (JOLTJS)", board: "JOLTJS", life: {}, sizes: [16400] }
];

/** Layouts whose slots and record are all raw: a cut must never cost anything there. */
const RAW = ["LINUX", "ESP32", "F4_SECTORS"];

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
        const before = clean.storage.compactions, pages = clean.storage.compactedPages;
        live(clean, life);
        const total = clean.rail.ops - first;
        assert.deepEqual(clean.flash.violations, []);
        console.log(`      a life without cuts (v2 installed, v3 rejected): ${clean.storage.compactions - before} Storage compactions, ${clean.storage.compactedPages - pages} pages rewritten`);
        let points = 0, resumed = 0, unsafe = 0, inCompaction = 0, inHeader = 0, unsafeHeader = 0;
        const why: string[] = [];
        for (let op = 0; op < total; op += STEP) {
          for (const kind of ["before", "torn", "after"] as CutKind[]) {
            const board = newBoard(g.board);
            prepare(board, life);
            board.rail.seed = op * 3 + kind.length;
            board.rail.schedule(board.rail.ops + op, kind);
            points++;
            try {
              const r = live(board, life);
              assert.equal(r.cuts, 1, `cut ${kind} op ${op} did not land exactly once`);
              assert.deepEqual(board.flash.violations, [], `cut ${kind} op ${op}`);
              resumed += r.resumed;
            } catch (e) {
              // An unsafe cut point: the life broke an invariant. Only a cut inside a Storage
              // compaction or tearing a new Storage file's header may do that, and only where
              // Storage holds slots or the record.
              if (!(e instanceof assert.AssertionError) || !(board.storage.cutInCompaction || board.storage.cutInHeader) || RAW.indexOf(g.board) >= 0) throw e;
              unsafe++;
              if (!board.storage.cutInCompaction) unsafeHeader++;
              if (why.length < 3) why.push(`${kind} op ${op}: ${e.message.split("\n")[0]}`);
            }
            if (board.storage.cutInCompaction) inCompaction++;
            else if (board.storage.cutInHeader) inHeader++;
          }
        }
        add("flash-operation cut points", points);
        add("copies resumed after a cut", resumed);
        add(`unsafe cut points, ${g.board} (of ${inCompaction} inside compactions, ${inHeader} tearing a file header)`, unsafe);
        add(`of which tearing a file header, ${g.board}`, unsafeHeader);
        console.log(`      ${total} flash operations per life; ${points} cut points; ${resumed} copies resumed; ${inCompaction} inside a Storage compaction, ${inHeader} tearing a Storage file header; ${unsafe} unsafe (${unsafeHeader} of them a torn header)`);
        for (const w of why) console.log(`        unsafe: ${w}`);
        if (RAW.indexOf(g.board) >= 0) assert.equal(inCompaction + inHeader, 0, "no Storage file written on a raw layout");
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
