// The README's board and state tables match boards/ and src/slots/states.ts, and its quick start
// is the two commands CI and users run.
import { strict as assert } from "assert";
import { readdirSync, readFileSync } from "fs";
import { boardsTable, largestApp, statesTable } from "../tools/readme-tables";

const README = readFileSync("README.md", "utf8");

function section(name: string): string {
  const m = new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(README);
  assert.ok(m, `README has no ${name} section`);
  return m![1].trim();
}

describe("README", function () {
  it("lists every board profile as boards/ defines it", function () {
    assert.equal(section("boards"), boardsTable("."));
  });

  it("computes each profile's largest application from its slots and what Storage holds beside the built runtime", function () {
    for (const f of readdirSync("boards")) {
      const b = JSON.parse(readFileSync("boards/" + f, "utf8"));
      const a = largestApp(".", b);
      assert.ok(a.storageLeft >= 0, `${b.name}: its files need ${-a.storageLeft} bytes more than Storage has`);
      assert.equal(a.bytes, Math.min(...b.layout.slots.map((s: any) => s.length)));
      if (b.fallback) assert.ok(largestApp(".", Object.assign({}, b, { layout: b.fallback })).storageLeft >= 0, `${b.name} fallback`);
    }
    // A slot file one runtime larger than Storage leaves is a profile that does not fit.
    const puck = JSON.parse(readFileSync("boards/PUCKJS.json", "utf8"));
    puck.layout.slots[1].length += largestApp(".", puck).storageLeft + 4;
    assert.ok(largestApp(".", puck).storageLeft < 0);
  });

  it("documents the boot record's state table as the code defines it", function () {
    assert.equal(section("states"), statesTable());
  });

  it("gives the two quick-start commands", function () {
    assert.match(README, /npm ci && npm run demo/);
    assert.match(README, /^npm test\b/m);
    assert.match(readFileSync(".ci/run", "utf8"), /^npm ci\b/m);
    assert.match(readFileSync(".ci/run", "utf8"), /^npm test\b/m);
  });
});
