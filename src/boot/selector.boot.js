// NotecardDFU boot selector, installed as Storage ".boot0" by NotecardDFUInstall. Espruino runs it
// at every boot before anything else. It reads the boot record (format and marks:
// src/slots/record-store.ts), applies the boot-time rows of the state table (pending -> trial, a
// mark; trial -> trial or reverted; a candidate failing its CRC -> reverted, a record), checks the
// chosen image's CRC-32 natively and evaluates it at global scope, as if it were .bootcde. It
// needs nothing but Espruino's built-ins, so it works even when the module or an image is broken.
// Its file's first line, "//" and JSON, is the stored layout (src/slots/config.ts). RAW is a
// build-time constant (rollup.config.js): false for the Storage-only build's selector, which
// carries no raw-flash code.
var __dfu = (function (F, S) {
  var Z = 256, T = "NotecardDFU: ", C = S.read(".boot0");
  // Code saved from the IDE (.bootcde) owns the boot: stand aside.
  if (S.read(".bootcde") != null) return;
  C = JSON.parse(C.substring(2, C.indexOf("\n")));
  var N = C.z >> 8, best = null, bu = 0, bi, bs, free = [N, N], u, i, s, r, n;
  for (u = 0; u < 2; u++) {
    for (i = 0; i < N; i++) {
      s = RAW && C.u ? E.toString(F.read(Z, C.u[u] + i * Z)) : S.read(C.r.f[u], i * Z, Z) || "";
      if (!/[^\xff]/.test(s)) { free[u] = i; break; }
      // A length past the record makes a shorter string, whose CRC does not match either.
      r = new DataView(E.toArrayBuffer(s));
      n = r.getUint16(4, 1);
      if (E.CRC32(s.substr(4, n + 2)) === r.getUint32(0, 1)) {
        try { r = JSON.parse(s.substr(6, n)); } catch (e) { r = 0; }
      } else r = 0;
      if (r && r.q > (best ? best.q : 0)) { best = r; bu = u; bi = i; bs = s; }
    }
  }
  if (!best) return;
  // Writes b at offset a of record unit u.
  function w(b, u, a) {
    if (RAW && C.u) F.write(b, C.u[u] + a);
    else S.write(C.r.f[u], b, a, C.z);
  }
  // Mark k of the latest record is zeroed (src/slots/record-store.ts): 0 verified, 1..x the trial
  // boots, x + 1 confirmed.
  function m(k) { return /[^\xff]/.test(bs.substr(Z - 4 * (C.x + 3 - k), 4)); }
  // Appends a record (once per boot); a full unit is compacted into the other one, as the module does.
  function put(r) {
    r.q = best.q + 1;
    var j = JSON.stringify(r), at = bu, k = free[bu], a, b, h;
    // [CRC-32][length][JSON], the JSON padded with spaces to whole words.
    while ((j.length + 2) & 3) j += " ";
    h = String.fromCharCode(j.length & 255, j.length >> 8) + j;
    b = E.toUint8Array("\0\0\0\0" + h);
    new DataView(b.buffer).setUint32(0, E.CRC32(h), 1);
    if (k >= N) {
      at = 1 - bu;
      k = 0;
      if (!RAW || !C.u) S.erase(C.r.f[at]);
      else for (a = C.u[at]; a < C.u[at] + C.z; a += F.getPage(a).length) F.erasePage(a);
    }
    w(b, at, k * Z);
  }
  // The image of record entry m, if its CRC-32 matches.
  function ok(m) {
    var sl = m && C.s[m.s], t = sl && (!RAW || sl.f ? S.read(sl.f, 0, m.l) || "" : C.m ? E.memoryArea(sl.a, m.l) : E.toString(F.read(m.l, sl.a)));
    return sl && E.CRC32(t) === m.c ? t : 0;
  }
  var run = best.a, trial = 0, why;
  // Counted up to the first erased mark: the confirmed one is erased unless it says confirmed.
  for (n = 0; m(n); n++);
  if (best.s == "progress" && n) {
    // Confirmed: the candidate runs, the image before it is the last resort.
    if (m(C.x + 1)) best.b = run, run = best.c;
    else {
      // Pending or on trial: n is this boot's number.
      if (n > C.x) why = "not confirmed after " + C.x + " boots";
      else if (!ok(best.c)) why = "CRC mismatch at boot";
      if (why) put({ s: "reverted", a: run, c: best.c, r: why, n: n, p: 0 });
      // The attempt is recorded before the image runs, so a hang or reset counts too.
      else w(new Uint8Array(4), bu, bi * Z + Z - 4 * (C.x + 3 - n)), run = best.c, trial = 1;
    }
  }
  if (!run) return;
  if (!(s = ok(run))) {
    // Last resort: the image before it, if the other slot still holds it intact.
    i = run.s;
    s = ok(run = best.b);
    print(T + "slot " + i + " fails its CRC" + (s ? ", starting " + run.v : ""));
    if (!s) return;
  }
  if (trial && C.w) E.enableWatchdog(C.w, false);
  return { src: s, trial: trial, t: T };
})(RAW && require("Flash"), require("Storage"));
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
