// The minified bundle, stored as the Storage module "NotecardDFU", loads in a fresh interpreter.
import { strict as assert } from "assert";
import { requireEspruino, runEspruino, storeFile, tempDir } from "./helpers/espruino";

describe("Espruino interpreter smoke test (ESPRUINO_BIN)", function () {
  it("require(\"NotecardDFU\").setup is a function after storing the minified bundle", function () {
    const bin = requireEspruino(this);
    const dir = tempDir();
    storeFile(bin, dir, "dist/NotecardDFU.min.js", "NotecardDFU");
    const out = runEspruino(bin, dir, 'print("SETUP:" + typeof require("NotecardDFU").setup);');
    assert.match(out, /SETUP:function/, out);
  });
});
