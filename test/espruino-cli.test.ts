// The `espruino` CLI, as users upload with it: offline (a local board JSON, no device), it
// re-minifies the bundle with its own minifier; the result must still pass the Espruino gate and,
// with ESPRUINO_BIN, still load as the Storage module "NotecardDFU".
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { checkSource } from "../tools/espruino-gate";
import { espruinoBin, runEspruino, storeFile, tempDir } from "./helpers/espruino";

describe("espruino CLI bundling check", function () {
  this.timeout(120e3);
  it("the CLI's minified upload of the bundle still passes the gate (and loads, with ESPRUINO_BIN)", function () {
    const dir = tempDir();
    writeFileSync(join(dir, "board.json"), JSON.stringify({ info: { builtin_modules: ["Flash", "Storage", "crypto"] } }));
    const out = join(dir, "out.js");
    execFileSync(process.execPath, ["node_modules/espruino/bin/espruino-cli.js", "--board", join(dir, "board.json"), "-m", "dist/NotecardDFU.min.js", "-o", out],
      { encoding: "utf8", input: "", timeout: 90e3 });
    const code = readFileSync(out, "utf8");
    assert.ok(code.length > 10000, "the CLI wrote the module");
    assert.deepEqual(checkSource(code), []);
    const bin = espruinoBin();
    if (!bin) return;
    storeFile(bin, dir, out, "NotecardDFU");
    assert.match(runEspruino(bin, dir, 'print("SETUP:" + typeof require("NotecardDFU").setup);'), /SETUP:function/);
  });
});
