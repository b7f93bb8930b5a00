// Semantic-version comparison for the anti-downgrade gate.

/** [major, minor, patch] of "1.2.3", "v1.2", or null when it is not a version number. */
function parts(v: string): number[] | null {
  var m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(String(v));
  if (!m) return null;
  return [parseInt(m[1], 10), parseInt(m[2] || "0", 10), parseInt(m[3] || "0", 10)];
}

/** <0 when a is older than b, 0 when equal, >0 when newer; NaN when either is not a version. */
export function compareVersions(a: string, b: string): number {
  var x = parts(a), y = parts(b);
  if (!x || !y) return NaN;
  for (var i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}
