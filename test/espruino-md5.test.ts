// The chunk-MD5 add-on (NotecardDFUMD5, ES5, used with cards that do not echo the crc) gives Node's
// answers on the real interpreter, whose integer and typed-array arithmetic differs from V8's.
import { strict as assert } from "assert";
import { createHash } from "crypto";
import { requireEspruino, runEspruino, storeFile, tempDir } from "./helpers/espruino";

describe("chunk MD5 on the Espruino interpreter (ESPRUINO_BIN)", function () {
  it("matches Node's MD5 for empty, short and multi-block inputs", function () {
    const bin = requireEspruino(this);
    const sizes = [0, 3, 55, 56, 64, 4100];
    const data = (n: number) => new Uint8Array(n).map((_, i) => (i * 31 + 7) & 255);
    const dir = tempDir();
    storeFile(bin, dir, "dist/NotecardDFUMD5.pretok", "NotecardDFUMD5");
    const out = runEspruino(bin, dir, `var md5 = require("NotecardDFUMD5");
      [${sizes.join(",")}].forEach(function (n) {
        var d = new Uint8Array(n); for (var i = 0; i < n; i++) d[i] = (i * 31 + 7) & 255;
        print("MD5 " + n + " " + md5.hex(d));
      });`);
    for (const n of sizes) {
      assert.match(out, new RegExp(`MD5 ${n} ${createHash("md5").update(data(n)).digest("hex")}`), out);
    }
  });
});
