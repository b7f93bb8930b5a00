// NotecardDFU public face: exports.setup(options) -> an object with a few methods, like an
// Espruino device driver.
import { createClient, ResponseCallback, Response } from "./notecard/client";
import { LinkError } from "./notecard/errors";
import { createTransport, NOTE_C, TransportOptions, TUNED } from "./notecard/i2c-transport";
import { resolvePorts } from "./platform";
import { Ports } from "./ports";
import { merge } from "./util";

export var VERSION = "0.1.0";

export interface SetupOptions extends Partial<Ports> {
  /** Notecard I2C address (default 0x17). */
  address?: number;
  /** Largest dfu.get chunk, bytes (default 4096, at most 8192). */
  chunkSize?: number;
  /** "tuned" (default) or "note-c": the pacing of Blues' C library. */
  profile?: "tuned" | "note-c";
  /** Overrides of single transport timings (see TransportOptions). */
  transport?: Partial<TransportOptions>;
  /** Request retries for {io} failures (default 5) and the pause between them (default 500 ms). */
  retries?: number;
  retryDelayMs?: number;
}

export function setup(options: SetupOptions) {
  if (!options || !options.i2c) throw new Error("NotecardDFU: options.i2c is required");
  var ports = resolvePorts(options);
  var chunkSize = options.chunkSize || 4096;
  if (!(chunkSize >= 256 && chunkSize <= 8192)) throw new Error("NotecardDFU: chunkSize must be 256..8192");
  var t = merge(options.profile === "note-c" ? NOTE_C : TUNED, options.transport);
  t.address = options.address || t.address;
  // A base64 chunk plus the JSON around it (status MD5, crc) must fit the receive buffer.
  t.maxResponse = Math.max(t.maxResponse, 4 * Math.ceil(chunkSize / 3) + 256);
  var transport = createTransport(ports, t);
  var client = createClient(ports, transport, {
    retries: options.retries === undefined ? 5 : options.retries,
    retryDelayMs: options.retryDelayMs === undefined ? 500 : options.retryDelayMs
  });
  return {
    /** Sends a request to the Notecard through the module's queue; cb(err, response). */
    request: function (req: Response, cb: ResponseCallback) { client.request(req, cb); },
    /** Sends a command (no response). */
    command: function (cmd: Response, cb?: (err: LinkError | null) => void) { client.command(cmd, cb); },
    /** Bus exchanges made so far. */
    exchanges: transport.exchanges
  };
}
