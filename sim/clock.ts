// A virtual clock and timer queue: the simulated board's event loop. Bus transfers advance `now`
// synchronously, so every run has deterministic durations whatever the host machine is doing.

interface Timer {
  id: number;
  at: number;
  order: number;
  fn: () => void;
}

export class VirtualClock {
  now = 0;
  private timers: Timer[] = [];
  private nextId = 1;
  private order = 0;
  /** Turns of the event loop run so far. */
  turns = 0;

  set(fn: () => void, ms: number): number {
    const id = this.nextId++;
    this.timers.push({ id, at: this.now + Math.max(0, ms), order: this.order++, fn });
    return id;
  }

  clear(id: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== id);
  }

  /** Charges `ms` of busy time (a bus transfer, a flash erase) to the clock. */
  advance(ms: number): void {
    this.now += ms;
  }

  /** A reset: every pending timer is gone. */
  clearAll(): void {
    this.timers = [];
  }

  pending(): number {
    return this.timers.length;
  }

  /** Runs the earliest timer; false when none is left. */
  step(): boolean {
    if (!this.timers.length) return false;
    let best = 0;
    for (let i = 1; i < this.timers.length; i++) {
      const t = this.timers[i], b = this.timers[best];
      if (t.at < b.at || (t.at === b.at && t.order < b.order)) best = i;
    }
    const t = this.timers.splice(best, 1)[0];
    if (t.at > this.now) this.now = t.at;
    this.turns++;
    t.fn();
    return true;
  }

  /** Runs timers until `done()` is true or no timer is left; throws past `limitMs` of virtual time. */
  runUntil(done: () => boolean, limitMs = 24 * 3600e3): void {
    const end = this.now + limitMs;
    while (!done()) {
      if (!this.step()) return;
      if (this.now > end) throw new Error(`virtual time limit of ${limitMs} ms passed`);
    }
  }

  /** Ports view for the module: timers and the clock. */
  ports() {
    return {
      timers: { set: (fn: () => void, ms: number) => this.set(fn, ms), clear: (id: unknown) => this.clear(id) },
      clock: () => this.now
    };
  }
}
