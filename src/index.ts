// NotecardDFU public face: exports.setup(options) -> an object with a few methods, like an
// Espruino device driver.
import { resolvePorts } from "./platform";
import { Ports } from "./ports";

export var VERSION = "0.1.0";

export interface SetupOptions extends Partial<Ports> {
  /** Notecard I2C address. */
  address?: number;
}

export function setup(options: SetupOptions) {
  if (!options || !options.i2c) throw new Error("NotecardDFU: options.i2c is required");
  var ports = resolvePorts(options);
  return { ports: ports, address: options.address || 0x17 };
}
