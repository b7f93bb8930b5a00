// The Espruino compatibility gate: every rule catches a bad sample, and both built bundles pass.
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import { BUDGETS, checkSource, checkSize } from "../tools/espruino-gate";

function rulesOf(src: string): string[] {
  return checkSource(src).map((v) => v.rule);
}

describe("Espruino gate", function () {
  const bad: [string, string, string][] = [
    ["es5-syntax", "let is not ES5", "let x = 1;"],
    ["es5-syntax", "arrow functions", "var f = (a) => a;"],
    ["es5-syntax", "array spread", "var a = [1]; var b = [].concat([...a]);"],
    ["es5-syntax", "async functions", "async function f() {}"],
    ["es5-syntax", "generators", "function* g() { yield 1; }"],
    ["forbidden-global", "Map", "var m = new Map();"],
    ["forbidden-global", "Set", "var s = new Set();"],
    ["forbidden-global", "WeakMap", "var w = new WeakMap();"],
    ["forbidden-global", "Symbol", "var s = typeof Symbol;"],
    ["forbidden-global", "Proxy", "var p = new Proxy({}, {});"],
    ["forbidden-global", "Reflect", "var k = Reflect.ownKeys({});"],
    ["forbidden-global", "Promise", "var p = Promise.resolve(1);"],
    ["forbidden-global", "Buffer", "var b = Buffer.from('x');"],
    ["forbidden-global", "process", "var e = process.env;"],
    ["forbidden-member", "Array.from", "var a = Array.from('ab');"],
    ["forbidden-member", "Number.isInteger", "var i = Number.isInteger(1);"],
    ["forbidden-member", "Math.imul", "var m = Math.imul(2, 3);"],
    ["builtin-prototype", "Array.prototype.slice", "function f() { return Array.prototype.slice.call(arguments); }"],
    ["builtin-prototype", "Function.prototype.apply", "var ap = Function.prototype.apply;"],
    ["builtin-prototype", "Object.prototype.hasOwnProperty", "var h = Object.prototype.hasOwnProperty;"],
    ["ts-helper", "__awaiter", "var __awaiter = function () {};"],
    ["ts-helper", "__generator", "function __generator() {}"],
    ["ts-helper", "__spreadArray", "var x = __spreadArray([], [1], false);"],
    ["ts-helper", "__extends", "var __extends = function (d, b) {};"],
    ["regex", "an optional character in a regex", "var r = /ab?c/;"],
    ["regex", "a non-capturing group", "var r = /a(?:b)c/;"],
    ["regex", "a look-ahead", "var r = /a(?=b)/;"],
    ["regex", "a {n} quantifier", "var r = /^[0-9a-f]{32}$/;"],
    ["regex", "a quantified group", "var r = /(ab)+/;"],
    ["label", "labelled loop", "outer: for (var i = 0; i < 2; i++) { break outer; }"],
    ["use-before-declaration", "call before function declaration", "f(); function f() {}"],
    ["use-before-declaration", "read before var", "var a = b + 1; var b = 2;"],
    ["use-before-declaration", "assignment before var", "x = 1; var x;"],
    ["use-before-declaration", "through an earlier function", "function a() { return b(); } a(); function b() { return 1; }"],
    ["use-before-declaration", "inside an IIFE (TS class with extends)",
      "var B = (function (_super) { __ext(B, _super); function B() {} return B; }(Object)); function __ext() {}"],
    ["use-before-declaration", "inside a function body", "function outer() { inner(); function inner() {} } outer();"]
  ];
  for (const [rule, what, src] of bad) {
    it(`rejects ${what} (${rule})`, function () {
      assert.ok(rulesOf(src).indexOf(rule) >= 0, `expected ${rule} for: ${src}\n got ${JSON.stringify(checkSource(src))}`);
    });
  }

  const good: [string, string][] = [
    ["declaration before use", "function f() { return 1; } var x = f();"],
    ["deferred reference inside a function", "function a() { return b(); } function b() { return 1; } a();"],
    ["callback that runs later", "var later = function () { return y; }; var y = 2;"],
    ["property names that look like globals", "var o = { Map: 1 }; var m = o.Map; var s = o.process;"],
    ["Espruino's process.memory()", "var free = process.memory().free;"],
    ["instance method calls", "var a = [1, 2]; var b = [].slice.call(a, 1);"],
    ["regexes Espruino runs", "var a = /[\\r\\n]/g, b = /^[0-9a-fA-F]+$/, c = /x\\?y|\\{connected\\}/, d = /[?{]/;"]
  ];
  for (const [what, src] of good) {
    it(`accepts ${what}`, function () {
      assert.deepEqual(checkSource(src), []);
    });
  }

  it("rejects a file over its size budget, and one without a budget, and accepts one within it", function () {
    assert.deepEqual(checkSize("selector.min.js", BUDGETS["selector.min.js"] + 1).map((v) => v.rule), ["size-budget"]);
    assert.deepEqual(checkSize("selector.min.js", BUDGETS["selector.min.js"]), []);
    assert.deepEqual(checkSize("other.min.js", 1).map((v) => v.rule), ["size-budget"]);
  });

  for (const name of ["NotecardDFU", "NotecardDFUInstall", "NotecardDFUMD5"]) {
    for (const file of [`dist/${name}.js`, `dist/${name}.min.js`]) {
      it(`passes the built ${file}`, function () {
        assert.deepEqual(checkSource(readFileSync(file, "utf8")), []);
      });
    }
  }

  it("passes the built boot selector (as .boot0 holds it, after the layout's line)", function () {
    const src = "//" + JSON.stringify({ s: [], t: 72, x: 3, k: 1024 }) + "\n" + readFileSync("dist/selector.min.js", "utf8");
    assert.deepEqual(checkSource(src), []);
  });

  for (const file of Object.keys(BUDGETS)) {
    it(`keeps dist/${file} within its size budget`, function () {
      const bytes = readFileSync("dist/" + file).length;
      console.log(`      dist/${file}: ${bytes} bytes (budget ${BUDGETS[file]})`);
      assert.deepEqual(checkSize(file, bytes), []);
    });
  }
});
