// The hardware and runtime the module needs, as small injectable interfaces (like note-c's hooks).
// The core never touches a global: src/platform.ts fills these from Espruino's built-ins, and Node
// tests or the demo pass simulators instead.

export interface I2CPort {
  writeTo(address: number, data: Uint8Array): void;
  readFrom(address: number, quantity: number): Uint8Array;
}

/** A flash page or free area, as Flash.getPage / Flash.getFree return them. */
export interface FlashArea {
  addr: number;
  length: number;
}

export interface FlashPort {
  getPage(addr: number): FlashArea | undefined;
  getFree(): FlashArea[];
  erasePage(addr: number): void;
  write(data: Uint8Array | string, addr: number): void;
  read(length: number, addr: number): Uint8Array;
}

export interface StoragePort {
  read(name: string, offset?: number, length?: number): string | undefined;
  write(name: string, data: string | Uint8Array, offset?: number, size?: number): boolean;
  erase(name: string): void;
}

export interface TimerPort {
  set(fn: () => void, ms: number): unknown;
  clear(id: unknown): void;
}

/** Native whole-buffer operations; each replaces a per-byte JS loop. */
export interface Natives {
  /** Standard CRC-32 (zlib) of a binary string or bytes: E.CRC32. */
  crc32(data: string | Uint8Array): number;
  /** Base64 to binary string, and back: atob, btoa. */
  atob(data: string): string;
  btoa(data: string): string;
  /** Binary string to bytes: E.toUint8Array. */
  bytes(data: string): Uint8Array;
  /** Bytes to binary string: E.toString. */
  text(data: Uint8Array): string;
  /** Copies a binary string into bytes at `at`: Espruino's Uint8Array.set accepts a String. */
  put(dst: Uint8Array, src: string, at: number): void;
}

export interface Ports {
  i2c: I2CPort;
  flash: FlashPort;
  storage: StoragePort;
  timers: TimerPort;
  /** Milliseconds, monotonic. */
  clock(): number;
  reboot(): void;
  /** E.enableWatchdog(seconds, auto): the trial watchdog is handed to the idle loop on confirm. */
  watchdog(seconds: number, auto: boolean): void;
  natives: Natives;
}
