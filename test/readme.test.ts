// The README's board and state tables match boards/ and src/slots/states.ts, and its quick start
// is the two commands CI and users run.
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import { boardsTable, statesTable } from "../tools/readme-tables";

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
