// Slots and boot record built from a validated layout: what the update engine, the provisioning
// and the selector share.
import { Ports } from "../ports";
import { checkLayout, Layout, pagesOf, RawUnit, recordUnits } from "./layout";
import { createRecordStore, RECORD_SIZE, RecordStore } from "./record-store";
import { createSlotStore, SlotStore } from "./slot-store";
import { SelectorConfig } from "../boot/selector";

export interface Slots {
  slots: SlotStore[];
  records: RecordStore;
  /** The selector's parameters for this layout. */
  selectorConfig(maxAttempts: number, watchdogSec: number): SelectorConfig;
}

export function createSlots(ports: Ports, layout: Layout, memoryMapped: boolean): Slots {
  var problem = checkLayout(layout, ports.flash, RECORD_SIZE);
  if (problem) throw new Error("NotecardDFU: unsafe layout: " + problem);
  var slots = [0, 1].map(function (i) { return createSlotStore(i, layout.slots[i], ports.flash, ports.storage, ports.natives); });
  var units: RawUnit[] | null = null, pages: number[][] | null = null;
  if (!layout.record.files) {
    units = recordUnits(ports.flash, layout.record) as RawUnit[];
    pages = units.map(function (u) { return pagesOf(ports.flash, u.addr, u.length) as number[]; });
  }
  var records = createRecordStore(ports, layout.record, units, pages);
  return {
    slots: slots,
    records: records,
    selectorConfig: function (maxAttempts, watchdogSec) {
      var rec: SelectorConfig["rec"] = layout.record.files
        ? { f: layout.record.files, z: layout.record.length }
        : { u: (units as RawUnit[]).map(function (u) { return u.addr; }), p: pages as number[][], z: Math.min((units as RawUnit[])[0].length, (units as RawUnit[])[1].length) };
      return {
        slots: layout.slots.map(function (s) { return s.file !== undefined ? { f: s.file } : { a: s.addr }; }),
        rec: rec, mapped: memoryMapped, max: maxAttempts, wdt: watchdogSec
      };
    }
  };
}
