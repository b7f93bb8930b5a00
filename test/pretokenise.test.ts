// The pretokenised copies (dist/<name>.pretok) are the minified modules token for token: what a
// board stores must be the code the gate passed.
import { strict as assert } from "assert";
import { tokenizer } from "acorn";
import { readFileSync } from "fs";
import { PRETOKENISED, pretokenise, untokenise } from "../tools/pretokenise";

function tokens(src: string): string[] {
  const out: string[] = [];
  for (const t of tokenizer(src, { ecmaVersion: 5 })) out.push(t.type.label + ":" + JSON.stringify((t as any).value === undefined ? src.substring(t.start, t.end) : (t as any).value));
  return out;
}

describe("pretokenised modules", function () {
  it("turns reserved words and operators into Espruino's token bytes and strings into raw bytes", function () {
    assert.equal(pretokenise('function f(a){return a===null?"ab":typeof a}'),
      "\xaaf(a){\xaba\x8b\xb6?\xd1\x02ab:\xbfa}");
    assert.equal(pretokenise('var s="x".repeat(300);'), "\xacs=\xd1\x01x.repeat(300);");
    assert.equal(pretokenise("var t=" + JSON.stringify("y".repeat(300))), "\xact=\xd2\x2c\x01" + "y".repeat(300));
  });

  it("keeps the spaces that separate names and numbers, and operators that would merge", function () {
    assert.equal(pretokenise("a- -b;x in y;c+ +d"), "a- -b;x\xb9y;c+ +d");
    assert.deepEqual(tokens(untokenise(pretokenise("a- -b;c+ +d;e=f- --g"))), tokens("a- -b;c+ +d;e=f- --g"));
  });

  it("leaves catch, non-Latin-1 strings and the empty string as text", function () {
    assert.equal(pretokenise('try{}catch(e){x=""+"\\u0100"}'), "\xb1{}catch(e){x=\"\"+\"\\u0100\"}");
  });

  for (const name of PRETOKENISED) {
    it(`dist/${name}.pretok holds dist/${name}.min.js token for token, and is smaller`, function () {
      const min = readFileSync(`dist/${name}.min.js`, "latin1"), tok = readFileSync(`dist/${name}.pretok`, "latin1");
      // The minified text is ASCII, so every byte over 0x7F in the copy is a token or raw string.
      assert.ok(!/[^\x00-\x7f]/.test(min));
      assert.equal(tok, pretokenise(min));
      assert.deepEqual(tokens(untokenise(tok)), tokens(min));
      assert.ok(tok.length < min.length * 0.95, `${tok.length} of ${min.length}`);
    });
  }
});
