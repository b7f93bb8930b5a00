// Bundles src/ into one CommonJS ES5 file for the Espruino interpreter, plus a minified copy.
// terser hoists functions and vars so the output never depends on hoisting, which Espruino lacks.
import typescript from "@rollup/plugin-typescript";
import { minify } from "terser";
import { readdirSync, readFileSync, writeFileSync } from "fs";

function minified() {
  return {
    name: "espruino-minify",
    async writeBundle(options, bundle) {
      const code = bundle["NotecardDFU.js"].code;
      const out = await minify(code, {
        ecma: 5,
        module: false,
        toplevel: true,
        compress: { hoist_funs: true, hoist_vars: true, passes: 2, unsafe: false },
        mangle: { reserved: ["exports", "require", "module"] },
        format: { comments: false, ascii_only: true }
      });
      writeFileSync("dist/NotecardDFU.min.js", out.code);
    }
  };
}

// boards/*.json are the documented profiles; the bundle carries only what setup() needs of them.
function boards() {
  const id = "notecard-dfu:boards";
  return {
    name: "notecard-dfu-boards",
    resolveId(source) { return source === id ? id : null; },
    load(source) {
      if (source !== id) return null;
      const table = {};
      for (const f of readdirSync("boards").filter((n) => n.endsWith(".json")).sort()) {
        const b = JSON.parse(readFileSync("boards/" + f, "utf8"));
        table[b.name] = { layout: b.layout, memoryMapped: b.memoryMapped, chunkSize: b.chunkSize };
      }
      return "export var BOARDS = " + JSON.stringify(table) + ";";
    }
  };
}

export default {
  input: "src/index.ts",
  output: {
    file: "dist/NotecardDFU.js",
    format: "cjs",
    strict: false,
    esModule: false,
    generatedCode: "es5",
    banner: "/* NotecardDFU: Blues Notecard host firmware update for Espruino. MIT licence. */"
  },
  plugins: [boards(), typescript({ tsconfig: "./tsconfig.json", outDir: "dist", rootDir: "src", noEmitOnError: true }), minified()]
};
