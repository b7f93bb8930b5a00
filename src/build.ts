// What this build of the runtime carries. The Storage-only build (dist/storage/, for boards whose
// slots and record are both Storage files) is made with this returning false (rollup.config.js):
// minification then leaves the raw-flash code out, about 0.5 KB of Storage that goes to the slots.
// A function, not a variable: terser inlines it everywhere, also in functions hoisted above it.
export function rawFlash(): boolean {
  return true;
}
