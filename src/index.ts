// NotecardDFU public face: exports.setup(options) -> an object with a few methods, like an
// Espruino device driver. Nothing touches the hardware until a method is called.
import { BOARDS } from "notecard-dfu:boards";
import { createBootControl } from "./boot/boot-control";
import { CheckCallback, CheckResult, createEngine, Progress } from "./dfu/engine";
import { createClient, Response, ResponseCallback } from "./notecard/client";
import { LinkError } from "./notecard/errors";
import { createTransport, NOTE_C, TransportOptions, TUNED } from "./notecard/i2c-transport";
import { resolvePorts } from "./platform";
import { Ports } from "./ports";
import { Layout } from "./slots/layout";
import { createSlotWriter } from "./slots/slot-writer";
import { createSlots } from "./slots/slots";
import { merge } from "./util";

export var VERSION = "0.1.0";

export interface SetupOptions extends Partial<Ports> {
  /** Notecard I2C address (default 0x17). */
  address?: number;
  /** A boards/ profile name (e.g. "PICO"), or give `layout` (and `memoryMapped`) yourself. */
  board?: string;
  layout?: Layout;
  memoryMapped?: boolean;
  /** Version of the running image (compared with the Notecard's body.version). */
  version?: string;
  /** Largest dfu.get chunk, bytes (default: the board's, else 4096; 256..8192). */
  chunkSize?: number;
  /** "tuned" (default) or "note-c": the pacing of Blues' C library. */
  profile?: "tuned" | "note-c";
  /** Overrides of single transport timings (see the README). */
  transport?: Partial<TransportOptions>;
  retries?: number;
  retryDelayMs?: number;
  allowDowngrade?: boolean;
  verifyMd5?: boolean;
  maxAttempts?: number;
  /** Trial watchdog, seconds (0 = off). */
  trialWatchdog?: number;
  dfuWaitMs?: number;
  keepAliveMs?: number;
  chunkRetries?: number;
  onProgress?: (p: Progress) => void;
  onEvent?: (text: string) => void;
}

function pick<T>(v: T | undefined, d: T): T {
  return v === undefined ? d : v;
}

export function setup(options: SetupOptions) {
  if (!options || !options.i2c) throw new Error("NotecardDFU: options.i2c is required");
  var profile = options.board ? BOARDS[options.board] : undefined;
  if (options.board && !profile) throw new Error("NotecardDFU: unknown board " + options.board);
  var layout = options.layout || (profile && profile.layout);
  if (!layout) throw new Error("NotecardDFU: give a board name or a layout");
  var ports = resolvePorts(options);
  var chunkSize = options.chunkSize || (profile && profile.chunkSize) || 4096;
  if (!(chunkSize >= 256 && chunkSize <= 8192 && chunkSize % 4 === 0)) throw new Error("NotecardDFU: chunkSize must be a multiple of 4 in 256..8192");
  var version = pick(options.version, "0.0.0");

  var t = merge(merge(TUNED, options.profile === "note-c" ? NOTE_C : undefined), options.transport);
  t.address = options.address || t.address;
  // A base64 chunk plus the JSON around it (status MD5, crc) must fit the receive buffer.
  t.maxResponse = Math.max(t.maxResponse, 4 * Math.ceil(chunkSize / 3) + 256);
  var transport = createTransport(ports, t);
  var client = createClient(ports, transport, { retries: pick(options.retries, 5), retryDelayMs: pick(options.retryDelayMs, 500) });

  var slots = createSlots(ports, layout, pick(options.memoryMapped, profile ? profile.memoryMapped : false));
  var writer = createSlotWriter(ports.natives, ports.timers, chunkSize);
  var boot = createBootControl(ports, slots, writer, { maxAttempts: pick(options.maxAttempts, 3), watchdogSec: pick(options.trialWatchdog, 0), version: version });
  var engine = createEngine(ports, client, slots, writer, {
    version: version, chunkSize: chunkSize, allowDowngrade: !!options.allowDowngrade, verifyMd5: !!options.verifyMd5,
    dfuWaitMs: pick(options.dfuWaitMs, 120000), dfuPollMs: 2500, keepAliveMs: pick(options.keepAliveMs, 600000),
    chunkRetries: pick(options.chunkRetries, 5), chunkRetryDelayMs: 1000,
    onProgress: options.onProgress, onEvent: options.onEvent
  });

  var timer: unknown = null, intervalMs = 0, backoff = 1;
  function periodic() {
    timer = null;
    engine.check(function (err, res) {
      backoff = err && res.state === "retry" ? Math.min(backoff * 2, 8) : 1;
      if (intervalMs) timer = ports.timers.set(periodic, intervalMs * backoff);
    });
  }

  return {
    /** One full update cycle; cb(err, result), result.state says what happened. */
    check: function (cb?: CheckCallback) { engine.check(cb || function () {}); },
    /** Checks now and then every intervalMs (doubling, up to 8x, after transient failures). */
    start: function (ms?: number) {
      intervalMs = ms || 3600000;
      if (timer === null && !engine.busy()) periodic();
    },
    stop: function () {
      intervalMs = 0;
      if (timer !== null) ports.timers.clear(timer);
      timer = null;
    },
    installBoot: boot.installBoot,
    provision: function (code: string | undefined, cb: (err: string | null, info?: any) => void) { boot.provision(code, cb); },
    confirm: boot.confirm,
    info: boot.info,
    /** Sends a request to the Notecard through the module's queue; cb(err, response). */
    request: function (req: Response, cb: ResponseCallback) { client.request(req, cb); },
    command: function (cmd: Response, cb?: (err: LinkError | null) => void) { client.command(cmd, cb); }
  };
}

export type { CheckResult };
