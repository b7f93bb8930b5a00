// NotecardDFU boot selector, installed as Storage ".boot0" by NotecardDFUInstall. Espruino runs it
// at every boot before anything else. It reads both slots' trailers (format:
// src/slots/boot-state.ts), applies the boot-time rows of the state table (a verified candidate
// boots on trial, a mark written first; one out of trial boots, or failing its CRC, is rejected,
// a mark), checks the chosen image's CRC-32 natively and evaluates it at global scope, as if it
// were .bootcde. It needs nothing but Espruino's built-ins, so it works even when the module or an
// image is broken. Its file's last line, "//" and JSON, is the stored layout (src/slots/config.ts);
// before a reservation, erased bytes follow it, inside the same comment.
var __dfu = (function (F, S) {
  var T = "NotecardDFU: ", C = S.read(".boot0"), moved, t = [], i, b, n, s, why, trial = 0;
  // Code saved from the IDE (.bootcde) owns the boot: stand aside.
  if (S.read(".bootcde") != null) return;
  // Not there yet (reserve() has run, provision() not): nothing to choose from.
  i = C.lastIndexOf("\n//{");
  if (i < 0) return;
  C = JSON.parse(C.substring(i + 3, C.indexOf("}\xff", i) + 1 || C.length));
  // Slots inside the reservation are trusted only while its file header is where provisioning put it.
  moved = C.h && E.CRC32(F.read(32, C.h[0])) !== C.h[1];
  if (moved) print(T + "reservation moved");
  for (i = 0; i < 2; i++) {
    s = C.s[i];
    b = F.read(C.t, s.a + s.l - C.t);
    n = new DataView(b.buffer);
    // Header CRC, and mark 0 (verified): only a complete, checked image is a boot target.
    if (!(moved && s.r) && E.CRC32(b.subarray(0, 32)) === n.getUint32(32, 1) && n.getUint32(0, 1) <= s.l - C.t && n.getInt32(36) !== -1) {
      t.push({ i: i, d: n, l: n.getUint32(0, 1), c: n.getUint32(4, 1), q: n.getUint32(8, 1), v: E.toString(b.subarray(12, 32)).replace(/\0+$/, "") });
    }
  }
  // Newest first. s is what runs: nothing yet.
  if (t.length > 1 && t[1].q > t[0].q) t.reverse();
  s = 0;
  // Mark k of trailer x is set (any bit zeroed), and sets it.
  function m(x, k) { return x.d.getInt32(36 + 4 * k) !== -1; }
  function set(x, k) { F.write(new Uint8Array(4), C.s[x.i].a + C.s[x.i].l - C.t + 36 + 4 * k); }
  // The image of trailer x, if its CRC-32 matches.
  function ok(x) {
    var a = C.s[x.i].a, src = C.m ? E.memoryArea(a, x.l) : E.toString(F.read(x.l, a));
    return E.CRC32(src) === x.c ? src : 0;
  }
  for (i = 0; i < t.length; i++) {
    b = t[i];
    if (m(b, 4)) {
      // Confirmed: the newest of these runs; an older one is the last resort.
      if ((s = ok(b))) break;
      print(T + "slot " + b.i + " fails its CRC");
      continue;
    }
    // A candidate, unless rejected or abandoned. n: its trial boots so far.
    if (m(b, 5) || m(b, 7)) continue;
    for (n = 0; n < C.x && m(b, n + 1); n++);
    why = n >= C.x ? "not confirmed after " + C.x + " boots" : (s = ok(b)) ? 0 : "CRC mismatch at boot";
    if (why) {
      print(T + b.v + " rejected: " + why);
      set(b, 5);
      continue;
    }
    // The attempt is recorded before the image runs, so a hang or reset counts too.
    set(b, n + 1);
    trial = 1;
    break;
  }
  if (!s) return;
  if (trial && C.w) E.enableWatchdog(C.w, false);
  return { src: s, trial: trial, t: T };
})(require("Flash"), require("Storage"));
// At top level, so the image's functions and vars become globals.
if (__dfu) {
  try {
    eval(__dfu.src);
  } catch (e) {
    print(__dfu.t + "image failed to start: " + e);
    // A trial image that throws is a failed boot: restart so the next attempt (or the revert) runs.
    if (__dfu.trial) E.reboot();
  }
}
__dfu = undefined;
