// One error shape everywhere: an Error with a stable code (listed in the README), like MCUboot's
// BOOT_E* values. Callbacks get null or one of these; nothing matches on message text.

export type Code = "io" | "card" | "refused" | "flash" | "layout" | "busy" | "internal";

export interface Fault extends Error {
  code: Code;
}

export function fault(code: Code, message: string): Fault {
  var e = new Error(message) as Fault;
  e.code = code;
  return e;
}
