// A simulated Espruino board: virtual clock, NOR flash, Storage and a Notecard on the I2C bus, all
// sharing one power rail. boot() is a reset: nothing in RAM survives; it runs .boot0 (the
// selector) and then .bootcde the way Espruino does, in a fresh JavaScript context, and reports
// which image started. Images are JavaScript that call __sim.run(version).
import { existsSync, readFileSync } from "fs";
import { resolve } from "path";
import { VirtualClock } from "./clock";
import { FlashSim } from "./flash";
import { Geometry, GEOMETRIES } from "./geometry";
import { bytesOf, crc32, nodeNatives, textOf } from "./natives";
import { NotecardSim, NotecardSimOptions } from "./notecard";
import { PowerCut, PowerRail } from "./power";
import { StorageSim } from "./storage";

export interface BootResult {
  /** Version of the image that started, or null. */
  ran: string | null;
  /** The image threw while starting. */
  threw: string | null;
  /** The selector asked for a reboot (E.reboot). */
  rebootRequested: boolean;
  printed: string[];
  /** The power failed during the boot. */
  cut: boolean;
  /** Every source the boot files evaluated with eval(): exactly what the selector started. */
  evaluated: string[];
  /** E.enableWatchdog calls: [seconds, auto]. */
  watchdog: [number, boolean][];
}

export interface SimBoardOptions {
  board?: string;
  geometry?: Geometry;
  notecard?: Partial<NotecardSimOptions>;
  maxWritesPerWord?: number;
  /**
   * Provisioning's first step on an erased board, as the README gives it: the profile's
   * reservation, if any (default true).
   */
  setUp?: boolean;
}

/** An image for the simulated board: starts, reports its version, optionally throws. */
export function appImage(version: string, opts: { throws?: boolean; size?: number } = {}): string {
  let src = `__sim.run(${JSON.stringify(version)});\n`;
  if (opts.throws) src += `throw new Error("image ${version} crashed at start");\n`;
  // Pad with a comment of deterministic filler to exactly `size` bytes.
  if (opts.size && opts.size > src.length + 6) {
    let fill = "";
    let x = version.length * 7919;
    while (fill.length < opts.size - src.length - 5) { x = (x * 1103515245 + 12345) >>> 0; fill += String.fromCharCode(97 + ((x >>> 16) % 26)); }
    src += "/*" + fill + "*/\n";
  }
  return src;
}

/** The package root: the nearest folder above this file with a package.json (works from dist/node too). */
export function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(resolve(dir, "package.json")) && resolve(dir, "..") !== dir) dir = resolve(dir, "..");
  return dir;
}

/** The runtime, as built. */
export function loadBundle(): any {
  return require(resolve(packageRoot(), "dist/NotecardDFU.js"));
}

/** The optional chunk-MD5 add-on, as built. */
export function loadMd5(): any {
  return require(resolve(packageRoot(), "dist/NotecardDFUMD5.js"));
}

/** The install module (provisioning), as built. */
export function loadInstall(): any {
  return require(resolve(packageRoot(), "dist/NotecardDFUInstall.js"));
}

export class SimBoard {
  readonly name: string;
  readonly clock = new VirtualClock();
  readonly rail = new PowerRail();
  readonly flash: FlashSim;
  readonly storage: StorageSim;
  readonly geometry: Geometry;
  /** The runtime as saved in Storage at set-up, pretokenised (it must survive everything after). */
  runtime?: string;
  readonly card: NotecardSim;
  reboots = 0;

  constructor(o: SimBoardOptions = {}) {
    this.name = o.board ?? "LINUX";
    const g = o.geometry ?? GEOMETRIES[this.name];
    if (!g) throw new Error(`no geometry for ${this.name}`);
    this.geometry = g;
    // Backed by memory: the free areas and Storage, which share the flash.
    const areas = g.free.concat([g.storage]), lo = Math.min(...areas.map((a) => a.addr));
    const span = { addr: lo, length: Math.max(...areas.map((a) => a.addr + a.length)) - lo };
    this.flash = new FlashSim({ pages: g.pages, free: g.free, span, rail: this.rail, clock: this.clock, maxWritesPerWord: o.maxWritesPerWord ?? 2 });
    this.storage = new StorageSim(this.rail, this.flash, g.storage);
    this.card = new NotecardSim(Object.assign({ clock: this.clock }, o.notecard ?? {}));
    if (o.setUp !== false && existsSync(resolve(packageRoot(), "boards", this.name + ".json"))) {
      const profile = JSON.parse(readFileSync(resolve(packageRoot(), "boards", this.name + ".json"), "utf8"));
      if (profile.layout.reserve) loadInstall().reserve(this.ports({ board: this.name }));
    }
  }

  /**
   * Provisioning's last step, as the README gives it: the pretokenised runtime saved to Storage,
   * after provision() has taken .bootcde out (it must survive everything after). Where it does not
   * fit (the README's boards table says so), the runtime comes from dist/ only.
   */
  storeRuntime(): void {
    // Under mutation testing the built files carry StrykerJS's instrumentation (the selector in
    // .boot0 too), several times their size: the runtime is then not stored.
    if ((globalThis as any).__stryker__ || this.runtime !== undefined) return;
    const runtime = readFileSync(resolve(packageRoot(), "dist/NotecardDFU.pretok"), "latin1");
    if (this.storage.getFree() + this.storage.getStats().trashBytes < 32 + ((runtime.length + 3) & ~3)) return;
    this.runtime = runtime;
    this.storage.write("NotecardDFU", runtime);
  }

  /** Ports for the module, as Espruino's built-ins would provide them. */
  ports(extra: { [k: string]: unknown } = {}): { [k: string]: unknown } {
    return Object.assign({
      i2c: this.card, flash: this.flash, storage: this.storage, natives: nodeNatives,
      memory: () => Object.assign({}, this.geometry.memory),
      reboot: () => { this.reboots++; }, watchdog: () => {}
    }, this.clock.ports(), extra);
  }

  /** A power cycle: timers and RAM are gone; power is back; the boot files run. */
  boot(): BootResult {
    this.clock.clearAll();
    this.rail.restore();
    this.storage.powerOn();
    const res: BootResult = { ran: null, threw: null, rebootRequested: false, printed: [], cut: false, evaluated: [], watchdog: [] };
    const flash = this.flash, storage = this.storage;
    const E = {
      CRC32: (d: string | Uint8Array) => crc32(d),
      toString: (d: Uint8Array | string) => (typeof d === "string" ? d : textOf(d)),
      toUint8Array: (d: string | Uint8Array) => (typeof d === "string" ? bytesOf(d) : Uint8Array.from(d)),
      toArrayBuffer: (d: string) => bytesOf(d).buffer,
      memoryArea: (addr: number, len: number) => textOf(flash.read(len, addr)),
      reboot: () => { res.rebootRequested = true; },
      enableWatchdog: (sec: number, auto: boolean) => { res.watchdog.push([sec, auto]); }
    };
    // Each boot gets a fresh scope (nothing survives a reset). The selector's top-level eval is
    // handed an instrumented function, so what it starts is recorded exactly; images run in their
    // own fresh function scope. Global-scope eval itself is checked on the real interpreter.
    const sim = { run: (v: string) => { if (res.ran === null) res.ran = v; } };
    const print = (...a: unknown[]) => res.printed.push(a.join(" "));
    const evalImage = (src: string) => {
      res.evaluated.push(String(src));
      return new Function("E", "print", "__sim", String(src))(E, print, sim);
    };
    const requireModule = (m: string) => (m === "Flash" ? flash : m === "Storage" ? storage : undefined);
    const run = (name: string) => {
      const src = storage.read(name);
      if (src === undefined) return;
      try {
        new Function("require", "E", "print", "eval", "__sim", src)(requireModule, E, print, evalImage, sim);
      } catch (e) {
        if (e instanceof PowerCut) throw e;
        // Espruino prints an exception in a boot file and goes on with the next one.
        res.printed.push(`Uncaught ${String(e)}`);
      }
    };
    try {
      run(".boot0");
      const thrown = res.printed.find((p) => /image failed to start/.test(p));
      if (thrown) res.threw = thrown;
      run(".bootcde");
    } catch (e) {
      if (!(e instanceof PowerCut)) throw e;
      res.cut = true;
    }
    return res;
  }

  /** Writes the application as .bootcde, like saving from the Web IDE. */
  saveApp(src: string): void {
    this.storage.write(".bootcde", src);
  }

  /** The built selector source, for inspection. */
  selector(): string | undefined {
    return this.storage.read(".boot0");
  }
}
