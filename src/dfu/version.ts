// Semantic-version comparison for the anti-downgrade gate. Parsed by hand: Espruino's regular
// expressions have no `?` quantifier nor quantified groups.

/**
 * <0 when a is older than b, 0 when equal, >0 when newer; NaN when either is not a version number
 * ("1.2.3", "v1.2", "2.0.1-beta": major, minor, patch).
 */
export function compareVersions(a: string, b: string): number {
  var x = String(a).replace(/^v/, "").split("."), y = String(b).replace(/^v/, "").split("."), j: number, d = 0;
  // parseInt reads the leading digits ("1-beta" is 1); a missing or non-numeric part is 0, but a major must be a number.
  if (isNaN(parseInt(x[0], 10) + parseInt(y[0], 10))) return NaN;
  for (j = 0; j < 3 && !d; j++) d = (parseInt(x[j], 10) || 0) - (parseInt(y[j], 10) || 0);
  return d;
}
