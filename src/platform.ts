// The only file that reaches Espruino's globals. Called from setup(), never at module load, so the
// module can be required (and tested) where these built-ins do not exist. Built-in functions are
// handed over as they are: a wrapper would be one more function in RAM.
import { Ports } from "./ports";

/** Fills every port the caller did not supply with Espruino's built-in. */
export function resolvePorts(given: Partial<Ports>): Ports {
  return {
    i2c: given.i2c as Ports["i2c"],
    flash: given.flash || require("Flash"),
    storage: given.storage || require("Storage"),
    timers: given.timers || { set: setTimeout, clear: clearTimeout } as any,
    clock: given.clock || function () { return getTime() * 1000; },
    reboot: given.reboot || E.reboot,
    watchdog: given.watchdog || E.enableWatchdog,
    natives: given.natives || {
      crc32: E.CRC32,
      atob: atob,
      btoa: btoa,
      text: E.toString,
      view: function (s, off, n) { return new Uint8Array(E.toArrayBuffer(s), off, n); },
      put: function (dst, src, at) { dst.set(src as Uint8Array, at); }
    }
  };
}
