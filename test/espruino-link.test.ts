// The bundle's Notecard link inside the real interpreter, against a fake Notecard written in
// Espruino JS: framing, crc and the native receive path run on Espruino itself.
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import { requireEspruino, runEspruino, storeFile, tempDir } from "./helpers/espruino";

describe("Notecard link on the Espruino interpreter (ESPRUINO_BIN)", function () {
  it("exchanges requests with crc and reads a chunk through the bundle", function () {
    const bin = requireEspruino(this);
    const dir = tempDir();
    storeFile(bin, dir, "dist/NotecardDFU.pretok", "NotecardDFU");
    const fake = readFileSync("test/espruino/fake-notecard.js", "utf8");
    const code = fake + `
      var img = ""; for (var i = 0; i < 3000; i++) img += String.fromCharCode((i * 7) & 255);
      var card = new FakeNotecard(img);
      var dfu = require("NotecardDFU").setup({ i2c: card, board: "LINUX", transport: { resetSettleMs: 5, drainMs: 20 } });
      dfu.request({ req: "card.version" }, function (err, rsp) {
        print("VERSION:" + (err ? err.message : rsp.version));
        dfu.request({ req: "dfu.get", offset: 1000, length: 2000 }, function (err, rsp) {
          var got = err ? err.message : atob(rsp.payload);
          print("CHUNK:" + (got === img.substr(1000, 2000) ? "exact" : "wrong " + got.length));
        });
      });`;
    const out = runEspruino(bin, dir, code);
    assert.match(out, /VERSION:notecard-9\.1\.1/, out);
    assert.match(out, /CHUNK:exact/, out);
  });
});
