// NotecardDFU runtime: exports.setup(options) -> an object with a few methods, like an Espruino
// device driver. Provisioning (layout checks, the boot selector, the board table) lives in the
// separate NotecardDFUInstall module, which can be erased once it has run.
import { confirm, info } from "./boot/trial";
import { check, CheckCallback, createEngine, Engine, records } from "./dfu/engine";
import { fault, Fault } from "./errors";
import { createClient, request, Response, ResponseCallback } from "./notecard/client";
import { TransportOptions, TUNED } from "./notecard/i2c-transport";
import { resolvePorts } from "./platform";
import { Ports } from "./ports";
import { Config, Layout, readConfig } from "./slots/config";
import { Records } from "./slots/record-store";
import { createWriter } from "./slots/slot-writer";

export var VERSION = "0.2.0";

export interface SetupOptions extends Partial<Ports> {
  /** Notecard I2C address (default 0x17). */
  address?: number;
  /** The board provisioned for (checked against what provisioning stored), optional. */
  board?: string;
  /** The provisioned layout (checked against what provisioning stored), optional. */
  layout?: Layout;
  /** Version of the running image (compared with the Notecard's body.version). */
  version?: string;
  /** Largest dfu.get chunk, bytes (default: the provisioned one, else 4096; 256..8192). */
  chunkSize?: number;
  /** Overrides of single transport timings (see the README). */
  transport?: Partial<TransportOptions>;
  retries?: number;
  retryDelayMs?: number;
  allowDowngrade?: boolean;
  verifyMd5?: boolean;
  /** The optional MD5 add-on, require("NotecardDFUMD5"), for cards without the crc field. */
  md5?: { hex(data: Uint8Array): string };
  dfuWaitMs?: number;
  keepAliveMs?: number;
  chunkRetries?: number;
  onProgress?: (p: { phase: string; offset: number; total: number; bytesPerSecond: number }) => void;
  onEvent?: (text: string) => void;
}

function pick<T>(v: T | undefined, d: T): T {
  return v === undefined ? d : v;
}

export function setup(options: SetupOptions) {
  if (!options || !options.i2c) throw fault("layout", "options.i2c is required");
  var p = resolvePorts(options), board = options.board, layout = options.layout, cfg: Config | null | Fault = null;
  var given = readConfig(p.storage, board, layout);
  var chunk = options.chunkSize || (given && (given as Config).k) || 4096;
  if (!(chunk >= 256 && chunk <= 8192 && chunk % 4 === 0)) throw fault("layout", "chunkSize must be a multiple of 4 in 256..8192");
  var version = pick(options.version, "0.0.0"), t = {} as any, k: string;
  for (k in TUNED) t[k] = pick((options.transport || {} as any)[k], (TUNED as any)[k]);
  if (options.address) t.address = options.address;
  // A base64 chunk plus the JSON around it (status MD5, crc) must fit the receive buffer.
  var client = createClient(p, t, 4 * Math.ceil(chunk / 3) + 256, pick(options.retries, 5), pick(options.retryDelayMs, 500));
  var timer: unknown = null, interval = 0, backoff = 1;
  var engine: Engine = createEngine(p, client, createWriter(p), {
    version: version, chunkSize: chunk, allowDowngrade: !!options.allowDowngrade, verifyMd5: !!options.verifyMd5, md5: options.md5,
    dfuWaitMs: pick(options.dfuWaitMs, 120000), keepAliveMs: pick(options.keepAliveMs, 600000), chunkRetries: pick(options.chunkRetries, 5),
    onProgress: options.onProgress, onEvent: options.onEvent
  }, function () {
    // Read once provisioned; a damaged or different layout is read again each time, and refused.
    if (!cfg || (cfg as Fault).code) cfg = readConfig(p.storage, board, layout);
    return cfg;
  }, function () {
    if (interval && timer === null) timer = p.timers.set(periodic, interval * backoff);
  });

  function periodic() {
    timer = null;
    check(engine, function (err, res) {
      backoff = err && res.state === "retry" ? Math.min(backoff * 2, 8) : 1;
    });
  }
  function store(): Records | null {
    var rs = records(engine);
    return rs && (rs as Fault).code ? null : rs as Records | null;
  }

  return {
    /** One full update cycle; cb(err, result), result.state says what happened. */
    check: function (cb?: CheckCallback) { check(engine, cb || function () {}); },
    /** Checks now and then every intervalMs (doubling, up to 8x, after transient failures). */
    start: function (ms?: number) {
      interval = ms || 3600000;
      // While a check runs, the next one is scheduled when it ends.
      if (timer === null && !engine._busy) periodic();
    },
    stop: function () {
      interval = 0;
      if (timer !== null) p.timers.clear(timer);
      timer = null;
    },
    confirm: function (cb?: (err: Fault | null, info?: any) => void) { confirm(p, store(), version, cb || function () {}); },
    info: function () { return info(store(), version); },
    /** Sends a request to the Notecard through the module's queue; cb(err, response). */
    request: function (req: Response, cb: ResponseCallback) { request(client, req, cb); },
    command: function (cmd: Response, cb?: (err: Fault | null) => void) { request(client, cmd, cb || function () {}, 1); }
  };
}
