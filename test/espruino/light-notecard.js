// A Notecard on a fake I2C bus for measuring the module's RAM on the interpreter (ES5). Light on
// purpose: the host precomputed every chunk's reply ({"payload":"..."}, Storage files "nc<k>") and
// the image's CRC-32, so the card only adds the crc field and hands out bytes read from flash. Its
// own RAM is a few small strings; `peak` records the interpreter's usage after a garbage collection
// at every bus read, i.e. while the module is at work.
function LightNotecard(length, crc32, chunk, version) {
  this.length = length;
  this.crc = crc32;
  this.chunk = chunk;
  this.version = version;
  this.line = "";
  this.src = this.tail = "";
  this.pos = this.blen = 0;
  this.want = 0;
  this.mode = "ready";
  this.hub = "periodic";
  this.peak = 0;
  this.reports = 0;
}
LightNotecard.prototype.answer = function (text) {
  var req = JSON.parse(text), seq = null, rsp = "{}";
  if (req.crc) seq = req.crc.substr(0, 4);
  if (req.req === "dfu.status") {
    if (req.stop || req.err || req.status) this.reports++;
    rsp = JSON.stringify({ mode: this.mode, body: { length: this.length, crc32: this.crc, version: this.version, type: "firmware" } });
    if (req.stop) this.mode = "idle";
  } else if (req.req === "hub.set") {
    this.hub = req.mode;
  } else if (req.req === "dfu.get" && req.length > 0) {
    rsp = req.offset % this.chunk === 0 ? require("Storage").read("nc" + req.offset / this.chunk) : undefined;
    if (rsp === undefined) rsp = '{"err":"unexpected chunk"}';
  } else if (req.req === "dfu.get") rsp = '{"payload":""}';
  // The wire line: the reply less its final "}", then `,"crc":"…"}` (the crc covers the JSON without
  // the field; E.CRC32 reads the flash string natively), or the reply as it is; then CR LF.
  this.src = rsp;
  this.pos = 0;
  this.blen = seq === null ? rsp.length : rsp.length - 1;
  this.tail = seq === null ? "\r\n" : (rsp === "{}" ? " " : ",") + '"crc":"' + seq + ":" + ("0000000" + E.CRC32(rsp).toString(16)).substr(-8) + '"}\r\n';
};
LightNotecard.prototype.writeTo = function (addr, data) {
  if (data[0] === 0) { this.want = data[1]; return; }
  this.line += E.toString(data).substr(1, data[0]);
  var nl = this.line.indexOf("\n");
  if (nl < 0) return;
  var text = this.line.substr(0, nl);
  this.line = "";
  if (text.length) this.answer(text);
  else { this.src = ""; this.pos = this.blen = 0; this.tail = "\r\n"; }
};
LightNotecard.prototype.readFrom = function (addr, n) {
  var u = process.memory().usage;
  if (u > this.peak) this.peak = u;
  var r = new Uint8Array(n), b = this.blen, all = b + this.tail.length, give = Math.min(this.want, all - this.pos), k = 0, s;
  while (k < give) {
    s = this.pos < b ? this.src.substr(this.pos, Math.min(give - k, b - this.pos)) : this.tail.substr(this.pos - b, give - k);
    r.set(E.toUint8Array(s), 2 + k);
    k += s.length;
    this.pos += s.length;
  }
  r[0] = Math.min(253, all - this.pos);
  r[1] = give;
  return r;
};
