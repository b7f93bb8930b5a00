// Ambient types for the parts of the Espruino API this module uses. Only src/platform.ts touches
// these globals; everything else receives them through ports.

/** A flash page or free area as returned by Flash.getPage / Flash.getFree. */
interface FlashArea {
  addr: number;
  length: number;
}

/** Anything Espruino flattens into bytes (E.toUint8Array's argument forms). */
type EspruinoData = string | Uint8Array | number[] | ArrayBuffer;

/** require("Flash") */
interface EspruinoFlash {
  getPage(addr: number): FlashArea | undefined;
  getFree(): FlashArea[];
  erasePage(addr: number): void;
  write(data: EspruinoData, addr: number): void;
  read(length: number, addr: number): Uint8Array;
}

/** require("Storage") */
interface EspruinoStorage {
  read(name: string, offset?: number, length?: number): string | undefined;
  write(name: string, data: EspruinoData, offset?: number, size?: number): boolean;
  erase(name: string): void;
  list(pattern?: RegExp): string[];
  getFree(): number;
  compact(): void;
  getStats(): { totalBytes: number; fileCount: number; trashCount: number };
}

/** process.memory(): flash_code_start (where Storage starts) on ARM builds only. */
declare var process: { memory(): { total: number; blocksize: number; flash_code_start?: number } };

/** An I2C bus (I2C1, or new I2C()): writeTo(addr, data) / readFrom(addr, n) -> Uint8Array. */
interface EspruinoI2C {
  writeTo(address: number, data: EspruinoData): void;
  readFrom(address: number, quantity: number): Uint8Array;
}

/** The E object. */
declare var E: {
  CRC32(data: EspruinoData): number;
  toUint8Array(...data: EspruinoData[]): Uint8Array;
  toString(...data: EspruinoData[]): string;
  toArrayBuffer(data: string): ArrayBuffer;
  memoryArea(addr: number, length: number): string;
  reboot(): void;
  enableWatchdog(timeoutSec: number, isAuto?: boolean): void;
  kickWatchdog(): void;
};

declare function atob(data: string): string;
declare function btoa(data: EspruinoData): string;
declare function getTime(): number;
declare function setTimeout(fn: () => void, ms: number): number;
declare function clearTimeout(id: number): void;
declare function require(name: "Flash"): EspruinoFlash;
declare function require(name: "Storage"): EspruinoStorage;
declare function require(name: string): unknown;
declare var exports: { [name: string]: unknown };

/** Espruino's Uint8Array has ES2015 fill, which lib es5 does not declare. */
interface Uint8Array {
  fill(value: number, start?: number, end?: number): Uint8Array;
}

/** The board profiles (boards/*.json), reduced to what provisioning needs, provided by the build. */
declare module "notecard-dfu:boards" {
  /** Per board: slot 0 address and length, slot 1's, reservation length, flags, chunk size, Storage start (rollup.config.js). */
  export var BOARDS: { [name: string]: number[] };
}

/** ES5 programs shipped as text (the boot selector), minified by the build. */
declare module "*.boot.js" {
  const source: string;
  export default source;
}
