// Espruino Storage semantics behind the Storage port (espruino-platform.md §2.1): a file written at
// offset 0 with a size is created 0xFF-filled, later writes at offset > 0 may only fill erased
// bytes, rewriting offset 0 with other data recreates the file. Writes and erases share the
// PowerRail with the flash simulator, so a cut can land on them too.
import { PowerRail } from "./power";

export class StorageSim {
  files = new Map<string, Uint8Array>();
  rail: PowerRail;
  writeOps = 0;

  constructor(rail?: PowerRail) {
    this.rail = rail ?? new PowerRail();
  }

  read(name: string, offset = 0, length?: number): string | undefined {
    if (this.rail.down) throw new Error("no power");
    const f = this.files.get(name);
    if (!f) return undefined;
    const end = length === undefined ? f.length : Math.min(f.length, offset + length);
    return Buffer.from(f.subarray(offset, end)).toString("latin1");
  }

  list(): string[] {
    return [...this.files.keys()];
  }

  write(name: string, data: string | Uint8Array, offset?: number, size?: number): boolean {
    const bytes = typeof data === "string" ? Uint8Array.from(Buffer.from(data, "latin1")) : Uint8Array.from(data);
    const mode = this.rail.begin();
    const op = this.rail.ops - 1;
    this.writeOps++;
    let n = mode === "torn" ? Math.floor(this.rail.random() * bytes.length) : bytes.length;
    const existing = this.files.get(name);
    if (!offset) {
      if (existing && existing.length === bytes.length && Buffer.compare(Buffer.from(existing), Buffer.from(bytes)) === 0 && mode === "full") return true;
      const f = new Uint8Array(Math.max(size ?? bytes.length, bytes.length)).fill(0xff);
      f.set(bytes.subarray(0, n), 0);
      this.files.set(name, f);
    } else {
      if (!existing) throw new Error(`File ${name} does not exist`);
      if (offset + bytes.length > existing.length) throw new Error("Too much data for file size");
      for (let i = 0; i < bytes.length; i++) if (existing[offset + i] !== 0xff) throw new Error("File already written with different data");
      existing.set(bytes.subarray(0, n), offset);
    }
    if (mode !== "full") this.rail.fail(op);
    return true;
  }

  erase(name: string): void {
    const mode = this.rail.begin();
    const op = this.rail.ops - 1;
    if (mode === "torn" && this.rail.random() < 0.5) this.rail.fail(op);
    this.files.delete(name);
    if (mode !== "full") this.rail.fail(op);
  }
}
