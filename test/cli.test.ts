// The host tools as a user runs them: `notecard-dfu demo` in its scenarios and `notecard-dfu pack`.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { readFileSync, writeFileSync } from "fs";
import { join } from "path";
import CRC32 from "crc-32";
import { appImage, SimBoard } from "../sim/board";
import { checkSource } from "../tools/espruino-gate";
import { Install } from "./helpers/device";
import { tempDir } from "./helpers/espruino";

const CLI = "dist/node/tools/cli.js";

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120e3 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("notecard-dfu CLI", function () {
  this.timeout(120e3);

  describe("demo", function () {
    it("shows a whole update, the restart, the first boot, the confirm and what Notehub recorded", function () {
      const { code, out } = run("demo");
      assert.equal(code, 0, out);
      for (const step of [/Notecard <- \{"req":"dfu.status","version":"1.0.0"\}/, /Notecard <- \{"req":"hub.set","mode":"dfu"\}/,
        /\[#+\.*\]\s+\d+ %/, /Notecard <- \{"req":"hub.set","mode":"dfu-completed"\}/, /verified/, /restart/,
        /boot #3: image 2\.0\.0 started/, /confirms itself/, /"status":"installed 2\.0\.0"/, /OK: v2 installed and confirmed/]) {
        assert.match(out, step);
      }
    });

    it("--faults: recovers from bus faults and a power cut mid-copy, resuming where the slot has pages to resume at", function () {
      const pico = run("demo", "--faults");
      assert.equal(pico.code, 0, pico.out);
      assert.match(pico.out, /POWER CUT/);
      assert.match(pico.out, /the copy at or past slot 1's last erase page \(from 0\), which holds its trailer: it started again/);
      assert.match(pico.out, /OK: v2 installed and confirmed/);
      // Two 4 KB pages a slot: the only resume point is the trailer page's start, journaled after the cut.
      const puck = run("demo", "--faults", "--board", "PUCKJS");
      assert.equal(puck.code, 0, puck.out);
      assert.match(puck.out, /the power cut came at offset 4096, the copy at or past slot 1's last erase page \(from 4096\)/);
      const linux = run("demo", "--faults", "--board", "LINUX");
      assert.equal(linux.code, 0, linux.out);
      assert.match(linux.out, /resume [1-9]\d*/);
      assert.match(linux.out, /OK: v2 installed and confirmed/);
    });

    it("--bad-image: a v3 that never confirms is reverted and the revert reported", function () {
      const { code, out } = run("demo", "--bad-image");
      assert.equal(code, 0, out);
      assert.equal((out.match(/image 3\.0\.0 started and threw/g) || []).length, 3);
      assert.match(out, /"err":"rejected 3\.0\.0: not confirmed after 3 boots"/);
      assert.match(out, /OK: v3 rejected, v2 running/);
    });

    it("--json: prints a machine-readable summary", function () {
      const { code, out } = run("demo", "--json", "--board", "LINUX", "--faults");
      assert.equal(code, 0, out);
      const s = JSON.parse(out);
      assert.equal(s.ok, true);
      assert.equal(s.running, "2.0.0");
      assert.equal(s.powerCuts, 1);
      assert.ok(s.resumedAt > 0);
      assert.ok(Object.values(s.faultsInjected as Record<string, number>).reduce((a, b) => a + b, 0) > 0);
      assert.ok(s.notehub.some((r: any) => r.status === "installed 2.0.0"));
    });

    it("exits non-zero when the expected outcome is not met", function () {
      const { code, out } = run("demo", "--size", "100000");
      assert.equal(code, 1);
      assert.match(out, /larger than slot/);
      assert.match(out, /FAILED: expected v2 installed and confirmed/);
    });
  });

  describe("provision-script", function () {
    it("prints ES5 that erases Storage, reserves the slots, provisions the board and names the runtime last", function () {
      const r = run("provision-script", "--board", "LINUX", "--version", "1.0.0");
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(checkSource(r.out), []);
      const steps = r.out.split(/^(?=\/\/ Step \d+)/m);
      assert.equal(steps.length, 4, r.out);
      assert.match(steps[1], /save your app/);
      assert.match(steps[3], /store the runtime as the Storage file "NotecardDFU"/);
      // A board with an earlier file, as a user's would be: step 1 makes Storage what provisioning needs.
      const board = new SimBoard({ board: "LINUX", setUp: false });
      board.storage.write("old", "a file from before");
      const printed: string[] = [];
      // What the board provides: the module, bound to this board's hardware, and Storage.
      const req = (name: string) => name === "NotecardDFUInstall"
        ? { reserve: (o: any) => Install.reserve(Object.assign(board.ports(), o)), provision: (o: any, code: any, cb: any) => Install.provision(Object.assign(board.ports(), o), code, cb) }
        : name === "Storage" ? board.storage : undefined;
      new Function("require", "print", steps[0])(req, (t: string) => printed.push(t));
      assert.deepEqual(board.storage.list(), [".boot0", "dfu.area"], "erased, then .boot0 and the reservation alone");
      board.saveApp(appImage("1.0.0"));
      new Function("require", "print", steps[2])(req, (t: string) => printed.push(t));
      board.clock.runUntil(() => printed.length > 0);
      assert.match(printed[0], /^provisioned: \{"state":"confirmed","slot":0,"version":"1.0.0"/, printed.join("\n"));
      assert.equal(board.storage.read(".bootcde"), undefined, ".bootcde moved into its slot");
      assert.equal(board.boot().ran, "1.0.0");
      const esp32 = run("provision-script", "--board", "ESP32", "--version", "1.0.0").out;
      assert.doesNotMatch(esp32, /reserve|eraseAll/, "a board without a reservation is not told to erase or reserve");
      assert.equal(esp32.split(/^\/\/ Step \d+/m).length - 1, 3);
      assert.match(run("provision-script", "--board", "NOPE", "--version", "1.0.0").err, /unknown board NOPE/);
    });
  });

  describe("pack", function () {
    it("writes the Notehub image with a firmware::info tag and prints its length, CRC-32 and MD5", function () {
      const dir = tempDir();
      const app = join(dir, "app.js");
      writeFileSync(app, "var led = false;\nsetInterval(function () { led = !led; }, 500);\n");
      const { code, out } = run("pack", app, "--version", "1.2.3", "--org", "Acme", "--product", "Blinky");
      assert.equal(code, 0, out);
      const image = readFileSync(join(dir, "app.notehub.js"), "latin1");
      const m = /^\/\/ firmware::info:(\{.*\})\n/.exec(image);
      assert.ok(m, "firmware::info tag on the first line");
      const info = JSON.parse(m![1]);
      assert.deepEqual([info.version, info.org, info.product, info.ver_major, info.ver_minor, info.ver_patch], ["1.2.3", "Acme", "Blinky", 1, 2, 3]);
      assert.match(out, new RegExp(`length ${Buffer.byteLength(image, "latin1")} bytes`));
      assert.match(out, new RegExp(`crc32\\s+${CRC32.bstr(image) >>> 0}\\b`));
      assert.match(out, /md5\s+[0-9a-f]{32}/);
    });

    it("minifies on request and the result still parses as ES5", function () {
      const dir = tempDir();
      const app = join(dir, "app.js");
      writeFileSync(app, "function blink(pin) {\n  // toggles a pin\n  var state = false;\n  return function () { state = !state; };\n}\nvar t = blink(1);\n");
      const { code } = run("pack", app, "--version", "2.0.0", "--minify", "-o", join(dir, "out.js"));
      assert.equal(code, 0);
      const out = readFileSync(join(dir, "out.js"), "latin1");
      assert.ok(!/toggles a pin/.test(out));
      assert.ok(out.length < readFileSync(app, "latin1").length + 200);
      // The output itself, tag and all, is ES5 Espruino runs.
      assert.deepEqual(checkSource(out), []);
    });

    it("refuses an application that would not run on Espruino", function () {
      const dir = tempDir();
      const app = join(dir, "app.js");
      writeFileSync(app, "const f = async () => { await 1; };\n");
      const { code, err } = run("pack", app, "--version", "1.0.0");
      assert.equal(code, 1);
      assert.match(err, /not ECMAScript 5/);
    });

    it("requires a version", function () {
      const dir = tempDir();
      const app = join(dir, "app.js");
      writeFileSync(app, "var x = 1;\n");
      const { code, err } = run("pack", app);
      assert.equal(code, 1);
      assert.match(err, /--version is required/);
    });
  });
});
