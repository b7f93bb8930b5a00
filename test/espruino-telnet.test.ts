// The modules as a user loads them (README "Loading the modules"): a running interpreter
// (`espruino --telnet`, the Linux build's telnet server on 127.0.0.1:2323) and nothing but the
// `espruino` CLI, offline: the modules stored with --storage, the factory app saved as .bootcde,
// provisioning with the script `notecard-dfu provision-script` prints, then an application that
// requires NotecardDFU resolved from a local modules/ folder runs a whole update against a fake
// Notecard on the interpreter; the result is read back through the same connection.
import { strict as assert } from "assert";
import { ChildProcess, execFileSync, spawn } from "child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { connect } from "net";
import { join, resolve } from "path";
import CRC32 from "crc-32";
import { requireEspruino, tempDir } from "./helpers/espruino";

const ROOT = resolve(__dirname, "..");
const CLI = join(ROOT, "node_modules/espruino/bin/espruino-cli.js");
const PORT = 2323;

/** true when something accepts connections on the port. */
function listening(): Promise<boolean> {
  return new Promise((done) => {
    const s = connect(PORT, "127.0.0.1");
    s.once("connect", () => { s.destroy(); done(true); });
    s.once("error", () => done(false));
  });
}

async function until(what: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    if (await what()) return true;
  }
  return false;
}

describe("the espruino CLI against a running interpreter over telnet (ESPRUINO_BIN)", function () {
  this.timeout(300e3);
  let child: ChildProcess | null = null;
  after(function () {
    if (child && child.exitCode === null) child.kill("SIGKILL");
  });

  it("stores the modules, provisions, and runs an update from an app whose require() the CLI resolves from modules/", async function () {
    const bin = requireEspruino(this);
    assert.equal(await listening(), false, `port ${PORT} is in use: another interpreter is running`);
    const device = tempDir(), project = tempDir();
    child = spawn(bin, ["--telnet"], { cwd: device, stdio: ["pipe", "ignore", "ignore"] });
    assert.ok(await until(listening, 10e3), "espruino --telnet did not start listening");

    // The project folder as a user has it: the modules, a board file for offline use, the apps.
    mkdirSync(join(project, "modules"));
    for (const m of ["NotecardDFU", "NotecardDFUInstall"]) {
      copyFileSync(join(ROOT, `dist/${m}.min.js`), join(project, `modules/${m}.min.js`));
      copyFileSync(join(ROOT, `dist/${m}.pretok`), join(project, `modules/${m}.pretok`));
    }
    writeFileSync(join(project, "board.json"), JSON.stringify({ info: { builtin_modules: ["Flash", "Storage", "fs"] } }));
    const cli = (...args: string[]) => execFileSync(process.execPath, [CLI, "--no-ble", "-p", `tcp://127.0.0.1:${PORT}`, "--board", "board.json",
      "--config", "MODULE_URL=modules", ...args], { cwd: project, input: "", encoding: "utf8", timeout: 120e3 });
    const result = (name: string) => {
      const out = cli("-e", `print("RESULT " + require("Storage").read(${JSON.stringify(name)}));`);
      return (/RESULT (.*)/.exec(out) || ["", ""])[1].trim();
    };

    // The steps `notecard-dfu provision-script` prints (and the README gives), in their order.
    const script = execFileSync(process.execPath, [join(ROOT, "dist/node/tools/cli.js"), "provision-script", "--board", "LINUX", "--version", "1.0.0"], { encoding: "utf8" });
    const steps = script.split(/^(?=\/\/ Step \d+)/m);
    // Step 1: erase Storage and reserve, the install module sent by the CLI from modules/.
    cli("-e", `require("Storage").write("before", "a file from before");`);
    writeFileSync(join(project, "step1.js"), steps[0] + `\nrequire("Storage").write("reserved", require("Storage").list().join());`);
    let out = cli("--sleep", "2", "step1.js");
    assert.doesNotMatch(out, /not found|getURL|ENOENT/i, "the CLI resolved the install module locally: " + out);
    assert.ok(await until(async () => result("reserved") === ".boot0,dfu.area", 10e3), ".boot0 and the reservation alone, Storage's first two files: " + result("reserved"));

    // Step 2: save the factory app.
    writeFileSync(join(project, "factory.js"), `print("RUNNING 1.0.0");`);
    out = cli("--storage", ".bootcde:factory.js", "-e", `print("SAVED " + require("Storage").read(".bootcde").length);`);
    assert.match(out, /SAVED \d+/, out);

    // Step 3: provision.
    writeFileSync(join(project, "provision.js"), steps[2].replace(/print\("provisioned: " \+ JSON\.stringify\(info\)\);/, `$&\n  require("Storage").write("provisioned", JSON.stringify(info));`));
    out = cli("--sleep", "3", "provision.js");
    assert.ok(await until(async () => /"state":"confirmed"/.test(result("provisioned")), 30e3), "provisioning did not finish: " + result("provisioned"));

    // Step 4: the runtime, pretokenised (bytes over 0x7F): the CLI uploads it byte for byte.
    out = cli("--storage", "NotecardDFU:modules/NotecardDFU.pretok",
      "-e", `var S = require("Storage"); print("STORED " + S.list(/NotecardDFU/).sort().join() + " " + E.CRC32(S.read("NotecardDFU")));`);
    assert.match(out, /STORED NotecardDFU /, out);
    assert.equal(Number((/STORED \S+ (\d+)/.exec(out) || [])[1]), CRC32.buf(readFileSync(join(ROOT, "dist/NotecardDFU.pretok"))) >>> 0, out);
    assert.doesNotMatch(out, /getURL|error|not found/i, "the offline upload is quiet: " + out);

    // The application: require("NotecardDFU") resolved by the CLI from modules/, and a Notecard.
    const image = `print("RUNNING 2.0.0");`;
    writeFileSync(join(project, "app.js"), readFileSync(join(ROOT, "test/espruino/fake-notecard.js"), "utf8") + `
var card = new FakeNotecard(${JSON.stringify(image)});
card.version = "2.0.0";
require("NotecardDFU").setup({ i2c: card, board: "LINUX", version: "1.0.0", transport: { resetSettleMs: 5, drainMs: 20 },
  reboot: function () { print("REBOOT"); } }).check(function (err, res) {
  require("Storage").write("update", JSON.stringify({ state: res.state, error: err && err.message, reports: card.reports }));
});`);
    out = cli("--sleep", "3", "app.js");
    assert.doesNotMatch(out, /not found|getURL/i, "the CLI resolved the module locally: " + out);
    assert.ok(await until(async () => result("update") !== "undefined", 60e3), "the update did not finish");
    const update = JSON.parse(result("update"));
    assert.equal(update.state, "updated", JSON.stringify(update));
    assert.ok(update.reports.some((r: any) => r.stop && /installing 2\.0\.0/.test(r.status)), JSON.stringify(update.reports));
    // Through a file, as the update's result: the interpreter may still be compacting Storage after it.
    cli("-e", `require("Storage").write("info", JSON.stringify(require("NotecardDFU").setup({ i2c: {} }).info()));`);
    assert.ok(await until(async () => result("info") !== "undefined", 30e3), "info() did not answer");
    assert.match(result("info"), /^\{"state":"pending","slot":0,"version":"1\.0\.0".*"candidate":\{"slot":1,"version":"2\.0\.0"/);

    child.kill("SIGKILL");
    assert.ok(await until(async () => !(await listening()), 10e3), "the interpreter did not stop");
  });
});
