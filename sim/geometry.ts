// Flash geometries of the boards in boards/, for the flash simulator (espruino-platform.md §1.2,
// §1.4): page lists and the areas Flash.getFree() reports.
import { Page, uniformPages } from "./flash";

export interface Geometry {
  pages: Page[];
  free: Page[];
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

export const GEOMETRIES: { [board: string]: Geometry } = {
  LINUX: { pages: uniformPages(0x10000000, 1024, 256), free: [{ addr: 0x10000000, length: 262144 }] },
  PICO: { pages: stm32f4(512), free: [{ addr: 0x08060000, length: 131072 }] },
  ESPRUINOWIFI: { pages: stm32f4(512), free: [{ addr: 0x08004000, length: 49152 }] },
  ESPRUINOBOARD: { pages: uniformPages(0x08000000, 2048, 192), free: [{ addr: 0x08040000, length: 131072 }] },
  PUCKJS: { pages: uniformPages(0, 4096, 128), free: [] },
  PIXLJS: { pages: uniformPages(0, 4096, 128), free: [] },
  MDBT42Q: { pages: uniformPages(0, 4096, 128), free: [] },
  BANGLEJS2: { pages: uniformPages(0, 4096, 256), free: [] },
  JOLTJS: { pages: uniformPages(0, 4096, 256), free: [] },
  ESP32: { pages: uniformPages(0, 4096, 1024), free: [{ addr: 0xe000, length: 0x2000 }, { addr: 0x310000, length: 0x10000 }] },
  /** A 128 KiB-sector case: STM32F4 with slots in sectors 5 and 6, the record in sectors 1-2. */
  F4_SECTORS: { pages: stm32f4(512), free: [{ addr: 0x08004000, length: 32768 }, { addr: 0x08020000, length: 262144 }] }
};

export const F4_SECTORS_LAYOUT = {
  slots: [{ addr: 0x08020000, length: 131072 }, { addr: 0x08040000, length: 131072 }],
  record: { addr: 0x08004000, length: 32768 }
};
