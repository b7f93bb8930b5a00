// Behaviour tests drive the built bundle, exactly what ships to the board.
import * as acorn from "acorn";
import { readFileSync } from "fs";
import { resolve } from "path";

export interface NotecardDFUModule {
  setup(options: any): any;
  VERSION: string;
}

export function loadBundle(): NotecardDFUModule {
  return require(resolve(__dirname, "../../dist/NotecardDFU.js"));
}

/** The shipped MD5 (the bundle's own md5Hex and its tables), as source to evaluate elsewhere. */
export function md5Source(): string {
  const src = readFileSync(resolve(__dirname, "../../dist/NotecardDFU.js"), "utf8");
  const ast: any = acorn.parse(src, { ecmaVersion: 5 });
  const names = ["S", "K", "constants", "md5Hex"];
  return ast.body.filter((n: any) => (n.id && names.indexOf(n.id.name) >= 0) || (n.declarations && names.indexOf(n.declarations[0].id.name) >= 0))
    .map((n: any) => src.slice(n.start, n.end)).join("\n");
}
