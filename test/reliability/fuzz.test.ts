// Randomized fault schedules (fast-check, seeded and reproducible from the printed seed): NACKs,
// bit flips, truncated reads, COUNT mismatches, {io} errors, card resets, DFU-mode drops, latency
// spikes and a power cut, on small images. Property: no corrupt activation, never a device without
// a bootable image, and the update completes once the faults stop.
import { strict as assert } from "assert";
import fc from "fast-check";
import { SimBoard } from "../../sim/board";
import { GEOMETRIES } from "../../sim/geometry";
import { CutKind } from "../../sim/power";
import { images, live, prepare } from "../helpers/lifecycle";
import { add, FULL } from "./figures";

const RUNS = Number(process.env.FUZZ_RUNS || (FULL ? 20000 : 10000));
const SEED = Number(process.env.FUZZ_SEED || 20261125);
const IMAGES = [images(700), images(1500)];

const rate = fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.08, noNaN: true }));
const schedule = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
  board: fc.constantFrom("LINUX", "PICO", "ESP32", "ESPRUINOWIFI", "PUCKJS", "MDBT42Q", "PIXLJS", "JOLTJS"),
  image: fc.integer({ min: 0, max: IMAGES.length - 1 }),
  chunk: fc.constantFrom(256, 512, 1024),
  crc: fc.boolean(),
  needsDfuMode: fc.boolean(),
  bad: fc.boolean(),
  faultsUntil: fc.integer({ min: 0, max: 80 }),
  faults: fc.record({ nack: rate, corrupt: rate, truncate: rate, count: rate, io: rate, reset: rate, malformed: rate, dfuDrop: rate, latency: rate }),
  cut: fc.option(fc.record({ op: fc.integer({ min: 0, max: 60 }), kind: fc.constantFrom<CutKind>("before", "torn", "after") }), { nil: undefined })
});

describe("randomized fault schedules", function () {
  this.timeout(1800e3);
  it(`${RUNS} schedules: no corrupt activation, always a bootable image, success once faults stop (seed ${SEED})`, function () {
    let cuts = 0, injected = 0, boots = 0, storageCuts = 0;
    const perBoard: { [board: string]: number } = {};
    fc.assert(fc.property(schedule, (s) => {
      const board = new SimBoard({
        board: s.board, geometry: GEOMETRIES[s.board],
        notecard: { seed: s.seed, crc: s.crc, needsDfuMode: s.needsDfuMode, dfuEntryMs: 2000, faults: s.faults, faultsUntil: s.faultsUntil }
      });
      const life = { bad: s.bad, images: IMAGES[s.image], options: { chunkSize: s.chunk, retryDelayMs: 100 }, maxBoots: 60 };
      board.card.faultsFrom = Infinity; // no faults while provisioning
      prepare(board, life);
      board.card.faultsFrom = board.card.transactions;
      board.card.faultsUntil = board.card.transactions + s.faultsUntil;
      if (s.cut) { board.rail.seed = s.seed; board.rail.schedule(board.rail.ops + s.cut.op, s.cut.kind); }
      // Any broken invariant throws, and fast-check reports the schedule: a lost board.
      const r = live(board, life);
      perBoard[s.board] = (perBoard[s.board] ?? 0) + 1;
      if (board.storage.cutInCompaction || board.storage.cutInHeader) storageCuts++;
      cuts += r.cuts;
      boots += r.boots;
      injected += Object.values(board.card.injected).reduce((a, b) => a + (b ?? 0), 0);
      if (board.flash.violations.length) throw new Error(board.flash.violations[0]);
    }), { numRuns: RUNS, seed: SEED });
    add("fault schedules", RUNS);
    add("faults injected by schedules", injected);
    add("power cuts in schedules", cuts);
    add("schedules with a cut inside a Storage write", storageCuts);
    console.log(`      ${RUNS} schedules, ${injected} faults injected, ${cuts} power cuts, ${boots} boots, 0 lost boards; per board: ${JSON.stringify(perBoard)}`);
    assert.equal(storageCuts, 0, "no Storage write during a life");
  });
});
