// JSON client over the transport (notecard-protocol.md §3): adds the "crc" field (16-bit sequence +
// CRC-32 of the JSON), verifies the card's crc over the received bytes natively, retries io
// failures with a resync, and keeps one request on the bus at a time. A long "payload" is never
// copied: only the JSON around it is parsed, and payload() decodes it in place in the receive buffer.
import { describe, fault, Fault } from "../errors";
import { Ports } from "../ports";
import { createTransport, resync, transact, Transport, TransportOptions } from "./i2c-transport";

export type Response = { [key: string]: any };
export type ResponseCallback = (err: Fault | null, rsp?: Response) => void;

export interface Client {
  _p: Ports;
  _t: Transport;
  /** Waiting jobs: request object, callback, flags, in turn. */
  _q: any[];
  _busy: boolean;
  _seq: number;
  /** The card has answered with a crc: from then on a missing crc is an error. */
  _crc: boolean;
  _sync: boolean;
  _req: any;
  _cb: ResponseCallback;
  _try: number;
  _retries: number;
  _retryMs: number;
  /** 1: a command (no answer); 2: leave a payload in the receive buffer (see payload()). */
  _flags: number;
  /** Where the last response's payload lies in the receive buffer, or -1. */
  _pay: number;
  _payEnd: number;
  _next: () => void;
  _start: () => void;
}

function hex(n: number, digits: number): string {
  var s = (n >>> 0).toString(16).toUpperCase();
  while (s.length < digits) s = "0" + s;
  return s;
}

/** Inserts `,"crc":"SSSS:CCCCCCCC"` before the final brace (a space instead of the comma for `{}`). */
export function addCrc(json: string, seq: number, crc: number): string {
  return json.substr(0, json.length - 1) + (json === "{}" ? " " : ",") + '"crc":"' + hex(seq, 4) + ":" + hex(crc, 8) + '"}';
}

var PAYLOAD = '"payload":"';

/** The line (from 2 to limit in s) has an "err" field. */
function has(s: string, limit: number): boolean {
  var i = s.indexOf('"err":"', 2);
  return i >= 0 && i < limit;
}

export function createClient(p: Ports, o: TransportOptions, rxBytes: number, retries: number, retryMs: number): Client {
  var c = { _p: p, _q: [], _busy: false, _seq: 0, _crc: false, _sync: true, _try: 0, _retries: retries, _retryMs: retryMs, _pay: -1, _payEnd: 0 } as any as Client;
  c._t = createTransport(p, o, rxBytes, function (err) { onWire(c, err); });
  c._next = function () { next(c); };
  c._start = function () { start(c); };
  return c;
}

/** Queues a request; cb(err, response). flags: 1 a command (no answer), 2 leave the payload in place. */
export function request(c: Client, req: Response, cb: ResponseCallback, flags?: number) {
  c._q.push(req, cb, flags || 0);
  if (!c._busy) c._p.timers.set(c._next, 0);
}

function next(c: Client) {
  if (c._busy || !c._q.length) return;
  c._busy = true;
  c._req = c._q.shift();
  c._cb = c._q.shift();
  c._flags = c._q.shift();
  c._try = 0;
  start(c);
}

function start(c: Client) {
  if (c._sync) return resync(c._t);
  var json = JSON.stringify(c._req);
  var cmd = c._flags & 1;
  transact(c._t, (cmd ? json : addCrc(json, c._seq, c._p.natives.crc32(json))) + "\n", !!cmd);
}

function finish(c: Client, err: Fault | null, rsp?: Response) {
  c._seq = (c._seq + 1) & 0xffff;
  // A card error is a clean exchange; only a broken one leaves the stream in doubt.
  if (err && err.code === "io") c._sync = true;
  c._busy = false;
  if (c._q.length) c._p.timers.set(c._next, 0);
  c._cb(err, rsp);
}

function retry(c: Client, err: Fault) {
  c._sync = true;
  if (++c._try > c._retries) return finish(c, err);
  c._p.timers.set(c._start, c._retryMs);
}

function onWire(c: Client, err: Fault | null) {
  var rsp: Response;
  if (err) return retry(c, err);
  if (c._sync) {
    c._sync = false;
    return start(c);
  }
  if (c._flags & 1) return finish(c, null);
  try { rsp = parse(c); } catch (e) { return retry(c, fault("io", describe(e))); }
  if (c._pay >= 0 && !(c._flags & 2)) rsp.payload = c._p.natives.text(c._t._rx).substring(c._pay, c._payEnd);
  var cardErr = rsp.err;
  if (typeof cardErr !== "string") return finish(c, null, rsp);
  if (cardErr.indexOf("{heartbeat}") >= 0) return transact(c._t, "", false);
  // {io} is worth a retry, unless the card says it will never do it.
  if (cardErr.indexOf("{io}") >= 0 && cardErr.indexOf("{not-supported}") < 0) return retry(c, fault("io", cardErr));
  var f = fault("card", cardErr);
  (f as any).response = rsp;
  finish(c, f);
}

/**
 * The response in the receive buffer as an object, its crc checked; a payload is left where it is
 * (its value reads "") and located in _pay.._payEnd. Throws what is wrong with the line.
 */
function parse(c: Client): Response {
  var t = c._t, rx = t._rx, s = c._p.natives.text(rx), end = t._len + 2, crc = -1;
  // Text and CRC work on the buffer's own bytes: s is rx itself on Espruino.
  while (end > 2 && s.charCodeAt(end - 1) <= 32) end--;
  var nl = s.indexOf("\n", 2);
  // Anything after the first newline would be read as the next answer: flag it for a resync.
  if (nl >= 2 && nl < end) throw Error("unexpected data after the response");
  var at = end - 23;
  if (at >= 2 && s.charCodeAt(end - 1) === 125 && (s.substr(at, 8) === ',"crc":"' || (at === 3 && s.substr(at, 8) === ' "crc":"'))) {
    var seq = parseInt(s.substr(at + 8, 4), 16);
    crc = parseInt(s.substr(at + 13, 8), 16);
    // The crc covers the JSON without the field: for a moment the field's first byte is the "}".
    var keep = rx[at];
    rx[at] = 125;
    var ok = c._p.natives.crc32(rx.subarray(2, at + 1)) === crc;
    rx[at] = keep;
    c._crc = true;
    // Card errors are not CRC errors: only when the crc does not check out, look for `err`.
    if (!has(s, at)) {
      if (seq !== c._seq) throw Error("response to another request (seq " + seq + ", expected " + c._seq + ")");
      if (!ok) throw Error("CRC error");
    }
    end = at;
  } else if (c._crc && !has(s, end)) throw Error("CRC missing");
  var close = crc >= 0 ? "}" : "";
  var pay = s.indexOf(PAYLOAD, 2), rsp: Response | null = null;
  c._pay = -1;
  if (pay >= 2 && pay < end) {
    var q = s.indexOf('"', pay + 11);
    if (q < 0 || q >= end) throw Error("corrupt response");
    c._pay = pay + 11;
    c._payEnd = q;
    s = s.substring(2, pay + 11) + s.substring(q, end);
  } else s = s.substring(2, end);
  try { rsp = JSON.parse(s + close); } catch (e) { /* reported below */ }
  if (!rsp || typeof rsp !== "object") throw Error("corrupt response");
  return rsp as Response;
}

var BASE64 = /[^A-Za-z0-9+\/= ]/;

/**
 * Decodes the last response's payload in place: the bytes around it become spaces (which atob
 * skips) and the six bytes `prefix` are encoded just before it, so the result is prefix ‖ payload
 * from one native pass over the buffer. Returns it, or a text saying what is wrong.
 */
export function payload(c: Client, prefix: string, n: number): string | Fault {
  var p = c._p, rx = c._t._rx, a = c._pay, b = c._payEnd;
  if (a < 0) return fault("io", "no payload");
  rx.fill(32, 0, a);
  rx.fill(32, b);
  var s = p.natives.text(rx);
  // Espruino's atob decodes stray characters as zero bytes: only base64 letters, and "=" only as
  // padding, may be there.
  var eq = s.indexOf("=", a);
  if (BASE64.test(s) || (eq >= 0 && eq < b - 2)) return fault("io", "payload is not valid base64");
  p.natives.put(rx, p.natives.btoa(prefix), a - 8);
  var bin = p.natives.atob(p.natives.text(rx));
  if (bin.length !== n + 6) return fault("io", "payload is " + (bin.length - 6) + " bytes, asked for " + n);
  return bin;
}

/** True once the card has sent a crc. */
export function crcSeen(c: Client): boolean {
  return c._crc;
}
