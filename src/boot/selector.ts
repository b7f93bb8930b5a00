// The boot selector's source (src/boot/selector.boot.js, minified by the build) with its layout.
import SELECTOR from "./selector.boot.js";

export interface SelectorConfig {
  /** slots: raw address (a) or Storage file (f) */
  slots: { a?: number; f?: string }[];
  /** record: raw unit addresses (u) and their page addresses (p), or Storage files (f); unit size (z) */
  rec: { p?: number[][]; u?: number[]; f?: string[]; z: number };
  /** raw slots are memory-mapped (E.memoryArea) */
  mapped: boolean;
  /** trial boots before a revert */
  max: number;
  /** trial watchdog, seconds (0 = off) */
  wdt: number;
}

export function selectorSource(config: SelectorConfig): string {
  return SELECTOR.replace("__CONFIG__", JSON.stringify(config));
}
