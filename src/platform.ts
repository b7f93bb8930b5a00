// The only file that reaches Espruino's globals. Called from setup(), never at module load, so the
// module can be required (and tested) where these built-ins do not exist.
import { Ports } from "./ports";

/** Fills every port the caller did not supply with Espruino's built-in. */
export function resolvePorts(given: Partial<Ports>): Ports {
  return {
    i2c: given.i2c as Ports["i2c"],
    flash: given.flash || require("Flash"),
    storage: given.storage || require("Storage"),
    timers: given.timers || {
      set: function (fn, ms) { return setTimeout(fn, ms); },
      clear: function (id) { clearTimeout(id as number); }
    },
    clock: given.clock || function () { return getTime() * 1000; },
    reboot: given.reboot || function () { E.reboot(); },
    watchdog: given.watchdog || function (sec, auto) { E.enableWatchdog(sec, auto); },
    natives: given.natives || {
      crc32: function (d) { return E.CRC32(d); },
      atob: function (s) { return atob(s); },
      btoa: function (s) { return btoa(s); },
      text: function (b) { return E.toString(b); },
      view: function (s, off, n) { return new Uint8Array(E.toArrayBuffer(s), off, n); },
      put: function (dst, src, at) { dst.set(src as Uint8Array, at); }
    }
  };
}
