// Figures the reliability tests measure, printed together at the end of the run.
export const figures: { [name: string]: number } = {};

export function add(name: string, n: number): void {
  figures[name] = (figures[name] ?? 0) + n;
}

/** RELIABILITY=full runs every cut point and the long schedules; npm test samples them. */
export const FULL = process.env.RELIABILITY === "full";

after(function () {
  const keys = Object.keys(figures);
  if (!keys.length) return;
  console.log("\n  Reliability figures" + (FULL ? " (full run)" : " (sampled in npm test; npm run reliability runs all)"));
  for (const k of keys) console.log(`    ${k}: ${figures[k]}`);
});
