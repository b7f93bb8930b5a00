// The only file that reaches Espruino's globals. Called from setup(), never at module load, so the
// module can be required (and tested) where these built-ins do not exist. Built-in functions are
// handed over as they are; the three that need a wrapper are defined once, here, not per setup().
import { Data, Natives, PortOptions, Ports } from "./ports";

function clock() {
  return getTime() * 1000;
}

function view(s: string, off: number, n: number) {
  return new Uint8Array(E.toArrayBuffer(s), off, n);
}

function put(dst: Uint8Array, src: Data, at: number) {
  dst.set(src as Uint8Array, at);
}

/** process.memory(): JsVars, and on ARM where Storage starts (provisioning only). */
export function memory() {
  return process.memory();
}

/** Fills every port the caller did not supply with Espruino's built-in. */
export function resolvePorts(given: Partial<PortOptions>): Ports {
  var n: Natives = given.natives || { crc32: E.CRC32, atob: atob, btoa: btoa, text: E.toString, view: view, put: put };
  return {
    i2c: given.i2c as Ports["i2c"],
    flash: given.flash || require("Flash"),
    storage: given.storage || require("Storage"),
    timers: given.timers || { set: setTimeout, clear: clearTimeout } as any,
    clock: given.clock || clock,
    reboot: given.reboot || E.reboot,
    watchdog: given.watchdog || E.enableWatchdog,
    _crc32: n.crc32,
    _atob: n.atob,
    _btoa: n.btoa,
    _text: n.text,
    _view: n.view,
    _put: n.put
  };
}
