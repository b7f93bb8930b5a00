// The module's RAM on an interpreter with a Puck.js's fixed 2,630 variables (ESPRUINO_FIXED_BIN, a
// Linux build whose board file sets 'variables': 2630): provisioning and a whole update of a 12 KB
// image with 1 KiB chunks into a reservation laid out in a Puck.js's 4 KB units must complete, and the module's share of the peak
// (usage above what was in use just before require) must stay within 800 JsVars.
import { strict as assert } from "assert";
import { existsSync } from "fs";
import { measureRam } from "./helpers/ram";

describe("RAM on a Puck.js-sized interpreter (ESPRUINO_FIXED_BIN)", function () {
  this.timeout(600e3);
  for (const runtime of ["dist/NotecardDFU.pretok"]) {
    it(`provisions and runs a whole update with 1 KiB chunks within 800 JsVars of module share (${runtime})`, function () {
      const bin = process.env.ESPRUINO_FIXED_BIN;
      if (!bin || !existsSync(bin)) {
        console.log("      (skipped: set ESPRUINO_FIXED_BIN to an Espruino Linux build with 'variables': 2630)");
        this.skip();
      }
      const r = measureRam(bin as string, 1024, undefined, runtime);
      assert.doesNotMatch(r.out, /MEMORY/, "the interpreter ran out of memory:\n" + r.out.slice(-2000));
      assert.equal(r.state, "updated", r.out.slice(-2000));
      assert.equal(r.total, 2630, "the interpreter is not built with 2,630 variables");
      console.log(`      require ${r.require}, setup ${r.setup}, update peak ${r.peak}; install require ${r.installRequire}, provisioning peak ${r.provisionPeak} (JsVars of ${r.total})`);
      assert.ok(r.peak <= 800, `module share of the peak ${r.peak} JsVars > 800`);
      assert.ok(r.require <= 350, `require ${r.require} JsVars > 350`);
      assert.ok(r.setup <= 250, `setup ${r.setup} JsVars > 250`);
    });
  }
});
