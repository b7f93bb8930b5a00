// JSON client over the transport (notecard-protocol.md §3): adds the "crc" field (16-bit sequence +
// CRC-32 of the JSON), verifies the card's crc, retries {io} failures with a resync, and keeps one
// request on the bus at a time. One JSON.parse per response.
import { Ports } from "../ports";
import { LinkError, linkError } from "./errors";
import { Transport } from "./i2c-transport";

export interface ClientOptions {
  /** Retries after the first attempt for {io} failures. */
  retries: number;
  retryDelayMs: number;
}

export type Response = { [key: string]: any };
export type ResponseCallback = (err: LinkError | null, rsp?: Response) => void;

export interface Client {
  request(req: Response, cb: ResponseCallback): void;
  command(cmd: Response, cb?: (err: LinkError | null) => void): void;
  /** True once the card has answered with a crc: from then on a missing crc is an error. */
  crcSeen(): boolean;
}

interface Job {
  obj: Response;
  expectResponse: boolean;
  cb: ResponseCallback;
}

function hex(n: number, digits: number): string {
  var s = (n >>> 0).toString(16).toUpperCase();
  while (s.length < digits) s = "0" + s;
  return s;
}

/** Inserts `,"crc":"SSSS:CCCCCCCC"` before the final brace (a space instead of the comma for `{}`). */
export function addCrc(json: string, seq: number, crc: number): string {
  var sep = json === "{}" ? " " : ",";
  return json.substr(0, json.length - 1) + sep + '"crc":"' + hex(seq, 4) + ":" + hex(crc, 8) + '"}';
}

/** Length of `,"crc":"SSSS:CCCCCCCC"`. */
var CRC_FIELD = 22;

export function createClient(ports: Ports, transport: Transport, o: ClientOptions): Client {
  var queue: Job[] = [];
  var busy = false;
  var seq = 0;
  var seenCrc = false;
  var needResync = true;

  /** Checks the card's crc; returns an error text, or "" when the line is acceptable. */
  function checkCrc(line: string): string {
    var at = line.length - 1 - CRC_FIELD;
    var field = at < 0 ? "" : line.substr(at, 8);
    // `,"crc":"…"}`, or `{ "crc":"…"}` for an otherwise empty object.
    if ((field !== ',"crc":"' && !(field === ' "crc":"' && at === 1)) || line.charAt(line.length - 1) !== "}") {
      return seenCrc ? "CRC missing {io}" : "";
    }
    var rseq = parseInt(line.substr(at + 8, 4), 16);
    var rcrc = parseInt(line.substr(at + 13, 8), 16);
    seenCrc = true;
    if (rseq !== seq) return "response to another request (seq " + rseq + ", expected " + seq + ") {io}";
    if (ports.natives.crc32(line.substr(0, at) + "}") !== rcrc) return "CRC error {io}";
    return "";
  }

  function run(job: Job) {
    var json = JSON.stringify(job.obj);
    var line = job.expectResponse ? addCrc(json, seq, ports.natives.crc32(json)) : json;
    var bytes = ports.natives.bytes(line + "\n");
    var attempt = 0;

    function finish(err: LinkError | null, rsp?: Response) {
      seq = (seq + 1) & 0xffff;
      // A card error is a clean exchange; only a broken one leaves the stream in doubt.
      if (err && err.code === "io") needResync = true;
      busy = false;
      if (queue.length) ports.timers.set(next, 0);
      job.cb(err, rsp);
    }
    function retry(err: LinkError) {
      needResync = true;
      if (++attempt > o.retries) return finish(err);
      ports.timers.set(start, o.retryDelayMs);
    }
    function start() {
      if (!needResync) return exchange();
      transport.resync(function (err) {
        if (err) return finish(err);
        needResync = false;
        exchange();
      });
    }
    function exchange() {
      if (!job.expectResponse) {
        return transport.send(bytes, function (err) {
          if (err) return retry(err);
          finish(null);
        });
      }
      transport.transact(bytes, onLine);
    }
    function onLine(err: LinkError | null, raw?: string) {
      if (err) return retry(err);
      var text = raw as string;
      while (text.length && text.charCodeAt(text.length - 1) <= 32) text = text.substr(0, text.length - 1);
      // Card errors are not CRC errors: only when the crc does not check out, look for `err`.
      var bad = checkCrc(text);
      if (bad && text.indexOf('"err":"') >= 0) bad = "";
      if (bad) return retry(linkError("io", bad));
      var rsp: Response;
      try { rsp = JSON.parse(text); } catch (e) { rsp = null as any; }
      if (!rsp || typeof rsp !== "object") return retry(linkError("io", "corrupt response {io}"));
      delete rsp.crc;
      var cardErr = rsp.err;
      if (typeof cardErr !== "string") return finish(null, rsp);
      if (cardErr.indexOf("{heartbeat}") >= 0) return transport.transact(null, onLine);
      if (cardErr.indexOf("{not-supported}") >= 0) return finish({ code: "not-supported", message: cardErr, response: rsp });
      if (cardErr.indexOf("{bad-bin}") >= 0) return finish({ code: "bad-bin", message: cardErr, response: rsp });
      if (cardErr.indexOf("{io}") >= 0) return retry({ code: "io", message: cardErr, response: rsp });
      finish({ code: "card", message: cardErr, response: rsp });
    }
    start();
  }

  function next() {
    if (busy || !queue.length) return;
    busy = true;
    run(queue.shift() as Job);
  }

  function enqueue(job: Job) {
    queue.push(job);
    if (!busy) ports.timers.set(next, 0);
  }

  return {
    request: function (req, cb) { enqueue({ obj: req, expectResponse: true, cb: cb }); },
    command: function (cmd, cb) {
      enqueue({ obj: cmd, expectResponse: false, cb: function (err) { if (cb) cb(err); } });
    },
    crcSeen: function () { return seenCrc; }
  };
}
