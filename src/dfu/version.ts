// Semantic-version comparison for the anti-downgrade gate. Parsed by hand: Espruino's regular
// expressions have no `?` quantifier nor quantified groups.

/**
 * <0 when a is older than b, 0 when equal, >0 when newer; NaN when either is not a version number
 * ("1.2.3", "v1.2", "2.0.1-beta": major, minor, patch).
 */
export function compareVersions(a: string, b: string): number {
  var v: any[] = [a, b], i: number, j: number, t: string[], n: number;
  for (i = 0; i < 2; i++) {
    t = String(v[i]).replace(/^v/, "").split(".");
    v[i] = [];
    for (j = 0; j < 3; j++) {
      n = j < t.length ? parseInt(t[j], 10) : 0;
      if (isNaN(n)) {
        if (!j) return NaN;
        n = 0;
      }
      v[i].push(n);
    }
  }
  for (j = 0; j < 3; j++) if (v[0][j] !== v[1][j]) return v[0][j] - v[1][j];
  return 0;
}
