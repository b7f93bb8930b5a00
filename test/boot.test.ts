// Slots, boot state and selector through the built bundle on simulated boards: layout checks,
// provisioning, the trailers' power-fail behaviour, trial boot, confirm and revert.
import { strict as assert } from "assert";
import { readdirSync, readFileSync } from "fs";
import { appImage, SimBoard } from "../sim/board";
import { F4_SECTORS_LAYOUT, GEOMETRIES } from "../sim/geometry";
import { readConfig } from "../src/slots/config";
import { transitions } from "../src/slots/states";
import { checkSource } from "../tools/espruino-gate";
import { check, confirm, device, Install, provision, runsHere, settle } from "./helpers/device";

/** A board running v1 from slot 0 with v2 copied into slot 1 and pending: the next boot tries it. */
function updated(): SimBoard {
  const board = new SimBoard();
  board.saveApp(appImage("1.0.0"));
  provision(board, device(board, "1.0.0"));
  staged(board, "2.0.0");
  check(board, device(board, "1.0.0"));
  return board;
}

function staged(board: SimBoard, version: string, opts: { throws?: boolean; size?: number } = {}) {
  const src = appImage(version, opts);
  board.card.stage({ data: new Uint8Array(Buffer.from(src, "latin1")), version });
  return src;
}

/** The layout provisioning stored (the last line of .boot0), as the runtime reads it. */
function storedLayout(board: SimBoard): any {
  return readConfig(board.storage);
}

/** Offset in the flash simulator's memory of slot i's trailer (src/slots/boot-state.ts). */
function trailer(board: SimBoard, i: number): number {
  const c = storedLayout(board);
  return c.s[i].a + c.s[i].l - c.t - board.flash.base;
}

const profiles = readdirSync("boards").map((f) => JSON.parse(readFileSync("boards/" + f, "utf8"))).filter((p) => runsHere(p.name));

describe("slots, boot state and selector (built bundle)", function () {
  describe("layouts", function () {
    for (const b of profiles) {
      it(`accepts the ${b.name} profile on its flash geometry`, function () {
        const board = new SimBoard({ board: b.name });
        assert.doesNotThrow(() => Install.installBoot(Object.assign(board.ports(), { board: b.name })));
      });
    }

    const reserve = JSON.parse(readFileSync("boards/LINUX.json", "utf8")).layout.reserve;
    const unsafe: [string, any, RegExp][] = [
      ["a slot that does not start on a page", { slots: [{ addr: 0x10004200, length: 4096 }, { addr: 0x10014000, length: 4096 }], reserve }, /slot 0 .*not on an erase-page boundary/],
      ["a slot that does not end on a page", { slots: [{ addr: 0x10004000, length: 1000 }, { addr: 0x10014000, length: 4096 }], reserve }, /slot 0 .*does not end on an erase-page boundary/],
      ["overlapping slots", { slots: [{ addr: 0x10004000, length: 8192 }, { addr: 0x10005000, length: 8192 }], reserve }, /slot 1 overlaps slot 0/],
      ["a slot outside flash", { slots: [{ addr: 0x20000000, length: 4096 }, { addr: 0x10014000, length: 4096 }], reserve }, /outside flash/],
      ["a slot no longer than its trailer", { slots: [{ addr: 0x10004000, length: 0 }, { addr: 0x10014000, length: 4096 }], reserve }, /slot 0: needs addr and a length past its trailer/], ["a Storage-file slot of release 0.1", { slots: [{ file: "dfu.0", length: 8192 }, { addr: 0x10014000, length: 4096 }], reserve }, /slot 0: needs addr/],
      ["a slot in Storage outside the reservation", { slots: [{ addr: 0x10004000, length: 4096 }, { addr: 0x10030000, length: 4096 }], reserve }, /slot 1 \(0x10030000\+4096\) overlaps Storage .* outside a reservation/]
    ];
    for (const [what, layout, problem] of unsafe) {
      it(`refuses ${what}`, function () {
        const board = new SimBoard();
        const opts = { layout, storageAddr: 0x10000000 }, before = board.storage.read(".boot0");
        assert.throws(() => Install.installBoot(Object.assign(board.ports(), opts)), (e: any) => e.code === "layout" && problem.test(e.message));
        let err: any;
        Install.provision(Object.assign(board.ports(), opts), "x", (e: any) => { err = e; });
        assert.equal(err && err.code, "layout", "provision refuses it too");
        assert.equal(board.storage.read(".boot0"), before, "no layout installed: .boot0 as reserve() left it");
      });
    }

    it("refuses raw slots over firmware or Storage (outside Flash.getFree())", function () {
      const board = new SimBoard({ board: "ESPRUINOWIFI" });
      const layout = { slots: [{ addr: 0x08010000, length: 65536 }, { addr: 0x08004000, length: 16384 }] };
      assert.throws(() => Install.installBoot(Object.assign(board.ports(), { layout })), /slot 0 .*not inside a free flash area/);
    });
  });

  describe("layouts against Storage, found at run time", function () {
    const refuses = (board: SimBoard, opts: any, problem: RegExp) => {
      assert.throws(() => Install.installBoot(Object.assign(board.ports(), opts)), (e: any) => e.code === "layout" && problem.test(e.message), JSON.stringify(opts));
    };
    const linux = JSON.parse(readFileSync("boards/LINUX.json", "utf8")).layout;

    it("refuses a raw slot that Flash.getFree() offers inside Storage (ESP32's 0x360000)", function () {
      const board = new SimBoard({ board: "ESP32" });
      refuses(board, { board: "ESP32", layout: { slots: [{ addr: 0x360000, length: 16384 }, { addr: 0x310000, length: 16384 }] } }, /slot 0 \(0x360000\+16384\) overlaps Storage \(0x320000\+917504\)/);
    });

    it("takes Storage's start from process.memory() over the profile's table", function () {
      // A build whose Storage would start in the 128 KB sector: the reservation is not found there.
      const board = new SimBoard({ board: "PICO" });
      const memory = () => ({ total: 5100, blocksize: 13, flash_code_start: 0x08060000 });
      refuses(board, { board: "PICO", memory }, /Storage must begin with \.boot0 and the reservation/);
      assert.doesNotThrow(() => Install.installBoot(Object.assign(board.ports(), { board: "PICO" })));
    });

    it("reserve() carries on after a power cut between .boot0 and the reservation, and refuses any other file", function () {
      const board = new SimBoard({ board: "LINUX", setUp: false });
      let cut = 0;
      // A cut right after .boot0: the reservation's write never happens.
      const storage = Object.create(board.storage, { write: { value: (n: string, d: any, o?: number, s?: number) => {
        if (n === "dfu.area" && !cut++) throw new Error("power cut");
        return board.storage.write(n, d, o, s);
      } } });
      assert.throws(() => Install.reserve(Object.assign(board.ports(), { board: "LINUX", storage })), /power cut/);
      assert.deepEqual(board.storage.list(), [".boot0"]);
      Install.reserve(Object.assign(board.ports(), { board: "LINUX" }));
      assert.deepEqual([board.storage.list(), board.storage.addressOf("dfu.area")], [[".boot0", "dfu.area"], 0x10004000 - 32]);
      assert.doesNotThrow(() => Install.installBoot(Object.assign(board.ports(), { board: "LINUX" })));
      // .boot0 alone but not the one reserve() writes, or beside another file: refused.
      const again = () => Install.reserve(Object.assign(board.ports(), { board: "LINUX" }));
      for (const other of [() => board.storage.write(".boot0", "print(1)"), () => { again(); board.storage.erase("dfu.area"); board.storage.write("app", "x"); }]) {
        board.storage.eraseAll();
        other();
        assert.throws(again, /Storage is not empty/);
      }
    });

    it("reserves from the lowest slot inside Storage: a raw slot below Storage does not count (ESP32: 0x310000 raw, slot 1 in a reservation)", function () {
      const board = new SimBoard({ board: "ESP32" });
      // Slot 1 16 KB into Storage: .boot0 before it holds the selector even as a mutation run instruments it.
      const layout = { slots: [{ addr: 0x310000, length: 32768 }, { addr: 0x324000, length: 32768 }], reserve: { file: "dfu.area", length: 32768 } };
      Install.reserve(Object.assign(board.ports(), { layout, storageAddr: 0x320000 }));
      assert.deepEqual([board.storage.list(), board.storage.addressOf(".boot0"), board.storage.addressOf("dfu.area")], [[".boot0", "dfu.area"], 0x320000, 0x324000 - 32]);
      assert.doesNotThrow(() => Install.installBoot(Object.assign(board.ports(), { layout, storageAddr: 0x320000 })));
    });

    it("needs to know where Storage is: a layout without a board on a build that does not say is refused", function () {
      const board = new SimBoard({ board: "ESP32" });
      const layout = JSON.parse(readFileSync("boards/ESP32.json", "utf8")).layout;
      refuses(board, { layout }, /where Storage lies is unknown/);
      assert.doesNotThrow(() => Install.installBoot(Object.assign(board.ports(), { layout, storageAddr: 0x320000 })));
    });

    it("refuses the Original Espruino's area: Flash.getPage() does not know 0x08040000", function () {
      const board = new SimBoard({ board: "ESPRUINOBOARD" });
      const layout = { slots: [{ addr: 0x08040000, length: 61440 }, { addr: 0x0804f000, length: 61440 }] };
      refuses(board, { layout }, /slot 0 .*0x8040000 is outside flash/);
    });

    it("refuses an unmapped slot larger than the RAM its image is read into", function () {
      const board = new SimBoard({ board: "ESP32" });
      refuses(board, { board: "ESP32", memory: () => ({ total: 1500, blocksize: 16 }) }, /slot 0 \(0x310000\+32768\) is larger than the RAM \(24000 bytes\)/);
      assert.doesNotThrow(() => Install.installBoot(Object.assign(board.ports(), { board: "ESP32", memoryMapped: true, memory: () => ({ total: 1500, blocksize: 16 }) })), "a mapped slot runs in place");
    });

    it("LINUX: the slots must lie in the reservation, Storage's second file after .boot0, made by reserve() on an erased Storage", function () {
      const board = new SimBoard({ board: "LINUX", setUp: false });
      board.storage.write("app", "an earlier file");
      refuses(board, { board: "LINUX" }, /Storage must begin with \.boot0 and the reservation dfu\.area/);
      assert.throws(() => Install.reserve(Object.assign(board.ports(), { board: "LINUX" })), (e: any) => e.code === "layout" && /Storage is not empty/.test(e.message));
      refuses(board, { layout: { slots: linux.slots }, storageAddr: 0x10000000 }, /slot 0 \(0x10004000\+65536\) overlaps Storage/);

      const fresh = new SimBoard({ board: "LINUX", setUp: false });
      Install.reserve(Object.assign(fresh.ports(), { board: "LINUX" }));
      Install.reserve(Object.assign(fresh.ports(), { board: "LINUX" }));
      // .boot0 fills Storage's first 16 KB up to the reservation's header: its data starts on slot 0's page.
      assert.deepEqual([fresh.storage.list(), fresh.storage.addressOf(".boot0"), fresh.storage.addressOf("dfu.area")], [[".boot0", "dfu.area"], 0x10000000, 0x10004000 - 32], "once, after .boot0");
      assert.throws(() => Install.reserve(Object.assign(fresh.ports(), { board: "ESP32" })), (e: any) => e.code === "layout" && /reserves nothing/.test(e.message));
      assert.doesNotThrow(() => Install.installBoot(Object.assign(fresh.ports(), { board: "LINUX" })));
      // The reservation must end on a page boundary and cover the slots.
      refuses(fresh, { layout: Object.assign({}, linux, { reserve: { file: "dfu.area", length: linux.reserve.length - 4 } }), storageAddr: 0x10000000 }, /must begin with \.boot0 and the reservation/);
      const wide = JSON.parse(JSON.stringify(linux));
      wide.slots[1].addr += 1024;
      refuses(fresh, { layout: wide, storageAddr: 0x10000000 }, /slot 1 \(0x10014400\+65536\) overlaps Storage/);
    });

    for (const b of profiles.filter((p) => p.layout.reserve)) {
      it(`${b.name}: the application's files written, erased and compacted after the module's never move the reservation`, function () {
        const board = new SimBoard({ board: b.name });
        const room = Math.min(...b.layout.slots.map((s: any) => s.length)) - 400;
        board.saveApp(appImage("1.0.0", { size: 2000 }));
        provision(board, device(board, "1.0.0"));
        staged(board, "2.0.0", { size: room });
        assert.equal(check(board, device(board, "1.0.0")).result.state, "updated");
        // .boot0 and the reservation, Storage's first two files.
        const res = b.layout.reserve, end = (board.storage.addressOf(res.file) as number) + 32 + res.length, lo = b.storage - board.flash.base, hi = end - board.flash.base;
        const area = Buffer.from(board.flash.mem.subarray(lo, hi));
        // Fill Storage with files, erase every other one, write more: Storage compacts.
        const chunk = Math.max(256, Math.floor(board.storage.getFree() / 5) - 64);
        for (let i = 0; i < 5 && board.storage.getFree() > chunk + 64; i++) board.storage.write("fill" + i, String(i).repeat(chunk));
        for (let i = 0; i < 5; i += 2) if (board.storage.read("fill" + i) !== undefined) board.storage.erase("fill" + i);
        board.storage.write("more", "m".repeat(Math.min(Math.floor(chunk * 1.5), board.storage.getFree() + board.storage.getStats().trashBytes - 64)));
        board.storage.compact();
        assert.ok(board.storage.compactions >= 1, "Storage compacted");
        assert.ok(board.storage.compactedFrom >= end, "no compaction starts before the reservation's end");
        assert.deepEqual(Buffer.from(board.flash.mem.subarray(lo, hi)), area, ".boot0 and the reservation are byte for byte as they were");
        assert.equal(board.boot().ran, "2.0.0");
        confirm(board, device(board, "2.0.0"));
        staged(board, "3.0.0", { size: room });
        assert.equal(check(board, device(board, "2.0.0")).result.state, "updated");
        assert.equal(board.boot().ran, "3.0.0");
      });
    }

    /** A Pico running v2, confirmed, from slot 1 (in the reservation); v1 in slot 0 (raw, outside Storage). */
    const picoOnV2 = () => {
      const board = new SimBoard({ board: "PICO" });
      board.saveApp(appImage("1.0.0"));
      provision(board, device(board, "1.0.0"));
      staged(board, "2.0.0");
      check(board, device(board, "1.0.0"));
      assert.equal(board.boot().ran, "2.0.0");
      confirm(board, device(board, "2.0.0"));
      return board;
    };

    it("a reservation not where provisioning put it: the runtime refuses with a layout error and writes nothing; the selector runs only what lies outside it", function () {
      const board = picoOnV2();
      // Storage erased and the files written again: the reservation's header is gone from its place.
      const boot0 = board.storage.read(".boot0") as string;
      board.storage.eraseAll();
      board.storage.write(".boot0", boot0);
      staged(board, "3.0.0");
      const flash = Buffer.from(board.flash.mem);
      const { err } = check(board, device(board, "2.0.0"));
      assert.deepEqual([err && err.code, err && /reservation moved/.test(err.message)], ["layout", true]);
      assert.ok(flash.equals(Buffer.from(board.flash.mem)), "no flash written");
      const b = board.boot();
      assert.ok(b.printed.indexOf("NotecardDFU: reservation moved") >= 0, b.printed.join(" | "));
      assert.equal(b.ran, "1.0.0", "slot 1 (in the reservation) is not trusted; slot 0 (raw, outside Storage) still boots");
    });

    it("a reservation header changed in place (its name): the selector does not trust the intact slot inside it", function () {
      const board = picoOnV2();
      assert.equal(board.boot().ran, "2.0.0");
      // One letter of "dfu.area" in its file header, after .boot0: slot 1's pages untouched.
      board.flash.mem[(board.storage.addressOf("dfu.area") as number) - board.flash.base + 4] ^= 0x20;
      const b = board.boot();
      assert.equal(b.ran, "1.0.0", b.printed.join(" | "));
      assert.ok(b.printed.indexOf("NotecardDFU: reservation moved") >= 0);
    });

    it("PICO: proves the sector beyond the documented flash before using it, else refuses the board", function () {
      const good = new SimBoard({ board: "PICO" });
      good.saveApp(appImage("1.0.0"));
      provision(good, device(good, "1.0.0"));
      assert.equal(storedLayout(good).s[0].a, 0x08060000);
      assert.equal(good.boot().ran, "1.0.0");
      // Proven once: installing the selector again (or provisioning again) never erases the image in it.
      const erases = good.flash.erases;
      good.flash.stuck.push({ addr: 0x08060002, mask: 0x08, times: 1 });
      Install.installBoot(Object.assign(good.ports(), { board: "PICO" }));
      assert.equal(good.flash.erases, erases);
      assert.equal(good.boot().ran, "1.0.0");

      const bad = new SimBoard({ board: "PICO" });
      // The sector does not hold what is written to it.
      bad.flash.stuck.push({ addr: 0x08060002, mask: 0x08, times: 1 });
      bad.saveApp(appImage("1.0.0"));
      const [err] = settle(bad, (cb) => device(bad, "1.0.0").provision(undefined, cb));
      assert.equal(err && err.code, "layout");
      assert.match(err.message, /slot 0 reads back wrong at 0x8060000: this board's flash past its documented size is not there/);
      assert.doesNotMatch(bad.storage.read(".boot0") as string, /\n\/\/\{/, "no layout installed: .boot0 as reserve() left it");
      assert.equal(bad.boot().ran, "1.0.0", ".bootcde still boots");
    });

    it("refuses a board provisioned by release 0.1 (a record in Storage files) with what to do, and leaves it booting", function () {
      const board = new SimBoard();
      const old = '//{"b":"PUCKJS","s":[{"f":"dfu.0","l":10240},{"f":"dfu.1","l":10240}],"r":{"f":["dfu.r0","dfu.r1"],"l":256},"z":256,"x":3,"k":1024}\nprint("old selector")';
      board.storage.write(".boot0", old);
      const { err, result } = check(board, device(board, "1.0.0"));
      assert.deepEqual([err && err.code, result.state], ["layout", "retry"]);
      assert.match(err.message, /provisioned by an earlier release: erase Storage, provision again/);
      assert.equal(board.storage.read(".boot0"), old, "its selector is left as it was");
    });
  });

  describe("provisioning and the selector", function () {
    it("boots quietly after reserve() and before provision(): .boot0 holds the selector, no layout yet", function () {
      const board = new SimBoard();
      assert.doesNotMatch(board.storage.read(".boot0") as string, /\n\/\/\{/);
      const b = board.boot();
      assert.deepEqual([b.ran, b.printed], [null, []]);
    });

    it("moves .bootcde into slot 0, installs .boot0 and boots the app from the slot", function () {
      const board = new SimBoard();
      const app = appImage("1.0.0");
      board.saveApp(app);
      assert.equal(board.boot().ran, "1.0.0");
      const info = provision(board, device(board, "1.0.0"));
      assert.deepEqual([info.state, info.slot, info.version], ["confirmed", 0, "1.0.0"]);
      assert.equal(board.storage.read(".bootcde"), undefined);
      assert.equal(board.flash.read(app.length, 0x10004000).toString(), new Uint8Array(Buffer.from(app, "latin1")).toString());
      const b = board.boot();
      assert.equal(b.ran, "1.0.0");
      assert.deepEqual(board.flash.violations, []);
    });

    it("generates a selector that passes the Espruino gate", function () {
      // Under npm run mutation the selector carries StrykerJS's instrumentation, which is not ES5.
      if ((globalThis as any).__stryker__) this.skip();
      const board = new SimBoard();
      const src = device(board, "1.0.0").installBoot();
      assert.deepEqual(checkSource(src), []);
      // Before the reservation .boot0 keeps its size: erased bytes follow the layout line.
      assert.equal((board.storage.read(".boot0") as string).replace(/\xff+$/, ""), src);
    });

    it("stands aside while .bootcde exists (code saved from the IDE owns the boot), silently", function () {
      const board = new SimBoard();
      board.saveApp(appImage("1.0.0"));
      provision(board, device(board, "1.0.0"));
      board.saveApp(appImage("9.9.9-ide"));
      const b = board.boot();
      assert.equal(b.ran, "9.9.9-ide");
      assert.deepEqual(b.printed, []);
      assert.equal(b.rebootRequested, false);
    });

    it("lets a confirmed image that throws at start be: printed, no reboot (only a trial boot counts as failed)", function () {
      const board = new SimBoard();
      board.saveApp(appImage("1.0.0", { throws: true }));
      provision(board, device(board, "1.0.0"));
      const b = board.boot();
      assert.equal(b.ran, "1.0.0");
      assert.deepEqual(b.printed, ["NotecardDFU: image failed to start: Error: image 1.0.0 crashed at start"]);
      assert.equal(b.rebootRequested, false);
    });

    it("does not take a trailer whose header CRC does not match, however well formed", function () {
      const board = updated();
      assert.equal(device(board, "1.0.0").info().state, "pending");
      // Slot 1's header (v2, verified) with one bit of its version text changed, the rest intact.
      board.flash.mem[trailer(board, 1) + 12] ^= 0x01;
      assert.equal(device(board, "1.0.0").info().state, "confirmed");
      assert.equal(board.boot().ran, "1.0.0");
    });

    it("names both slots' failure and stands aside when neither image is intact", function () {
      const board = updated();
      assert.equal(board.boot().ran, "2.0.0");
      confirm(board, device(board, "2.0.0"));
      board.flash.mem[0x10014000 - 0x10000000 + 10] ^= 0x40;
      board.flash.mem[0x10004000 - 0x10000000 + 10] ^= 0x40;
      const b = board.boot();
      assert.equal(b.ran, null);
      assert.deepEqual(b.evaluated, [], "nothing evaluated");
      assert.deepEqual(b.printed, ["NotecardDFU: slot 1 fails its CRC", "NotecardDFU: slot 0 fails its CRC"]);
    });

    it("writes nothing at the boot of a confirmed image, reported or not", function () {
      const board = updated();
      board.boot();
      confirm(board, device(board, "2.0.0"));
      for (const when of ["before the report", "after it"]) {
        const flash = Buffer.from(board.flash.mem), ops = board.rail.ops;
        assert.equal(board.boot().ran, "2.0.0", when);
        assert.ok(flash.equals(Buffer.from(board.flash.mem)) && board.rail.ops === ops, `${when}: no flash operation`);
        assert.equal(device(board, "2.0.0").info().state, "confirmed");
        check(board, device(board, "2.0.0"));
      }
      assert.ok(board.card.reports.some((r) => r.req.status === "installed 2.0.0"));
    });

    it("erases nothing at a trial boot or a revert: each writes one word of the candidate's trailer", function () {
      const board = updated();
      const erases = board.flash.erases, t = trailer(board, 1);
      const changed = (before: Buffer) => [...new Set([...Array(before.length).keys()].filter((i) => before[i] !== board.flash.mem[i]).map((a) => (a - t) >> 2))];
      for (let i = 1; i <= 3; i++) {
        const before = Buffer.from(board.flash.mem);
        assert.equal(board.boot().ran, "2.0.0");
        assert.deepEqual(changed(before), [9 + i], `trial boot ${i}: its mark, word ${9 + i}`);
        assert.deepEqual([device(board, "2.0.0").info().state, device(board, "2.0.0").info().attempt], ["trial", i]);
      }
      const before = Buffer.from(board.flash.mem);
      const b = board.boot();
      assert.equal(b.ran, "1.0.0", b.printed.join(" | "));
      assert.deepEqual(b.printed, ["NotecardDFU: 2.0.0 rejected: not confirmed after 3 boots"]);
      assert.deepEqual(changed(before), [14], "the revert: the rejected mark");
      // Later boots pass a rejected candidate by: nothing written again, nothing printed.
      const writes: number[] = [], write = board.flash.write.bind(board.flash);
      board.flash.write = (data: any, addr: number) => { writes.push(addr); return write(data, addr); };
      const later = board.boot();
      board.flash.write = write;
      assert.deepEqual([later.ran, later.printed, writes], ["1.0.0", [], []]);
      assert.equal(board.flash.erases, erases, "nothing erased");
      assert.deepEqual(board.flash.violations, []);
      assert.deepEqual([device(board, "1.0.0").info().state, device(board, "1.0.0").info().reason], ["reverted", "not confirmed after 3 boots"]);
      assert.equal(board.boot().ran, "1.0.0");
    });

    it("does nothing without a valid trailer", function () {
      const board = new SimBoard();
      device(board, "1.0.0").installBoot();
      board.saveApp(appImage("1.0.0"));
      assert.equal(board.boot().ran, "1.0.0");
      board.storage.erase(".bootcde");
      const b = board.boot();
      assert.equal(b.ran, null);
      assert.deepEqual(b.printed, [], "quietly");
    });
  });

  describe("update, trial, confirm and revert", function () {
    // Every profile on its board's geometry, Storage and RAM (sim/geometry.ts, from board-facts.md),
    // with the runtime saved in Storage: v1 and v2 as large as the smaller slot allows.
    for (const name of profiles.map((p) => p.name)) {
      it(`runs v1 -> v2 (confirmed) -> v3 (never confirmed) -> reverted to v2 on ${name}, v1 and v2 the largest application`, function () {
        const profile = JSON.parse(readFileSync(`boards/${name}.json`, "utf8"));
        const board = new SimBoard({ board: name });
        Install.installBoot(Object.assign(board.ports(), { board: name }));
        const largest = Math.min(...profile.layout.slots.map((s: any) => s.length)) - storedLayout(board).t;
        // The first image goes through Storage (.bootcde): as large as Storage then takes.
        board.saveApp(appImage("1.0.0", { size: Math.min(largest, board.storage.getFree() - 2048) }));
        provision(board, device(board, "1.0.0"));
        assert.equal(board.boot().ran, "1.0.0");

        assert.equal(staged(board, "2.0.0", { size: largest }).length, largest);
        let { err, result } = check(board, device(board, "1.0.0"));
        assert.equal(err, null, err && err.message);
        assert.equal(result.state, "updated");
        assert.equal(board.reboots, 1);
        assert.ok(board.card.reports.some((r) => r.req.stop && /installing 2\.0\.0/.test(String(r.req.status))));

        let b = board.boot();
        assert.equal(b.ran, "2.0.0");
        let dfu = device(board, "2.0.0");
        assert.deepEqual([dfu.info().state, dfu.info().attempt], ["trial", 1]);
        assert.equal(confirm(board, dfu).state, "confirmed");
        ({ err, result } = check(board, dfu));
        assert.equal(err, null);
        assert.ok(board.card.reports.some((r) => r.req.status === "installed 2.0.0"), JSON.stringify(board.card.reports));

        staged(board, "3.0.0", { throws: true, size: 2000 });
        ({ err, result } = check(board, device(board, "2.0.0")));
        assert.equal(result.state, "updated");
        for (let i = 1; i <= 3; i++) {
          b = board.boot();
          assert.equal(b.ran, "3.0.0", `trial boot ${i}`);
          assert.ok(b.threw && b.rebootRequested, "an exception at start counts as a failed boot and reboots");
        }
        b = board.boot();
        assert.equal(b.ran, "2.0.0");
        dfu = device(board, "2.0.0");
        const info = dfu.info();
        assert.deepEqual([info.state, info.version, info.rejected], ["reverted", "2.0.0", "3.0.0"]);
        assert.match(info.reason, /not confirmed after 3 boots/);
        check(board, dfu);
        check(board, dfu);
        // Each outcome reported once: its mark is on the slot whose outcome it is.
        assert.equal(board.card.reports.filter((r) => r.req.stop && /rejected 3\.0\.0: not confirmed after 3 boots/.test(String(r.req.err))).length, 1, JSON.stringify(board.card.reports.map((r) => r.req)));
        assert.equal(board.card.reports.filter((r) => r.req.status === "installed 2.0.0").length, 1);
        assert.deepEqual(board.flash.violations, []);
      });
    }

    it("reverts at boot when the candidate slot no longer matches its CRC", function () {
      const board = updated();
      board.flash.mem[0x10014000 - 0x10000000 + 5] ^= 0xff; // slot 1 decays after staging
      const b = board.boot();
      assert.equal(b.ran, "1.0.0");
      assert.deepEqual(b.printed, ["NotecardDFU: 2.0.0 rejected: CRC mismatch at boot"]);
      assert.match(device(board, "1.0.0").info().reason, /CRC mismatch at boot/);
    });

    it("arms the trial watchdog for a trial boot and hands it to the idle loop on confirm", function () {
      const board = new SimBoard();
      const opts = { trialWatchdog: 8 };
      board.saveApp(appImage("1.0.0"));
      provision(board, device(board, "1.0.0", opts));
      assert.deepEqual(board.boot().watchdog, [], "no watchdog for a confirmed image");
      staged(board, "2.0.0");
      check(board, device(board, "1.0.0", opts));
      const b = board.boot();
      assert.equal(b.ran, "2.0.0");
      assert.deepEqual(b.watchdog, [[8, false]]);
      const calls: [number, boolean][] = [];
      const dfu = device(board, "2.0.0", Object.assign({ watchdog: (sec: number, auto: boolean) => calls.push([sec, auto]) }, opts));
      confirm(board, dfu);
      assert.deepEqual(calls, [[8, true]]);
    });

    it("counts maxAttempts trial boots (1 to 3, each a word of the trailer) and refuses more", function () {
      for (const x of [1, 2, 3]) {
        const board = new SimBoard();
        board.saveApp(appImage("1.0.0"));
        provision(board, device(board, "1.0.0", { maxAttempts: x }));
        staged(board, "2.0.0");
        check(board, device(board, "1.0.0"));
        for (let i = 1; i <= x; i++) {
          assert.equal(board.boot().ran, "2.0.0", `maxAttempts ${x}, boot ${i}`);
          assert.deepEqual([device(board, "2.0.0").info().state, device(board, "2.0.0").info().attempt], ["trial", i]);
        }
        const erases = board.flash.erases;
        assert.equal(board.boot().ran, "1.0.0", `maxAttempts ${x}: reverted at boot ${x + 1}`);
        assert.equal(board.flash.erases, erases, "the revert is a mark: nothing erased");
        assert.equal(device(board, "1.0.0").info().reason, `not confirmed after ${x} boots`);
      }
      const board = new SimBoard();
      board.saveApp(appImage("1.0.0"));
      const [err] = settle(board, (cb) => device(board, "1.0.0", { maxAttempts: 4 }).provision(undefined, cb));
      assert.deepEqual([err && err.code, err && err.message], ["layout", "maxAttempts: 1 to 3"]);
      assert.doesNotMatch(board.storage.read(".boot0") as string, /\n\/\/\{/, "no layout installed");
    });

    it("defers an update while the running image is still on trial", function () {
      const board = updated();
      board.boot();
      staged(board, "3.0.0");
      const { result } = check(board, device(board, "2.0.0"));
      assert.equal(result.state, "trial");
    });
  });

  describe("the state table", function () {
    it("every change of state in an update life, a revert and an abandoned copy is a row of src/slots/states.ts's table", function () {
      const table = transitions(), path = ["none"];
      const board = new SimBoard();
      const note = (version: string) => {
        const from = path[path.length - 1], to = device(board, version).info().state;
        if (to === from) return;
        assert.ok(Object.keys(table[from] || {}).some((ev) => table[from][ev] === to), `${from} -> ${to} is not in the table`);
        path.push(to);
      };
      const watched = (version: string, extra: any = {}) => device(board, version, Object.assign({ onProgress: () => note(version) }, extra));
      board.saveApp(appImage("1.0.0"));
      provision(board, device(board, "1.0.0"));
      note("1.0.0");
      staged(board, "2.0.0", { size: 3000 });
      // A copy cut by a reset, then resumed.
      assert.throws(() => check(board, watched("1.0.0", { chunkSize: 256, onProgress: (p: any) => { note("1.0.0"); if (p.offset >= 1024) board.rail.down = true; } })));
      board.boot();
      check(board, watched("1.0.0"));
      note("1.0.0");
      board.boot();
      note("2.0.0");
      confirm(board, device(board, "2.0.0"));
      note("2.0.0");
      staged(board, "3.0.0", { throws: true });
      check(board, watched("2.0.0"));
      note("2.0.0");
      for (let i = 0; i < 4; i++) { board.boot(); note("2.0.0"); }
      // A copy refused for good once complete (its CRC never matches): abandoned.
      board.card.stage({ data: new Uint8Array(Buffer.from(appImage("4.0.0"), "latin1")), version: "4.0.0", body: { crc32: 7 } });
      check(board, watched("2.0.0"));
      note("2.0.0");
      assert.deepEqual(path, ["none", "confirmed", "progress", "pending", "trial", "confirmed", "progress", "pending", "trial", "reverted", "progress", "confirmed"]);
    });
  });

  describe("128 KiB sectors", function () {
    it("updates with slots in STM32F4 128 KiB sectors", function () {
      const board = new SimBoard({ board: "F4_SECTORS", geometry: GEOMETRIES.F4_SECTORS });
      board.saveApp(appImage("1.0.0"));
      provision(board, device(board, "1.0.0", { layout: F4_SECTORS_LAYOUT, memoryMapped: true }));
      staged(board, "2.0.0", { size: 20000 });
      const { err, result } = check(board, device(board, "1.0.0", { layout: F4_SECTORS_LAYOUT, memoryMapped: true }));
      assert.equal(err, null);
      assert.equal(result.state, "updated");
      assert.equal(board.boot().ran, "2.0.0");
    });
  });
});
