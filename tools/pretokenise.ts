// Pretokenised copies of the minified modules (dist/<name>.pretok), the form Espruino's Web IDE
// stores when its "Pretokenise code before upload" option is on: reserved words and multi-character
// operators become one byte each (Espruino's lexer token numbers, jslex.h), string literals become
// length-prefixed raw bytes. Espruino 2v21 or later reads them from Storage as it reads text; they
// take about 12 % less Storage.
// Numbers stay text: raw integers need 2v26 and save nothing in minified code.
import { tokenizer } from "acorn";
import { readFileSync, writeFileSync } from "fs";
import { join } from "path";

/** jslex.h from LEX_EQUAL (138) on: operators, then reserved words. */
const TOKENS = ["==", "===", "!=", "!==", "<=", "<<", "<<=", ">=", ">>", ">>>", ">>=", ">>>=", "+=", "-=", "++", "--",
  "*=", "/=", "%=", "&=", "&&", "|=", "||", "^=", "=>",
  "if", "else", "do", "while", "for", "break", "continue", "function", "return", "var", "let", "const", "this",
  "throw", "try", "catch", "finally", "true", "false", "null", "undefined", "new", "in", "instanceof", "switch",
  "case", "default", "delete", "typeof", "void", "debugger", "class", "extends", "super", "static", "of"];
const FIRST = 138, RAW_STRING8 = 0xd1, RAW_STRING16 = 0xd2;

/** The pretokenised form of ES5 source, as a byte string (one char per byte). */
export function pretokenise(code: string): string {
  var out = "", end = 0, lastText = false;
  for (const t of tokenizer(code, { ecmaVersion: 5 })) {
    const text = code.substring(t.start, t.end), id = TOKENS.indexOf(text), gap = t.start > end;
    end = t.end;
    // "catch" stays text (Espruino issue #1868); so do names that are not ES5 reserved words
    // (undefined, of, let: acorn labels them "name", keywords carry their own label).
    if (id >= 0 && text !== "catch" && t.type.label !== "name") {
      out += String.fromCharCode(FIRST + id);
      lastText = false;
    } else if (t.type.label === "string" && (t as any).value.length > 0 && !/[^\x00-\xff]/.test((t as any).value)) {
      const v: string = (t as any).value;
      out += (v.length < 256 ? String.fromCharCode(RAW_STRING8, v.length) : String.fromCharCode(RAW_STRING16, v.length & 255, v.length >> 8)) + v;
      lastText = false;
    } else {
      // Whitespace between two text tokens is kept (as one space): it separates names and
      // numbers, and operators such as "a- -b" that would otherwise merge.
      if (gap && lastText) out += " ";
      out += text;
      lastText = true;
    }
  }
  return out;
}

/** Back to source text (tests compare its tokens with the original's). */
export function untokenise(bytes: string): string {
  var out = "";
  for (var i = 0; i < bytes.length; i++) {
    const c = bytes.charCodeAt(i);
    if (c === RAW_STRING8 || c === RAW_STRING16) {
      const n = c === RAW_STRING8 ? bytes.charCodeAt(i + 1) : bytes.charCodeAt(i + 1) | bytes.charCodeAt(i + 2) << 8;
      i += c === RAW_STRING8 ? 2 : 3;
      out += " " + JSON.stringify(bytes.substr(i, n)) + " ";
      i += n - 1;
    } else if (c >= FIRST && c < FIRST + TOKENS.length) out += " " + TOKENS[c - FIRST] + " ";
    else out += bytes[i];
  }
  return out;
}

export const PRETOKENISED = ["NotecardDFU", "NotecardDFUInstall", "NotecardDFUMD5"];

if (require.main === module) {
  const dist = join(__dirname, "..", "..");
  for (const m of PRETOKENISED) {
    writeFileSync(join(dist, m + ".pretok"), Buffer.from(pretokenise(readFileSync(join(dist, m + ".min.js"), "latin1")), "latin1"));
  }
}
