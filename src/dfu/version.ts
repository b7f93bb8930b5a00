// Semantic-version comparison for the anti-downgrade gate. Parsed by hand: Espruino's regular
// expressions have no `?` quantifier nor quantified groups.

/** [major, minor, patch] of "1.2.3", "v1.2", "2.0.1-beta", or null when it is not a version number. */
function parts(v: string): number[] | null {
  var t = String(v);
  if (t.charAt(0) === "v") t = t.substr(1);
  var p = t.split("."), out: number[] = [];
  for (var i = 0; i < 3; i++) {
    var n = i < p.length ? parseInt(p[i], 10) : 0;
    if (isNaN(n)) {
      if (!i) return null;
      n = 0;
    }
    out.push(n);
  }
  return out;
}

/** <0 when a is older than b, 0 when equal, >0 when newer; NaN when either is not a version. */
export function compareVersions(a: string, b: string): number {
  var x = parts(a), y = parts(b);
  if (!x || !y) return NaN;
  for (var i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}
