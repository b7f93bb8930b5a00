// On the real interpreter (Linux build: all 256 KB of its flash is Storage), the LINUX profile's
// slots and their trailers live in the reservation, Storage's second file after .boot0. The application's files
// written, erased and compacted (implicitly, by a write that does not fit, and explicitly) must
// leave them byte for byte as they were; the next boot starts the provisioned image, and an update
// after that copies, restarts into and confirms the new one.
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import { requireEspruino, runEspruino, stageFile, storeFile, tempDir } from "./helpers/espruino";

const FAKE = readFileSync("test/espruino/fake-notecard.js", "utf8");

describe("the LINUX reservation on the Espruino interpreter: Storage filled, erased and compacted (ESPRUINO_BIN)", function () {
  this.timeout(120e3);
  it("never harms a slot or a trailer; the next boot starts the image, and an update after it installs", function () {
    const bin = requireEspruino(this);
    const dir = tempDir();
    const step = (code: string) => runEspruino(bin, dir, code, 60e3);
    const install = stageFile(dir, "dist/NotecardDFUInstall.min.js", "install.js");
    let out = step(`Modules.addCached("NotecardDFUInstall", require("fs").readFileSync("${install}")); require("NotecardDFUInstall").reserve({ board: "LINUX" }); print("FIRST " + require("Storage").list().join());`);
    assert.match(out, /FIRST \.boot0,dfu\.area\r?\n/, out);
    storeFile(bin, dir, "dist/NotecardDFU.pretok", "NotecardDFU");
    step(`require("Storage").write(".bootcde", 'print("RUNNING 1.0.0");');`);
    out = step(`Modules.addCached("NotecardDFUInstall", require("fs").readFileSync("${install}")); require("NotecardDFUInstall").provision({ board: "LINUX", version: "1.0.0" }, undefined, function (e, i) { print("PROVISIONED " + (e || i.state)); });`);
    assert.match(out, /PROVISIONED confirmed/, out);

    // The slots and their trailers: whole pages 1..128 of the reservation.
    const area = `E.CRC32(require("Flash").read(0x20000, 0x10004000))`;
    const before = /AREA (\d+)/.exec(step(`print("AREA " + ${area});`));
    assert.ok(before, "area CRC read");
    out = step(`var S = require("Storage"), i;
      for (i = 0; i < 5; i++) S.write("fill" + i, new Uint8Array(16000).fill(48 + i));
      S.erase("fill0"); S.erase("fill2"); S.erase("fill4");
      var st = S.getStats(); print("TRASH " + st.trashCount + " FREE " + st.freeBytes);
      S.write("big", new Uint8Array(st.freeBytes + 10000).fill(66));
      S.erase("big"); S.erase("fill1"); S.compact();
      st = S.getStats(); print("AFTER " + st.trashCount + " " + S.list().join());`);
    assert.match(out, /TRASH [3-9] /, out);
    assert.equal((out.match(/Compacting/g) || []).length, 2, "one implicit compaction (the write that did not fit), one explicit: " + out);
    assert.match(out, /AFTER 0 \.boot0,dfu\.area,/, "compacted, .boot0 and the reservation still first: " + out);
    out = step(`print("AREA " + ${area});`);
    assert.match(out, /RUNNING 1\.0\.0/, out);
    assert.doesNotMatch(out, /fails its CRC/, out);
    assert.equal((/AREA (\d+)/.exec(out) || [])[1], before![1], "the slots and trailers are unchanged");

    // Then an update: copied into slot 1, a restart (a new process runs .boot0), confirmed.
    const v2 = 'print("RUNNING 2.0.0"); require("NotecardDFU").setup({ i2c: {}, version: "2.0.0" }).confirm(function (e, i) { print("CONFIRM " + (e || i.state)); });';
    out = step(FAKE + `
      var card = new FakeNotecard(${JSON.stringify(v2)});
      card.version = "2.0.0";
      require("NotecardDFU").setup({ i2c: card, version: "1.0.0", transport: { resetSettleMs: 5, drainMs: 20 }, reboot: function () { print("REBOOT"); } })
        .check(function (err, res) { print("CHECK " + res.state + (err ? " " + err.message : "")); });`);
    assert.match(out, /CHECK updated/, out);
    out = step(`print("BOOTED " + require("Storage").list().join());`);
    assert.match(out, /RUNNING 2\.0\.0/, out);
    assert.match(out, /CONFIRM confirmed/, out);
    assert.match(out, /BOOTED \.boot0,dfu\.area,/, ".boot0 and the reservation still Storage's first files: " + out);
  });
});
