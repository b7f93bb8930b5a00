// Espruino compatibility gate: proves a bundle can run on the Espruino interpreter, which has no
// hoisting, no ES2015 built-ins and no methods on built-in prototypes. Run by `npm test` on both
// dist files; each rule has a bad sample in test/gate.test.ts.
import * as acorn from "acorn";

/**
 * Size budgets of the shipped files, in bytes: the one place they are kept.
 * - The runtime's target is 12 KB (RUNTIME_TARGET_BYTES; npm run bench reports the size against
 *   it). With the boot state in the slots' trailers the record files, the room planning, the
 *   file slots and the Storage-only build are gone; the runtime measures 17,378 B minified, and
 *   the budget holds that with a little room and catches growth until it is cut to the target.
 *   What keeps it above the target is mostly the update path every user runs: the loop, the
 *   Notecard link (framing and resync, the crc-checked client with the payload decoded in place),
 *   the trailers and the writer; npm run bench gives their bytes by source file, and
 *   docs/performance.md ("What 12 KB would take") what deleting each feature saved.
 * - The install module is erased after provisioning; the selector lives in .boot0 on every board.
 */
export const BUDGETS: { [file: string]: number } = {
  "NotecardDFU.min.js": 17408,
  "NotecardDFUInstall.min.js": 12288,
  "NotecardDFUMD5.min.js": 1536,
  "selector.min.js": 1408
};
export const RUNTIME_TARGET_BYTES = 12288;

export interface Violation {
  rule: string;
  message: string;
  line?: number;
}

const FORBIDDEN_GLOBALS = ["Map", "Set", "WeakMap", "WeakSet", "Symbol", "Proxy", "Reflect", "Promise", "Buffer", "process", "BigInt"];
const FORBIDDEN_MEMBERS: { [obj: string]: string[] } = {
  Array: ["from", "of"],
  Number: ["isInteger", "isFinite", "isNaN", "parseInt", "parseFloat", "EPSILON", "MAX_SAFE_INTEGER"],
  Math: ["imul", "clz32", "trunc", "log2", "hypot"],
  Object: ["freeze", "seal"],
  Promise: ["race", "allSettled"]
};
const BUILTINS = ["Array", "Function", "String", "Number", "Object", "Uint8Array", "Uint16Array", "Uint32Array", "Int8Array", "Int16Array", "Int32Array", "Float32Array", "Float64Array", "ArrayBuffer", "DataView", "RegExp", "Date", "Error", "Boolean"];
const TS_HELPERS = ["__awaiter", "__generator", "__spreadArray", "__spread", "__spreadArrays", "__read", "__values", "__asyncGenerator", "__asyncValues", "__await", "__asyncDelegator", "__extends"];

type Node = acorn.Node & { [key: string]: any };

function children(node: Node): Node[] {
  const out: Node[] = [];
  for (const key of Object.keys(node)) {
    if (key === "type" || key === "start" || key === "end" || key === "loc") continue;
    const v = node[key];
    if (Array.isArray(v)) { for (const c of v) if (c && typeof c.type === "string") out.push(c); }
    else if (v && typeof v.type === "string") out.push(v);
  }
  return out;
}

function isFunction(n: Node): boolean {
  return n.type === "FunctionDeclaration" || n.type === "FunctionExpression";
}

/** Is this Identifier node a variable reference (not a property name or a declaration)? */
function isReference(n: Node, parent: Node | null): boolean {
  if (!parent) return true;
  if (parent.type === "MemberExpression" && parent.property === n && !parent.computed) return false;
  if (parent.type === "Property" && parent.key === n && !parent.computed) return false;
  if ((parent.type === "FunctionDeclaration" || parent.type === "FunctionExpression") && parent.id === n) return false;
  if (parent.type === "LabeledStatement" || parent.type === "BreakStatement" || parent.type === "ContinueStatement") return false;
  return true;
}

/** Names a function body (or the program) declares: its `function` declarations and `var`s. */
function declaredIn(body: Node[]): Set<string> {
  const names = new Set<string>();
  const visit = (n: Node) => {
    if (n.type === "FunctionDeclaration") { names.add(n.id.name); return; }
    if (n.type === "FunctionExpression") return;
    if (n.type === "VariableDeclarator") names.add(n.id.name);
    for (const c of children(n)) visit(c);
  };
  for (const s of body) visit(s);
  return names;
}

function lineOf(src: string, pos: number): number {
  return src.slice(0, pos).split("\n").length;
}

/** The immediately invoked function of a call, if any: (function(){})() or (function(){}).call(x). */
function invokedFunction(n: Node): Node | null {
  if (n.type !== "CallExpression" && n.type !== "NewExpression") return null;
  const c = n.callee;
  if (c.type === "FunctionExpression") return c;
  if (c.type === "MemberExpression" && c.object.type === "FunctionExpression" && !c.computed &&
      (c.property.name === "call" || c.property.name === "apply")) return c.object;
  return null;
}

/**
 * Checks one scope for use-before-declaration: statements run in order, and Espruino binds a
 * function or var name only when its declaration statement executes. Code inside nested functions
 * runs later, except immediately invoked ones and calls to functions already declared here, whose
 * bodies are followed.
 */
function checkScope(src: string, body: Node[], params: string[], out: Violation[]) {
  const own = declaredIn(body);
  for (const p of params) own.delete(p);
  const live = new Set<string>(params);
  const fnBodies = new Map<string, Node>();
  const reported = new Set<string>();

  const immediateRefs = (n: Node, parent: Node | null, shadow: Set<string>, following: Set<Node>) => {
    if (n.type === "Identifier") {
      if (isReference(n, parent) && own.has(n.name) && !shadow.has(n.name)) {
        if (!live.has(n.name) && !reported.has(n.name)) {
          reported.add(n.name);
          out.push({ rule: "use-before-declaration", message: `"${n.name}" is used before its declaration executes (Espruino has no hoisting)`, line: lineOf(src, n.start) });
        } else if (fnBodies.has(n.name) && parent && parent.type === "CallExpression" && parent.callee === n) {
          const f = fnBodies.get(n.name)!;
          if (!following.has(f)) {
            following.add(f);
            const inner = new Set(shadow);
            for (const p of f.params) inner.add(p.name);
            for (const d of declaredIn(f.body.body)) inner.add(d);
            immediateRefs(f.body, f, inner, following);
          }
        }
      }
      return;
    }
    if (isFunction(n)) return; // runs later (IIFEs are entered from their call below)
    if (n.type === "VariableDeclarator") {
      // `var x = ...`: x is bound once this declarator runs; its initializer sees it unbound.
      if (n.init) immediateRefs(n.init, n, shadow, following);
      return;
    }
    const iife = invokedFunction(n);
    if (iife) {
      const inner = new Set(shadow);
      for (const p of iife.params) inner.add(p.name);
      for (const d of declaredIn(iife.body.body)) inner.add(d);
      immediateRefs(iife.body, iife, inner, following);
      for (const a of n.arguments) immediateRefs(a, n, shadow, following);
      if (n.callee.type === "MemberExpression") return;
      return;
    }
    for (const c of children(n)) immediateRefs(c, n, shadow, following);
  };

  const bindDeclarations = (n: Node) => {
    if (n.type === "VariableDeclarator") live.add(n.id.name);
    if (isFunction(n)) return;
    for (const c of children(n)) bindDeclarations(c);
  };

  for (const stmt of body) {
    if (stmt.type === "FunctionDeclaration") {
      live.add(stmt.id.name);
      fnBodies.set(stmt.id.name, stmt);
      continue;
    }
    // Bind vars declarator by declarator so `var a = 1, b = a;` is fine.
    const walk = (n: Node, parent: Node | null) => {
      if (n.type === "VariableDeclaration") {
        for (const d of n.declarations) {
          if (d.init) immediateRefs(d.init, d, new Set(), new Set());
          live.add(d.id.name);
        }
        return;
      }
      if (n.type === "ForStatement" || n.type === "ForInStatement" || n.type === "BlockStatement" || n.type === "IfStatement" || n.type === "TryStatement" || n.type === "WhileStatement" || n.type === "DoWhileStatement" || n.type === "SwitchStatement" || n.type === "SwitchCase" || n.type === "CatchClause") {
        for (const c of children(n)) walk(c, n);
        return;
      }
      immediateRefs(n, parent, new Set(), new Set());
      bindDeclarations(n);
    };
    walk(stmt, null);
  }
}

function checkAllScopes(src: string, node: Node, out: Violation[]) {
  if (node.type === "Program") checkScope(src, node.body, [], out);
  if (isFunction(node)) checkScope(src, node.body.body, node.params.map((p: Node) => p.name), out);
  for (const c of children(node)) checkAllScopes(src, c, out);
}

function checkConstructs(src: string, node: Node, parent: Node | null, out: Violation[]) {
  if (node.type === "Literal" && node.regex) {
    const problem = regexProblem(node.regex.pattern);
    if (problem) out.push({ rule: "regex", message: `/${node.regex.pattern}/ uses ${problem}, which Espruino's regular expressions lack`, line: lineOf(src, node.start) });
  }
  if (node.type === "LabeledStatement") {
    out.push({ rule: "label", message: `label "${node.label.name}" (Espruino has no labels)`, line: lineOf(src, node.start) });
  }
  if (node.type === "Identifier" && isReference(node, parent)) {
    // Espruino's process has memory() (and little else a module may rely on).
    const memory = node.name === "process" && parent && parent.type === "MemberExpression" && parent.object === node && parent.property.name === "memory";
    if (FORBIDDEN_GLOBALS.indexOf(node.name) >= 0 && !memory) {
      out.push({ rule: "forbidden-global", message: `${node.name} does not exist on Espruino`, line: lineOf(src, node.start) });
    }
    if (TS_HELPERS.indexOf(node.name) >= 0) {
      out.push({ rule: "ts-helper", message: `TypeScript helper ${node.name} breaks on Espruino`, line: lineOf(src, node.start) });
    }
  }
  if ((node.type === "FunctionDeclaration" || node.type === "VariableDeclarator") && node.id && TS_HELPERS.indexOf(node.id.name) >= 0) {
    out.push({ rule: "ts-helper", message: `TypeScript helper ${node.id.name} breaks on Espruino`, line: lineOf(src, node.start) });
  }
  if (node.type === "MemberExpression" && !node.computed && node.object.type === "Identifier") {
    const members = FORBIDDEN_MEMBERS[node.object.name];
    if (members && members.indexOf(node.property.name) >= 0) {
      out.push({ rule: "forbidden-member", message: `${node.object.name}.${node.property.name} does not exist on Espruino`, line: lineOf(src, node.start) });
    }
    if (BUILTINS.indexOf(node.object.name) >= 0 && node.property.name === "prototype" && parent &&
        parent.type === "MemberExpression" && parent.object === node) {
      const m = parent.computed ? "[…]" : parent.property.name;
      out.push({ rule: "builtin-prototype", message: `${node.object.name}.prototype.${m}: built-in methods are not on Espruino prototypes`, line: lineOf(src, node.start) });
    }
  }
  for (const c of children(node)) checkConstructs(src, c, node, out);
}

/**
 * What Espruino's regular expressions cannot do (2v29, checked on the interpreter, where such a
 * pattern silently never matches): the `?` quantifier (so also `(?:`, look-arounds and lazy
 * quantifiers), `{n,m}` quantifiers, and quantified groups.
 */
export function regexProblem(pattern: string): string {
  let inClass = false, prev = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === "\\") { i++; prev = "\\x"; continue; }
    if (inClass) { if (ch === "]") inClass = false; prev = "]"; continue; }
    if (ch === "[") { inClass = true; continue; }
    if (ch === "?") return "the ? quantifier (or a (?…) group)";
    if (ch === "{" && /[0-9]/.test(pattern[i + 1] ?? "")) return "a {n,m} quantifier";
    if ((ch === "*" || ch === "+") && prev === ")") return "a quantified group";
    prev = ch;
  }
  return "";
}

/** All violations of the Espruino rules in `src`; an empty list means the bundle passes. */
export function checkSource(src: string): Violation[] {
  let ast: Node;
  try {
    ast = acorn.parse(src, { ecmaVersion: 5, sourceType: "script", allowReturnOutsideFunction: true }) as Node;
  } catch (e) {
    return [{ rule: "es5-syntax", message: `not ECMAScript 5: ${(e as Error).message}` }];
  }
  const out: Violation[] = [];
  checkConstructs(src, ast, null, out);
  checkAllScopes(src, ast, out);
  return out;
}

/** Size check of a minified file against its budget in BUDGETS. */
export function checkSize(file: string, bytes: number): Violation[] {
  const budget = BUDGETS[file];
  if (budget === undefined) return [{ rule: "size-budget", message: `${file} has no budget` }];
  return bytes > budget ? [{ rule: "size-budget", message: `${file} is ${bytes} bytes, over its budget of ${budget}` }] : [];
}
