// A whole update on the real interpreter (Espruino Linux build): the pretokenised modules in Storage, a fake Notecard bus written in Espruino JS, provisioning with the install
// module (then erased, as the README tells users), the download, a
// restart (a new `espruino -e` process runs .boot0), the trial boot and confirm, then a bad image
// that throws at start and is reverted after maxAttempts boots.
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import { requireEspruino, runEspruino, stageFile, storeFile, tempDir } from "./helpers/espruino";

const FAKE = readFileSync("test/espruino/fake-notecard.js", "utf8");
const FAST = "transport: { resetSettleMs: 5, drainMs: 20 }";

/**
 * Where the images live: the LINUX profile's reservation (1 KB pages), and one laid out as a
 * Puck.js's would be, in 4 KB erase units (each four of the emulated 1 KB pages): .boot0 fills the
 * first unit up to the reservation's header, then two slots of four units each.
 */
const PUCK_SHAPED = 'layout: { slots: [{ addr: 0x10001000, length: 16384 }, { addr: 0x10005000, length: 16384 }], reserve: { file: "dfu.area", length: 32768 } }, storageAddr: 0x10000000';
const LAYOUTS: [string, string][] = [
  ["the LINUX profile's reservation", 'board: "LINUX"'],
  ["a reservation in 4 KB erase units built from 1 KB pages, as on a Puck.js", PUCK_SHAPED]
];

for (const [name, where] of LAYOUTS) {
  /** An application image: prints its version, confirms itself when good, throws when bad. */
  const app = (version: string, bad = false): string => bad
    ? `print("RUNNING ${version}"); throw new Error("broken ${version}");`
    : `print("RUNNING ${version}"); function onInit() { print("ONINIT ${version}"); } require("NotecardDFU").setup({ i2c: {}, ${where}, version: "${version}" }).confirm(function (e, i) { print("CONFIRM " + (e || i.state)); });`;

  const update = (from: string, to: string, image: string): string => FAKE + `
      var card = new FakeNotecard(${JSON.stringify(image)});
      card.version = ${JSON.stringify(to)};
      var dfu = require("NotecardDFU").setup({ i2c: card, ${where}, version: ${JSON.stringify(from)}, ${FAST}, resumeEvery: 4096,
        reboot: function () { print("REBOOT"); } });
      dfu.check(function (err, res) {
        print("CHECK " + res.state + (err ? " " + err.message : ""));
        print("REPORTS " + JSON.stringify(card.reports));
      });`;

  describe(`a whole update on the Espruino interpreter, ${name} (ESPRUINO_BIN)`, function () {
    this.timeout(120e3);
    it("provisions, updates, confirms, reverts a bad image, refuses a downgrade, resumes a copy cut by a reset", function () {
      const bin = requireEspruino(this);
      const dir = tempDir();
      // First, on the erased Storage: the reservation the slots live in, from the install module
      // in RAM (as the IDE sends a required module).
      const install = stageFile(dir, "dist/NotecardDFUInstall.min.js", "install.js");
      const r = runEspruino(bin, dir, `Modules.addCached("NotecardDFUInstall", require("fs").readFileSync("${install}")); require("NotecardDFUInstall").reserve({ ${where} }); print("FIRST " + require("Storage").list().join());`);
      assert.match(r, /FIRST \.boot0,dfu\.area\r?\n/, r);
      storeFile(bin, dir, "dist/NotecardDFU.pretok", "NotecardDFU");
      storeFile(bin, dir, "dist/NotecardDFUInstall.pretok", "NotecardDFUInstall");
      const step = (code: string) => runEspruino(bin, dir, code, 60e3);

      let out = step(`require("Storage").write(".bootcde", ${JSON.stringify(app("1.0.0"))});`);
      out = step(`require("NotecardDFUInstall").provision({ ${where}, version: "1.0.0" }, undefined, function (e, i) { print("PROVISIONED " + (e || i.state + " slot " + i.slot)); require("Storage").erase("NotecardDFUInstall"); });`);
      assert.match(out, /PROVISIONED confirmed slot 0/, out);
      assert.doesNotMatch(step(`print("FILES " + require("Storage").list());`), /NotecardDFUInstall/, "the install module is erased once provisioning has run");

      out = step(update("1.0.0", "2.0.0", app("2.0.0")));
      assert.match(out, /RUNNING 1\.0\.0/, out);
      assert.match(out, /CHECK updated/, out);
      assert.match(out, /REBOOT/, out);
      assert.match(out, /installing 2\.0\.0/, out);

      // After the image's confirm() has finished.
      out = step(`setTimeout(function () { print("INFO " + JSON.stringify(require("NotecardDFU").setup({ i2c: {}, ${where} }).info())); }, 100);`);
      assert.match(out, /RUNNING 2\.0\.0/, out);
      assert.match(out, /CONFIRM confirmed/, out);
      assert.match(out, /ONINIT 2\.0\.0/, "onInit() of a slot image runs, as from .bootcde: " + out);
      assert.match(out, /INFO \{"state":"confirmed","slot":1,"version":"2.0.0"/, out);

      out = step(update("2.0.0", "3.0.0", app("3.0.0", true)));
      assert.match(out, /RUNNING 2\.0\.0/, out);
      assert.match(out, /CHECK updated/, out);
      for (let i = 1; i <= 3; i++) {
        out = step(`print("BOOTED");`);
        assert.match(out, /RUNNING 3\.0\.0/, `trial ${i}: ${out}`);
        assert.match(out, /image failed to start/, out);
      }
      out = step(`setTimeout(function () { print("INFO " + JSON.stringify(require("NotecardDFU").setup({ i2c: {}, ${where} }).info())); }, 100);`);
      assert.match(out, /RUNNING 2\.0\.0/, out);
      assert.match(out, /"state":"reverted"/, out);
      assert.match(out, /"rejected":"3\.0\.0","reason":"not confirmed after 3 boots"/, out);

      out = step(update("2.0.0", "2.0.0", app("2.0.0")).replace("new FakeNotecard(", "new FakeNotecard(null && "));
      assert.match(out, /rejected 3\.0\.0: not confirmed after 3 boots/, out);

      // The anti-downgrade gate runs on the interpreter's own string and regex support too.
      out = step(update("2.0.0", "1.5.0", app("1.5.0")));
      assert.match(out, /CHECK failed downgrade from 2\.0\.0 to 1\.5\.0 refused/, out);
      // A reset halfway through a copy (E.reboot() ends the process here), after the copy's first
      // resume point (4 KiB, resumeEvery above: the image is smaller than the default's 16 KiB),
      // then the next boot resumes.
      const big = app("4.0.0") + "/*" + "x".repeat(6000) + "*/";
      out = step(update("2.0.0", "4.0.0", big).replace("reboot: function () {", "chunkSize: 1024, onProgress: function (p) { if (p.offset >= 5120) { print(\"RESET at \" + p.offset); E.reboot(); } }, reboot: function () {"));
      assert.match(out, /RESET at 5120/, out);
      out = step(update("2.0.0", "4.0.0", big).replace("dfu.check(function (err, res) {", "dfu.check(function (err, res) { print(\"RESUMED \" + res.resumedAt);"));
      assert.match(out, /RESUMED [1-9]\d*/, out);
      assert.match(out, /CHECK updated/, out);
      out = step(`print("BOOTED");`);
      assert.match(out, /RUNNING 4\.0\.0/, out);
    });
  });
}
