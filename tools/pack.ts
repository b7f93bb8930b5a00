// `notecard-dfu pack`: turns an Espruino application into the image to upload to Notehub under
// Host Firmware. It must parse as ES5 (what the interpreter runs), gets a firmware::info tag in a
// comment (the string Notehub scans for to show the version), optionally minified.
import CRC32 from "crc-32";
import { createHash } from "crypto";
import * as acorn from "acorn";
import { minify } from "terser";

export interface PackOptions {
  version: string;
  org?: string;
  product?: string;
  description?: string;
  builder?: string;
  minify?: boolean;
  /** Build time (ISO), fixed in tests. */
  built?: string;
}

export interface Packed {
  image: string;
  length: number;
  crc32: number;
  md5: string;
  info: { [k: string]: unknown };
}

/** The firmware::info object, in the field order Blues' samples use. */
export function firmwareInfo(o: PackOptions): { [k: string]: unknown } {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[.+-](\d+))?/.exec(o.version);
  const info: { [k: string]: unknown } = {
    org: o.org ?? "", product: o.product ?? "", description: o.description ?? "", firmware: "espruino-app",
    version: o.version, built: o.built ?? new Date().toISOString()
  };
  if (m) {
    info.ver_major = Number(m[1]);
    info.ver_minor = Number(m[2] ?? 0);
    info.ver_patch = Number(m[3] ?? 0);
    if (m[4] !== undefined) info.ver_build = Number(m[4]);
  }
  info.builder = o.builder ?? "";
  return info;
}

export class PackError extends Error {}

export async function pack(source: string, o: PackOptions): Promise<Packed> {
  if (!o.version) throw new PackError("pack: --version is required");
  try {
    acorn.parse(source, { ecmaVersion: 5, sourceType: "script" });
  } catch (e) {
    const err = e as Error & { loc?: { line: number; column: number } };
    throw new PackError(`pack: the application is not ECMAScript 5, which Espruino needs: ${err.message}` + (err.loc ? ` (line ${err.loc.line})` : ""));
  }
  let code = source;
  if (o.minify) {
    const out = await minify(source, { ecma: 5, compress: { hoist_funs: true, hoist_vars: true }, mangle: true, format: { comments: false } });
    code = out.code ?? source;
  }
  const info = firmwareInfo(o);
  // A line comment at the top: Notehub finds the tag anywhere in the file; Espruino skips it.
  const image = `// firmware::info:${JSON.stringify(info)}\n${code}${code.endsWith("\n") ? "" : "\n"}`;
  const bytes = Buffer.from(image, "latin1");
  return {
    image, length: bytes.length, crc32: CRC32.buf(bytes) >>> 0,
    md5: createHash("md5").update(bytes).digest("hex"), info
  };
}
