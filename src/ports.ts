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

/** The runtime only reads the layout line of .boot0; provisioning writes files. */
export interface StoragePort {
  read(name: string, offset?: number, length?: number): string | undefined;
  write(name: string, data: string | Uint8Array, offset?: number, size?: number): boolean;
  erase(name: string): void;
  /** Provisioning only: Storage's size and file counts. */
  getStats(): { totalBytes: number; fileCount: number; trashCount: number };
}

export interface TimerPort {
  set(fn: () => void, ms: number): unknown;
  clear(id: unknown): void;
}

/** Bytes as Espruino hands them around: a typed array or a binary string. */
export type Data = Uint8Array | string;

/** Native whole-buffer operations; each replaces a per-byte JS loop. */
export interface Natives {
  /** Standard CRC-32 (zlib): E.CRC32. */
  crc32(data: Data): number;
  /** Base64 to binary string (whitespace skipped), and bytes or a binary string to base64: atob, btoa. */
  atob(data: string): string;
  btoa(data: Data): string;
  /** Bytes as a binary string: E.toString, which returns a whole flat buffer's own memory (no copy). */
  text(data: Uint8Array): string;
  /** length bytes of a binary string from off, without a copy: new Uint8Array(E.toArrayBuffer(s), off, length). */
  view(data: string, off: number, length: number): Uint8Array;
  /** Copies bytes or a binary string into dst at `at`: Espruino's Uint8Array.set takes both. */
  put(dst: Uint8Array, src: Data, at: number): void;
}

/** The hardware, as setup() takes it and as the module keeps it. */
interface Hardware {
  i2c: I2CPort;
  flash: FlashPort;
  storage: StoragePort;
  timers: TimerPort;
  /** Milliseconds, monotonic. */
  clock(): number;
  reboot(): void;
  /** E.enableWatchdog(seconds, auto): the trial watchdog is handed to the idle loop on confirm. */
  watchdog(seconds: number, auto: boolean): void;
}

/** What setup() and the install module take: every port optional, Espruino's built-in by default. */
export interface PortOptions extends Hardware {
  natives: Natives;
}

/** The ports as the module keeps them: the natives one level up, under short internal names. */
export interface Ports extends Hardware {
  _crc32: Natives["crc32"];
  _atob: Natives["atob"];
  _btoa: Natives["btoa"];
  _text: Natives["text"];
  _view: Natives["view"];
  _put: Natives["put"];
}

/** Runs an owner's one timer callback after ms: every part of the module schedules its steps so. */
export function later(o: { _p: Ports; _tick: () => void }, ms: number) {
  o._p.timers.set(o._tick, ms);
}
