// NotecardDFU boot selector, installed as Storage ".boot0" by NotecardDFUInstall. Espruino runs it
// at every boot before anything else. It reads the boot record (format: src/slots/record-store.ts),
// applies the boot-time rows of the state table (pending -> trial, trial -> trial or reverted, a
// candidate failing its CRC -> reverted), checks the chosen image's CRC-32 natively and evaluates
// it at global scope, as if it were .bootcde. It needs nothing but Espruino's built-ins, so it
// works even when the module or an image is broken. __CONFIG__ is the stored layout (src/slots/config.ts).
var __notecardDfu = (function (C) {
  var F = require("Flash"), S = require("Storage"), Z = 512;
  // Code saved from the IDE (.bootcde) owns the boot: stand aside.
  if (S.read(".bootcde") !== undefined) return;
  var N = Math.floor(C.z / Z), best = null, bu = 0, free = [N, N], u, i, s, r, n;
  function rd(u, o) {
    return C.u ? E.toString(F.read(Z, C.u[u] + o)) : S.read(C.r.f[u], o, Z) || "";
  }
  for (u = 0; u < 2; u++) {
    for (i = 0; i < N; i++) {
      s = rd(u, i * Z);
      if (!/[^\xff]/.test(s)) { free[u] = i; break; }
      n = s.charCodeAt(4) | s.charCodeAt(5) << 8;
      r = null;
      if (n <= Z - 6 && E.CRC32(s.substr(4, n + 2)) === (s.charCodeAt(0) | s.charCodeAt(1) << 8 | s.charCodeAt(2) << 16 | s.charCodeAt(3) << 24) >>> 0) {
        try { r = JSON.parse(s.substr(6, n)); } catch (e) { }
      }
      if (r && typeof r.q == "number" && (!best || r.q > best.q)) { best = r; bu = u; }
    }
  }
  if (!best) return;
  // Appends a record; a full unit is compacted into the other one, as the module does.
  function put(r) {
    r.q = best.q + 1;
    var j = E.toUint8Array(JSON.stringify(r)), b = new Uint8Array((j.length + 9) & ~3), at = bu, k = free[bu], c, a, p;
    if (k >= N) {
      at = 1 - bu;
      k = 0;
      if (!C.u) S.erase(C.r.f[at]);
      else for (a = C.u[at]; a < C.u[at] + C.z; a = p.addr + p.length) F.erasePage((p = F.getPage(a)).addr);
    }
    b.fill(255);
    b.set(j, 6);
    b[4] = j.length & 255;
    b[5] = j.length >> 8;
    c = E.CRC32(b.subarray(4, 6 + j.length));
    b[0] = c & 255;
    b[1] = c >> 8 & 255;
    b[2] = c >> 16 & 255;
    b[3] = c >>> 24;
    if (C.u) F.write(b, C.u[at] + k * Z);
    else S.write(C.r.f[at], b, k * Z, C.z);
    best = r;
    bu = at;
    free[at] = k + 1;
  }
  function img(m) {
    var sl = C.s[m.s];
    return sl.f ? S.read(sl.f, 0, m.l) || "" : C.m ? E.memoryArea(sl.a, m.l) : E.toString(F.read(m.l, sl.a));
  }
  var run = best.a, trial = 0, why;
  if (best.s == "pending" || best.s == "trial") {
    n = best.s == "trial" ? best.n + 1 : 1;
    if (n > C.x) why = "not confirmed after " + C.x + " boots";
    else if (E.CRC32(img(best.c)) !== best.c.c) why = "CRC mismatch at boot";
    // The attempt is recorded before the image runs, so a hang or reset counts too.
    if (why) put({ s: "reverted", a: best.a, c: best.c, r: why, p: 0 });
    else { put({ s: "trial", a: best.a, c: best.c, n: n }); run = best.c; trial = 1; }
  }
  if (!run) return;
  s = img(run);
  if (!trial && E.CRC32(s) !== run.c) {
    print("NotecardDFU: slot " + run.s + " fails its CRC");
    // Last resort: the image before it, if the other slot still holds it intact.
    run = best.b;
    if (!run || E.CRC32(s = img(run)) !== run.c) return;
    print("NotecardDFU: starting the previous image " + run.v + " from slot " + run.s);
  }
  if (trial && C.w) E.enableWatchdog(C.w, false);
  return { src: s, trial: trial };
})(__CONFIG__);
// At top level, so the image's functions and vars become globals.
if (__notecardDfu) {
  try {
    eval(__notecardDfu.src);
  } catch (e) {
    print("NotecardDFU: image failed to start: " + e);
    // A trial image that throws is a failed boot: restart so the next attempt (or the revert) runs.
    if (__notecardDfu.trial) E.reboot();
  }
}
__notecardDfu = undefined;
