// The generated tables match what they are generated from (the boards table in README.md from
// boards/, the state table in docs/design.md from src/slots/states.ts), every relative link in
// README.md and docs/ resolves, and the quick start is the two commands CI and users run.
import { strict as assert } from "assert";
import { existsSync, readdirSync, readFileSync } from "fs";
import { dirname, join } from "path";
import { boardsTable, largestApp, statesTable } from "../tools/readme-tables";

const README = readFileSync("README.md", "utf8");
const DOCS = ["README.md"].concat(readdirSync("docs").filter((f) => f.endsWith(".md")).map((f) => "docs/" + f));

function section(name: string, file = "README.md"): string {
  const m = new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(readFileSync(file, "utf8"));
  assert.ok(m, `${file} has no ${name} section`);
  return m![1].trim();
}

describe("README", function () {
  it("lists every board profile as boards/ defines it", function () {
    assert.equal(section("boards"), boardsTable("."));
  });

  it("computes each profile's largest application (its smaller slot less the trailer) and what Storage holds beside the built runtime", function () {
    for (const f of readdirSync("boards")) {
      const b = JSON.parse(readFileSync("boards/" + f, "utf8"));
      const a = largestApp(".", b);
      assert.ok(a.bytes > 0 && a.bytes < Math.min(...b.layout.slots.map((s: any) => s.length)), b.name);
      // A profile whose Storage cannot hold the runtime says so in its row.
      const row = section("boards").split("\n").find((l) => l.startsWith(`| ${b.name} |`)) as string;
      assert.equal(/the runtime does not fit/.test(row), a.storageLeft < 0, row);
    }
    // A slot one page larger leaves that much less Storage, or none.
    const puck = JSON.parse(readFileSync("boards/PUCKJS.json", "utf8"));
    const before = largestApp(".", puck).storageLeft;
    puck.layout.reserve.length += 4096;
    puck.layout.slots[1].length += 4096;
    assert.equal(largestApp(".", puck).storageLeft, before - 4096);
  });

  it("documents the boot state's table as the code defines it", function () {
    assert.equal(section("states", "docs/design.md"), statesTable());
  });

  it("has only relative links that resolve, in README.md and every docs/ file", function () {
    let links = 0;
    for (const file of DOCS) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(m[1])) continue;
        links++;
        assert.ok(existsSync(join(dirname(file), m[1])), `${file}: ${m[1]} does not exist`);
      }
    }
    assert.ok(links >= 7, `${links} relative links`);
  });

  it("keeps the README under 250 lines and opens every docs/ file with a paragraph on its purpose", function () {
    assert.ok(README.split("\n").length < 250);
    for (const file of DOCS.slice(1)) assert.match(readFileSync(file, "utf8"), /^# .+\n\nThis document /, file);
  });

  it("agrees on one version: package.json (npm pack), the runtime's VERSION and the CHANGELOG's latest entry", function () {
    const version = JSON.parse(readFileSync("package.json", "utf8")).version;
    assert.equal(require("../dist/NotecardDFU.js").VERSION, version);
    assert.equal(/^## (\S+)/m.exec(readFileSync("CHANGELOG.md", "utf8"))![1], version);
  });

  it("gives the two quick-start commands", function () {
    assert.match(README, /npm ci && npm run demo/);
    assert.match(README, /^npm test\b/m);
    assert.match(readFileSync(".ci/run", "utf8"), /^npm ci\b/m);
    assert.match(readFileSync(".ci/run", "utf8"), /^npm test\b/m);
  });
});
