// Power-cut injection shared by the flash and Storage simulators: operations are numbered, and a
// cut can land before operation N, tear it (apply part of it), or land right after it. After a cut
// every operation throws until the board reboots.

export type CutKind = "before" | "torn" | "after";

export class PowerCut extends Error {
  constructor(public op: number, public kind: CutKind) {
    super(`power cut ${kind} flash operation ${op}`);
  }
}

export class PowerRail {
  /** Operations so far (erases and writes, flash and Storage together). */
  ops = 0;
  cutAt = -1;
  cutKind: CutKind = "before";
  down = false;
  /** Extra randomness for torn operations. */
  seed = 1;

  schedule(op: number, kind: CutKind): void {
    this.cutAt = op;
    this.cutKind = kind;
  }

  /** Call at the start of an operation; returns how it should run. */
  begin(): "full" | "torn" | "cut-after" {
    if (this.down) throw new PowerCut(this.ops, this.cutKind);
    const op = this.ops++;
    if (op !== this.cutAt) return "full";
    if (this.cutKind === "before") { this.down = true; throw new PowerCut(op, "before"); }
    return this.cutKind === "torn" ? "torn" : "cut-after";
  }

  /** Call at the end of an operation started with "torn" or "cut-after". */
  fail(op: number): never {
    this.down = true;
    throw new PowerCut(op, this.cutKind);
  }

  /** Power is back (a reboot); a cut still scheduled stays scheduled, one that happened is spent. */
  restore(): void {
    if (!this.down) return;
    this.down = false;
    this.cutAt = -1;
  }

  random(): number {
    this.seed = (this.seed * 1103515245 + 12345) >>> 0;
    return this.seed / 4294967296;
  }
}
