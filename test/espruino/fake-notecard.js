// A minimal Notecard on a fake I2C bus, written for the Espruino interpreter itself (ES5). It
// speaks the Serial-over-I2C framing, checks and echoes the crc field, and serves card.version,
// dfu.status, hub.set and dfu.get from an image held in Storage (file "img"), so the bundle's real
// hot path (I2C framing -> JSON.parse -> atob -> E.CRC32 -> flash) runs inside the interpreter.
function FakeNotecard(image) {
  this.image = image;
  this.line = "";
  this.out = "";
  this.want = 0;
  this.dfuMode = image ? "ready" : "idle";
  this.reports = [];
}
FakeNotecard.prototype.hex = function (n, d) {
  var s = (n >>> 0).toString(16);
  while (s.length < d) s = "0" + s;
  return s;
};
FakeNotecard.prototype.answer = function (text) {
  var req = JSON.parse(text);
  var seq = null;
  if (req.crc) { seq = req.crc.substr(0, 4); delete req.crc; }
  var rsp = {};
  if (req.req === "card.version") rsp = { version: "notecard-9.1.1", body: { ver_major: 9 } };
  else if (req.req === "dfu.status") {
    if (req.stop || req.err || req.status || req.version) this.reports.push(req);
    rsp = { mode: this.dfuMode };
    if (this.image) rsp.body = { length: this.image.length, crc32: E.CRC32(this.image), version: this.version || "2.0.0", type: "firmware" };
    if (req.stop) { this.image = null; this.dfuMode = req.err ? "error" : "idle"; }
  } else if (req.req === "dfu.get") {
    var off = req.offset || 0, len = req.length || 0;
    rsp = { payload: btoa(this.image.substr(off, len)) };
  }
  var raw = JSON.stringify(rsp);
  if (seq !== null) raw = raw.substr(0, raw.length - 1) + (raw === "{}" ? " " : ",") + '"crc":"' + seq + ":" + this.hex(E.CRC32(raw), 8) + '"}';
  this.out += raw + "\r\n";
};
FakeNotecard.prototype.writeTo = function (addr, data) {
  if (data[0] === 0) { this.want = data[1]; return; }
  var s = E.toString(data).substr(1, data[0]);
  this.line += s;
  var nl = this.line.indexOf("\n");
  while (nl >= 0) {
    var text = this.line.substr(0, nl);
    this.line = this.line.substr(nl + 1);
    if (text.length) this.answer(text); else this.out += "\r\n";
    nl = this.line.indexOf("\n");
  }
};
FakeNotecard.prototype.readFrom = function (addr, n) {
  var give = Math.min(this.want, this.out.length);
  var r = new Uint8Array(n);
  r.set(E.toUint8Array(this.out.substr(0, give)), 2);
  this.out = this.out.substr(give);
  r[0] = Math.min(253, this.out.length);
  r[1] = give;
  return r;
};
