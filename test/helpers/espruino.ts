// Runs code in a real Espruino interpreter (the Linux build) when ESPRUINO_BIN points at one.
// Each call is a fresh process; Storage and flash persist in `espruino.flash` inside `dir`.
import { execFileSync } from "child_process";
import { existsSync, mkdtempSync, copyFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";

export function espruinoBin(): string | undefined {
  const bin = process.env.ESPRUINO_BIN;
  return bin && existsSync(bin) ? bin : undefined;
}

/** Skips the calling mocha suite, visibly, when no interpreter is configured. */
export function requireEspruino(ctx: Mocha.Context): string {
  const bin = espruinoBin();
  if (!bin) {
    console.log("      (skipped: set ESPRUINO_BIN to an Espruino Linux build to run this on the real interpreter)");
    ctx.skip();
  }
  return bin as string;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "notecard-dfu-"));
}

/**
 * Evaluates `code` with `espruino -e` in `dir` and returns everything it printed. On the Linux
 * build E.reboot() exits the process with status 1: that is a restart, not a failure.
 */
export function runEspruino(bin: string, dir: string, code: string, timeoutMs = 20000): string {
  try {
    return execFileSync(bin, ["-e", code], { cwd: dir, input: "", timeout: timeoutMs, encoding: "utf8" });
  } catch (e) {
    const err = e as { status?: number; stdout?: string; signal?: string };
    if (err.status === 1 && err.stdout !== undefined && !err.signal) return err.stdout + "\n[exit 1]";
    throw e;
  }
}

/** Copies a host file into `dir` so the interpreter can read it with require("fs"). */
export function stageFile(dir: string, src: string, name: string): string {
  copyFileSync(src, join(dir, name));
  return name;
}

/** Writes a host file into the interpreter's Storage as `storageName`. */
export function storeFile(bin: string, dir: string, src: string, storageName: string): string {
  const name = stageFile(dir, src, "upload.bin");
  return runEspruino(bin, dir, `require("Storage").write(${JSON.stringify(storageName)}, require("fs").readFileSync(${JSON.stringify(name)}));`);
}
