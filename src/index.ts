// NotecardDFU runtime: exports.setup(options) -> an object with a few methods, like an Espruino
// device driver. Provisioning (layout checks, the boot selector, the board table) lives in the
// separate NotecardDFUInstall module, which can be erased once it has run. The methods live on a
// prototype: defined once, whatever the number of instances.
import { BootInfo, confirm, info } from "./boot/trial";
import { check, CheckCallback, createEngine, Engine, bootState, RESUME_EVERY } from "./dfu/engine";
import { Md5AddOn } from "./dfu/md5";
import { fault, Fault } from "./errors";
import { createClient, request, Response, ResponseCallback } from "./notecard/client";
import { TransportOptions, transportOptions } from "./notecard/i2c-transport";
import { resolvePorts } from "./platform";
import { PortOptions } from "./ports";
import { Config, readConfig } from "./slots/config";
import { Store } from "./slots/boot-state";

export var VERSION = "0.2.0";

export interface SetupOptions extends Partial<PortOptions> {
  /** Notecard I2C address (default 0x17). */
  address?: number;
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
  md5?: Md5AddOn;
  dfuWaitMs?: number;
  keepAliveMs?: number;
  chunkRetries?: number;
  /** Least distance between resume points, bytes (default 16384; 0: every erase page). */
  resumeEvery?: number;
  onProgress?: (p: { phase: string; offset: number; total: number; bytesPerSecond: number }) => void;
  onEvent?: (text: string) => void;
}

/** What setup() returns: the engine behind a few methods. */
function Dfu(this: { _d: Engine }, d: Engine) {
  this._d = d;
}

Dfu.prototype = {
  /** One full update cycle; cb(err, result), result.state says what happened. */
  check: function (cb?: CheckCallback) { check(this._d, cb || function () {}); },
  /** Checks now and then every intervalMs (doubling, up to 8x, after transient failures). */
  start: function (ms?: number) {
    var d: Engine = this._d;
    d._interval = ms || 3600000;
    // While a check runs, the next one is scheduled when it ends.
    if (d._timer === null && !d._busy) d._periodic();
  },
  stop: function () {
    var d: Engine = this._d;
    d._interval = 0;
    if (d._timer !== null) d._p.timers.clear(d._timer);
    d._timer = null;
  },
  /** Marks a trial image good; cb(err, info). */
  confirm: function (cb?: (err: Fault | null, info?: BootInfo) => void) { confirm(this._d._p, store(this._d), this._d._o._version, cb || function () {}); },
  info: function () { return info(store(this._d), this._d._o._version); },
  /** Sends a request to the Notecard through the module's queue; cb(err, response). */
  request: function (req: Response, cb: ResponseCallback) { request(this._d._c, req, cb); },
  command: function (cmd: Response, cb?: (err: Fault | null) => void) { request(this._d._c, cmd, cb || function () {}, 1); }
};

function store(d: Engine): Store | null {
  var st = bootState(d);
  return st && (st as Fault).code ? null : st as Store | null;
}

export function setup(options: SetupOptions) {
  if (!options || !options.i2c) throw fault("layout", "no i2c");
  var p = resolvePorts(options), given = readConfig(p.storage);
  var chunk = options.chunkSize || (given && (given as Config).k) || 4096, t = transportOptions(options.transport);
  if (!(chunk >= 256 && chunk <= 8192 && chunk % 4 === 0)) throw fault("layout", "chunkSize: 256..8192, multiple of 4");
  if (options.verifyMd5 && !options.md5) throw fault("layout", "verifyMd5 needs NotecardDFUMD5");
  if (options.address) t[0] = options.address;
  // Defaults where an option is not given (0 is a value).
  var o: any = { retries: 5, retryDelayMs: 500, version: "0.0.0", dfuWaitMs: 120000, keepAliveMs: 600000, chunkRetries: 5, resumeEvery: RESUME_EVERY };
  for (var k in o) if ((options as any)[k] !== undefined) o[k] = (options as any)[k];
  // A base64 chunk plus the JSON around it (status MD5, crc) must fit the receive buffer.
  return new (Dfu as any)(createEngine(p, createClient(p, t, 4 * Math.ceil(chunk / 3) + 256, o.retries, o.retryDelayMs), {
    _version: o.version, _chunk: chunk, _downgrade: !!options.allowDowngrade, _verifyMd5: !!options.verifyMd5, _md5: options.md5,
    _dfuWait: o.dfuWaitMs, _keepAlive: o.keepAliveMs, _chunkRetries: o.chunkRetries, _resume: o.resumeEvery,
    _onProgress: options.onProgress, _onEvent: options.onEvent
  }));
}
