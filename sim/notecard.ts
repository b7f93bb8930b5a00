// A Notecard simulated at the byte level behind the I2C port: Serial-over-I2C framing with a
// 1500-byte input buffer (overflow loses bytes), processing latency, bus time charged to a virtual
// clock per byte at the configured bitrate, the DFU requests, crc checking and echo, and fault knobs.
import { createHash } from "crypto";
import { VirtualClock } from "./clock";
import { crc32, bytesOf, textOf } from "./natives";
import { rng } from "./random";

export interface ImageOnCard {
  data: Uint8Array;
  version: string;
  type?: string;
  /** Overrides, to simulate a bad body. */
  body?: { [k: string]: unknown };
}

export type Fault = "nack" | "corrupt" | "truncate" | "count" | "io" | "reset" | "malformed" | "dfuDrop" | "latency";

export interface NotecardSimOptions {
  clock: VirtualClock;
  address?: number;
  /** Bus bitrate, bits per second. */
  bitrate?: number;
  /** Card time to answer a request, ms. */
  latencyMs?: number;
  /** Extra time per 1 KiB of dfu.get payload, ms. */
  latencyPerKiBMs?: number;
  /** Input buffer size and how fast the card drains it (bytes per ms). */
  inputBuffer?: number;
  inputDrainPerMs?: number;
  /** Does the card check and echo the crc field? */
  crc?: boolean;
  /** Does dfu.get need hub.set mode:dfu first (legacy cards)? */
  needsDfuMode?: boolean;
  /** Time from hub.set mode:dfu until dfu.get works, ms. */
  dfuEntryMs?: number;
  /** DFU mode expiry, ms. */
  dfuExpiryMs?: number;
  /** Fault probabilities per opportunity, 0..1, drawn from a PRNG seeded with `seed`. */
  faults?: Partial<Record<Fault, number>>;
  seed?: number;
  /** Faults only from this transaction index on, and only up to `faultsUntil`. */
  faultsFrom?: number;
  faultsUntil?: number;
}

export interface Report {
  at: number;
  req: { [k: string]: unknown };
}

export class NotecardSim {
  readonly clock: VirtualClock;
  readonly address: number;
  bitrate: number;
  latencyMs: number;
  latencyPerKiBMs: number;
  crc: boolean;
  needsDfuMode: boolean;
  dfuEntryMs: number;
  dfuExpiryMs: number;
  faults: Partial<Record<Fault, number>>;
  faultsFrom: number;
  faultsUntil: number;
  private random: () => number;

  // Framing state
  private inputBuffer: number;
  private inputDrainPerMs: number;
  private inputFill = 0;
  private inputAt = 0;
  private line: number[] = [];
  private out: { at: number; bytes: Uint8Array }[] = [];
  private readSetup = -1;
  private nackUntil = 0;

  // Card state
  hubMode = "periodic";
  private prevHubMode = "periodic";
  dfuModeSince = -1;
  private dfuRefreshedAt = -1;
  image: ImageOnCard | null = null;
  dfuMode: "idle" | "downloading" | "ready" | "error" = "idle";
  dfuStatusText = "";

  /** A misbehaving card: rewrites a response before the crc is added (the card's own bug). */
  mutate?: (req: any, rsp: any) => any;
  /** A damaged line: rewrites the raw response text after the crc is added. */
  mutateRaw?: (req: any, raw: string) => string;
  /** A line that never ends: the response to such a request is sent without its "\r\n". */
  noNewline?: (req: any) => boolean;
  /** Called with each request (crc stripped) and its response as the card answers it. */
  onRequest?: (req: any, rsp: any) => void;
  /** Every request (crc stripped) and response, for schema checks and assertions. */
  log: { req: any; rsp: any; raw: string }[] = [];
  /** dfu.status requests that reported something (stop/err/status/version). */
  reports: Report[] = [];
  /** Transactions seen, faults injected by kind, bytes lost to input overflow. */
  transactions = 0;
  injected: Partial<Record<Fault, number>> = {};
  bytesLost = 0;
  busTimeMs = 0;
  portCalls = 0;

  constructor(o: NotecardSimOptions) {
    this.clock = o.clock;
    this.address = o.address ?? 0x17;
    this.bitrate = o.bitrate ?? 100000;
    this.latencyMs = o.latencyMs ?? 10;
    this.latencyPerKiBMs = o.latencyPerKiBMs ?? 0;
    this.inputBuffer = o.inputBuffer ?? 1500;
    this.inputDrainPerMs = o.inputDrainPerMs ?? 1; // 250 bytes per 250 ms, the documented pacing
    this.crc = o.crc ?? true;
    this.needsDfuMode = o.needsDfuMode ?? false;
    this.dfuEntryMs = o.dfuEntryMs ?? 5000;
    this.dfuExpiryMs = o.dfuExpiryMs ?? 15 * 60e3;
    this.faults = o.faults ?? {};
    this.random = rng(o.seed ?? 1);
    this.faultsFrom = o.faultsFrom ?? 0;
    this.faultsUntil = o.faultsUntil ?? Infinity;
  }

  /** Notehub deploys an image: the card downloads it and becomes ready. */
  stage(image: ImageOnCard | null): void {
    this.image = image;
    this.dfuMode = image ? "ready" : "idle";
    this.dfuStatusText = image ? "successfully downloaded" : "";
  }

  body(): { [k: string]: unknown } | undefined {
    if (!this.image) return undefined;
    const d = this.image.data;
    return Object.assign({
      name: "app$20261125.bin", source: "app.bin", type: this.image.type ?? "firmware",
      length: d.length, md5: createHash("md5").update(d).digest("hex"), crc32: crc32(d),
      version: this.image.version, created: 1764028800, modified: 1764028800
    }, this.image.body ?? {});
  }

  private fault(kind: Fault): boolean {
    const p = this.faults[kind];
    if (!p || this.transactions < this.faultsFrom || this.transactions >= this.faultsUntil) return false;
    if (this.random() >= p) return false;
    this.injected[kind] = (this.injected[kind] ?? 0) + 1;
    return true;
  }

  private charge(bytes: number): void {
    // 9 bits per byte (8 + ACK) for the address and data bytes, plus START and STOP.
    const ms = (((bytes + 1) * 9 + 2) / this.bitrate) * 1000;
    this.busTimeMs += ms;
    this.clock.advance(ms);
  }

  private checkAddress(addr: number): void {
    if (addr !== this.address) throw new Error("I2C Write Error 33281 (no ACK)");
    if (this.clock.now < this.nackUntil) throw new Error("I2C Write Error 33281 (card restarting)");
  }

  // ---- I2CPort ----
  writeTo(addr: number, data: Uint8Array | number[]): void {
    this.portCalls++;
    this.checkAddress(addr);
    const bytes = Uint8Array.from(data as ArrayLike<number>);
    this.charge(bytes.length);
    if (this.fault("nack")) throw new Error("I2C Write Error 33282 (data NACK)");
    if (bytes[0] === 0) {
      this.readSetup = bytes[1];
      return;
    }
    const n = bytes[0];
    this.receive(bytes.subarray(1, 1 + n));
  }

  readFrom(addr: number, quantity: number): Uint8Array {
    this.portCalls++;
    this.checkAddress(addr);
    this.charge(quantity);
    if (this.fault("nack")) throw new Error("I2C Read Error 33282");
    const want = this.readSetup < 0 ? 0 : this.readSetup;
    this.readSetup = -1;
    const give = Math.min(want, this.available());
    const r = new Uint8Array(quantity);
    r.fill(0xff);
    this.consume(give, r, 2);
    let count = give;
    if (this.fault("count")) count = (count + 1) & 0xff;
    r[0] = Math.min(253, this.available());
    r[1] = count;
    if (give > 0 && this.fault("corrupt")) r[2 + Math.floor(this.random() * give)] ^= 1 << Math.floor(this.random() * 8);
    if (this.fault("truncate")) return r.subarray(0, Math.max(0, quantity - 1 - Math.floor(this.random() * quantity)));
    if (give > 0 && this.fault("reset")) this.restart();
    return r;
  }

  /** The card restarts: output and input are lost, and it NACKs for a second while it boots. */
  restart(): void {
    this.out = [];
    this.line = [];
    this.inputFill = 0;
    this.nackUntil = this.clock.now + 1000;
    if (this.hubMode === "dfu") this.leaveDfuMode();
  }

  /** How many bytes the host may read now. */
  private available(): number {
    let n = 0;
    for (const o of this.out) {
      if (o.at > this.clock.now) break;
      n += o.bytes.length;
    }
    return n;
  }

  private consume(n: number, into: Uint8Array, at: number): void {
    while (n > 0 && this.out.length && this.out[0].at <= this.clock.now) {
      const o = this.out[0];
      const k = Math.min(n, o.bytes.length);
      into.set(o.bytes.subarray(0, k), at);
      at += k;
      n -= k;
      if (k === o.bytes.length) this.out.shift();
      else o.bytes = o.bytes.subarray(k);
    }
  }

  private receive(data: Uint8Array): void {
    // The card empties its input buffer at a fixed rate; what does not fit is lost.
    const now = this.clock.now;
    this.inputFill = Math.max(0, this.inputFill - (now - this.inputAt) * this.inputDrainPerMs);
    this.inputAt = now;
    let keep = Math.min(data.length, Math.max(0, Math.floor(this.inputBuffer - this.inputFill)));
    this.bytesLost += data.length - keep;
    this.inputFill += keep;
    for (let i = 0; i < keep; i++) {
      const b = data[i];
      if (b === 10) {
        const text = textOf(Uint8Array.from(this.line));
        this.line = [];
        this.handleLine(text);
      } else {
        this.line.push(b);
      }
    }
  }

  private respond(text: string, delayMs: number): void {
    this.out.push({ at: this.clock.now + delayMs, bytes: bytesOf(text + "\r\n") });
  }

  private handleLine(text: string): void {
    this.transactions++;
    if (text.replace(/\r/g, "") === "") {
      this.respond("", 0);
      return;
    }
    let req: any;
    try {
      req = JSON.parse(text);
    } catch {
      this.respond(JSON.stringify({ err: "cannot interpret JSON: syntax error {io}" }), this.latencyMs);
      return;
    }
    let seq: string | null = null;
    if (typeof req.crc === "string") {
      const m = /^([0-9A-Fa-f]{4}):([0-9A-Fa-f]{8})$/.exec(req.crc);
      const at = text.lastIndexOf(',"crc":"');
      const original = at >= 0 ? text.slice(0, at) + "}" : text.replace(/ "crc":"[^"]*"}$/, "}");
      if (this.crc) {
        if (!m || crc32(original) !== parseInt(m[2], 16)) {
          this.respond(JSON.stringify({ err: "CRC error in request {io}" }), this.latencyMs);
          return;
        }
        seq = m[1];
      }
      delete req.crc;
    }
    const isCmd = typeof req.cmd === "string";
    let rsp: any = this.fault("io") ? { err: "simulated I/O error {io}" } : this.dispatch(isCmd ? req.cmd : req.req, req);
    if (this.mutate) rsp = this.mutate(req, rsp);
    let raw = typeof rsp === "string" ? rsp : JSON.stringify(rsp);
    if (seq !== null && typeof rsp === "object" && !rsp.err) raw = raw.slice(0, -1) + (raw === "{}" ? " " : ",") + `"crc":"${seq}:${crc32(raw).toString(16).padStart(8, "0")}"}`;
    if (this.mutateRaw) raw = this.mutateRaw(req, raw);
    this.log.push({ req, rsp, raw });
    if (this.onRequest) this.onRequest(req, rsp);
    if (isCmd) return;
    let delay = this.latencyMs;
    if (req.req === "dfu.get" && req.length) delay += (this.latencyPerKiBMs * req.length) / 1024;
    if (this.fault("latency")) delay += 2000;
    if (this.fault("malformed")) raw = raw.slice(0, Math.floor(raw.length / 2)) + "#";
    if (this.noNewline && this.noNewline(req)) this.out.push({ at: this.clock.now + delay, bytes: bytesOf(raw) });
    else this.respond(raw, delay);
  }

  private inDfuMode(): "no" | "entering" | "yes" {
    if (this.hubMode !== "dfu") return "no";
    if (this.clock.now - this.dfuRefreshedAt >= this.dfuExpiryMs) {
      this.leaveDfuMode();
      return "no";
    }
    return this.clock.now - this.dfuModeSince < this.dfuEntryMs ? "entering" : "yes";
  }

  /** The card leaves DFU mode on its own (its 15 minutes are up, or it restarted). */
  leaveDfuMode(): void {
    this.hubMode = this.prevHubMode;
    this.dfuModeSince = -1;
  }

  private dispatch(name: string, req: any): any {
    switch (name) {
      case "card.version":
        return {
          version: "notecard-9.1.1.17178", device: "dev:864475044212345", name: "Blues Wireless Notecard",
          sku: "NOTE-WBNAN", board: "5.1",
          body: { org: "Blues Wireless", product: "Notecard", version: "notecard-9.1.1", ver_major: 9, ver_minor: 1, ver_patch: 1, ver_build: 17178, built: "Nov 25 2026" }
        };
      case "hub.set":
        if (req.mode === "dfu") {
          if (this.inDfuMode() === "no") {
            this.prevHubMode = this.hubMode;
            this.hubMode = "dfu";
            this.dfuModeSince = this.clock.now;
          }
          this.dfuRefreshedAt = this.clock.now; // a repeated hub.set restarts the expiry timer
        } else if (req.mode === "dfu-completed") {
          if (this.hubMode === "dfu") this.leaveDfuMode();
        } else if (typeof req.mode === "string") {
          this.hubMode = req.mode === "-" ? "periodic" : req.mode;
        }
        return {};
      case "dfu.status": {
        if (req.stop || req.err || req.status || req.version) this.reports.push({ at: this.clock.now, req });
        const rsp: any = { mode: this.dfuMode, on: true };
        if (this.dfuStatusText) rsp.status = this.dfuStatusText;
        const body = this.body();
        if (body) rsp.body = body;
        if (req.stop) {
          this.image = null;
          if (req.err) {
            this.dfuMode = "error";
            this.dfuStatusText = req.err;
          } else {
            this.dfuMode = "idle";
            this.dfuStatusText = req.status ?? "";
          }
        }
        return rsp;
      }
      case "dfu.get": {
        const dfu = this.inDfuMode();
        if (this.fault("dfuDrop") && this.hubMode === "dfu") {
          this.leaveDfuMode();
          return { err: "not currently in the DFU operating mode (see hub.set)" };
        }
        if (this.needsDfuMode && dfu === "no") return { err: "not currently in the DFU operating mode (see hub.set)" };
        if (this.needsDfuMode && dfu === "entering") return { err: "DFU mode is not yet fully active: connected (session open) {connected}" };
        if (!this.image || this.dfuMode !== "ready") return { err: "no host firmware image is available {dfu-not-ready}" };
        const offset = req.offset ?? 0;
        const length = req.length ?? 0;
        if (length === 0) return { payload: "" };
        if (length < 0 || length > 8192) return { err: "dfu.get: length must be 0..8192" };
        if (offset < 0 || offset + length > this.image.data.length) return { err: "dfu.get: offset/length beyond the image" };
        const chunk = this.image.data.subarray(offset, offset + length);
        return { payload: Buffer.from(chunk).toString("base64"), status: createHash("md5").update(chunk).digest("hex") };
      }
      default:
        return { err: `unknown request: ${name} {io}{not-supported}` };
    }
  }
}
