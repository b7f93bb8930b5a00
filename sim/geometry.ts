// Flash geometries of the boards in boards/, for the flash simulator (espruino-platform.md §1.2,
// §1.4): page lists and the areas Flash.getFree() reports.
import { Page, uniformPages } from "./flash";
import { StorageArea } from "./storage";

export interface Geometry {
  /** Pages Flash.getPage() knows, in address order. */
  pages: Page[];
  /** Areas Flash.getFree() reports. */
  free: Page[];
  /** Where Storage lies, and its size (Storage.getStats().totalBytes). */
  storage: StorageArea;
  /** process.memory(): JsVars and bytes per JsVar; flash_code_start where the board is ARM. */
  memory: { total: number; blocksize: number; flash_code_start?: number };
}

/** STM32F4 sectors: 4 x 16 KB, 64 KB, then 128 KB sectors, from 0x08000000. */
function stm32f4(totalKiB: number): Page[] {
  const sizes = [16, 16, 16, 16, 64];
  let kib = 128;
  while (sizes.reduce((a, b) => a + b, 0) < totalKiB) sizes.push(kib);
  const pages: Page[] = [];
  let addr = 0x08000000;
  for (const s of sizes) { pages.push({ addr, length: s * 1024 }); addr += s * 1024; }
  return pages;
}

const arm = (total: number, blocksize: number, codeStart: number) => ({ total, blocksize, flash_code_start: codeStart });

/** From ../shared/docs/board-facts.md (Espruino's boards/*.py and jshardware.c). */
export const GEOMETRIES: { [board: string]: Geometry } = {
  // The whole emulated flash is Storage, and Flash.getFree() reports all of it.
  LINUX: { pages: uniformPages(0x10000000, 1024, 256), free: [{ addr: 0x10000000, length: 262144 }], storage: { addr: 0x10000000, length: 262144 }, memory: { total: 40000, blocksize: 17 } },
  // STM32F401CD: 384 KB documented; Espruino offers the 128 KB sector beyond it.
  PICO: { pages: stm32f4(512), free: [{ addr: 0x08060000, length: 131072 }], storage: { addr: 0x08004000, length: 49152 }, memory: arm(5100, 13, 0x08004000) },
  ESPRUINOWIFI: { pages: stm32f4(512), free: [{ addr: 0x08004000, length: 49152 }], storage: { addr: 0x08010000, length: 65536 }, memory: arm(8190, 13, 0x08010000) },
  // F103RC: 256 KB declared (2 KB pages); getFree adds 128 KB at 0x08040000 that getPage does not know.
  ESPRUINOBOARD: { pages: uniformPages(0x08000000, 2048, 128), free: [{ addr: 0x08040000, length: 131072 }], storage: { addr: 0x0803b000, length: 20480 }, memory: arm(2756, 13, 0x0803b000) },
  PUCKJS: { pages: uniformPages(0, 4096, 128), free: [], storage: { addr: 0x6c000, length: 40960 }, memory: arm(2630, 13, 0x6c000) },
  MDBT42Q: { pages: uniformPages(0, 4096, 128), free: [], storage: { addr: 0x6c000, length: 40960 }, memory: arm(2950, 13, 0x6c000) },
  PIXLJS: { pages: uniformPages(0, 4096, 128), free: [], storage: { addr: 0x6d000, length: 36864 }, memory: arm(2950, 13, 0x6d000) },
  JOLTJS: { pages: uniformPages(0, 4096, 256), free: [], storage: { addr: 0x91000, length: 409600 }, memory: arm(12000, 14, 0x91000) },
  // The 640 KB getFree() entry at 0x360000 lies inside Storage; 0x310000 is the free partition.
  ESP32: {
    pages: uniformPages(0, 4096, 1024), free: [{ addr: 0xe000, length: 0x2000 }, { addr: 0x310000, length: 0x10000 }, { addr: 0x360000, length: 0xa0000 }],
    storage: { addr: 0x320000, length: 0xe0000 }, memory: { total: 16383, blocksize: 16 }
  },
  /** A 128 KiB-sector case: STM32F4 with slots in sectors 5 and 6. */
  F4_SECTORS: { pages: stm32f4(512), free: [{ addr: 0x08004000, length: 32768 }, { addr: 0x08020000, length: 262144 }], storage: { addr: 0x08010000, length: 65536 }, memory: arm(8190, 13, 0x08010000) }
};

export const F4_SECTORS_LAYOUT = {
  slots: [{ addr: 0x08020000, length: 131072 }, { addr: 0x08040000, length: 131072 }]
};
