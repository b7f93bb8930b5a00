// The boot state's machine as an explicit table (like MCUboot's swap tables). The state is what the
// two slots' trailers say (src/slots/boot-state.ts); each transition writes one header, resume
// point or mark there. The selector (src/boot/selector.boot.js) performs the boot-time rows; the
// module performs the rest.

export type State = "confirmed" | "progress" | "pending" | "trial" | "reverted";
export type Event = "provision" | "progress" | "verified" | "abandon" | "boot" | "expire" | "bad" | "confirm" | "reported";

/**
 * From state (or "none": no confirmed image) -> event -> next state. Nothing else happens:
 * test/boot.test.ts checks every change of state of an update life against it.
 */
export function transitions(): { [from: string]: { [event: string]: State } } {
  return {
    none: { provision: "confirmed" },
    confirmed: { provision: "confirmed", progress: "progress", reported: "confirmed" },
    reverted: { provision: "confirmed", progress: "progress", reported: "reverted" },
    progress: { provision: "confirmed", progress: "progress", verified: "pending", abandon: "confirmed" },
    pending: { boot: "trial", bad: "reverted" },
    trial: { boot: "trial", expire: "reverted", bad: "reverted", confirm: "confirmed" }
  };
}
