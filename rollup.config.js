// Bundles src/ into Espruino modules, each one CommonJS ES5 file plus a minified copy:
// NotecardDFU (the runtime), NotecardDFUInstall (provisioning, used once) and NotecardDFUMD5 (the
// optional chunk-MD5 add-on). terser hoists functions and vars so the output never depends on
// hoisting, which Espruino lacks, and shortens the module's internal `_name` properties.
import typescript from "@rollup/plugin-typescript";
import { minify } from "terser";
import { readdirSync, readFileSync, writeFileSync } from "fs";

function minified(name) {
  return {
    name: "espruino-minify",
    async writeBundle(options, bundle) {
      const out = await minify(bundle[name.split("/").pop() + ".js"].code, {
        ecma: 5,
        module: false,
        toplevel: true,
        // pure_getters, unsafe_comps: the sources define no getters and compare no objects.
        compress: { hoist_funs: true, hoist_vars: true, passes: 2, unsafe: false, pure_getters: true, unsafe_comps: true },
        mangle: { reserved: ["exports", "require", "module"], properties: { regex: /^_[a-z0-9]/i } },
        format: { comments: false, ascii_only: true }
      });
      writeFileSync("dist/" + name + ".min.js", out.code);
    }
  };
}

// boards/*.json are the documented profiles; the install module carries what provisioning needs,
// one row of numbers per board (src/install.ts profile() reads it back): slot 0 address and
// length, slot 1's, the reservation's length (0: none), flags (1 memory-mapped, 2 prove slot 0),
// the chunk size and where Storage starts (0: process.memory() says).
function boards() {
  const id = "notecard-dfu:boards";
  return {
    name: "notecard-dfu-boards",
    resolveId(source) { return source === id ? id : null; },
    load(source) {
      if (source !== id) return null;
      const rows = [];
      for (const f of readdirSync("boards").filter((n) => n.endsWith(".json")).sort()) {
        const b = JSON.parse(readFileSync("boards/" + f, "utf8")), s = b.layout.slots, r = b.layout.reserve;
        if (s.length !== 2 || (r && r.file !== "dfu.area")) throw new Error(f + ": two slots, and a reservation named dfu.area, are what the install module's table holds");
        rows.push(b.name + ":[" + [s[0].addr, s[0].length, s[1].addr, s[1].length, r ? r.length : 0, (b.memoryMapped ? 1 : 0) | (b.prove ? 2 : 0), b.chunkSize, b.storage || 0].join(",") + "]");
      }
      return "export var BOARDS = {" + rows.join(",") + "};";
    }
  };
}

// *.boot.js files are separate ES5 programs the module installs (the boot selector): imported as
// their minified text.
function bootText() {
  return {
    name: "notecard-dfu-boot-text",
    async load(id) {
      if (!id.endsWith(".boot.js")) return null;
      const out = await minify(readFileSync(id, "utf8"), {
        ecma: 5, toplevel: false,
        compress: { hoist_funs: true, hoist_vars: false, passes: 2, toplevel: false },
        mangle: { toplevel: false, reserved: ["__dfu"] },
        format: { comments: false, ascii_only: true }
      });
      writeFileSync("dist/selector.min.js", out.code);
      return "export default " + JSON.stringify(out.code) + ";";
    }
  };
}

const BANNER = "/* NotecardDFU: Blues Notecard host firmware update for Espruino. MIT licence. */";

function bundle(input, name, extra) {
  return {
    input,
    output: { file: "dist/" + name + ".js", format: "cjs", strict: false, esModule: false, generatedCode: "es5", banner: BANNER },
    plugins: extra.concat([typescript({ tsconfig: "./tsconfig.json", outDir: "dist", rootDir: "src", noEmitOnError: true }), minified(name)])
  };
}

export default [
  bundle("src/index.ts", "NotecardDFU", []),
  bundle("src/install.ts", "NotecardDFUInstall", [boards(), bootText()]),
  bundle("src/dfu/md5.ts", "NotecardDFUMD5", [])
];
