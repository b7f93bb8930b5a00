// Both forms of the runtime, stored as the Storage module "NotecardDFU", load in a fresh
// interpreter: the minified text (any firmware) and the pretokenised copy (2v21 on).
import { strict as assert } from "assert";
import { requireEspruino, runEspruino, storeFile, tempDir } from "./helpers/espruino";

describe("Espruino interpreter smoke test (ESPRUINO_BIN)", function () {
  for (const file of ["dist/NotecardDFU.min.js", "dist/NotecardDFU.pretok"]) {
    it(`require("NotecardDFU").setup works after storing ${file}`, function () {
      const bin = requireEspruino(this);
      const dir = tempDir();
      storeFile(bin, dir, file, "NotecardDFU");
      const out = runEspruino(bin, dir, 'var d = require("NotecardDFU").setup({ i2c: {}, layout: { slots: [{ addr: 0x10000400, length: 4096 }, { addr: 0x10001400, length: 4096 }], record: { addr: 0x10002400, length: 2048 } } });' +
        ' print("INFO:" + JSON.stringify(d.info()));');
      assert.match(out, /INFO:\{"state":"none","slot":-1,"version":"0\.0\.0","attempt":0\}/, out);
    });
  }
});
