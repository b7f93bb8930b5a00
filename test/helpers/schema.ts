// Validates requests and responses against Blues' Notecard JSON Schemas (../shared/notecard-schema).
// The transport-level "crc" field is stripped first, as that folder's README asks.
import Ajv2020 from "ajv/dist/2020";
import { existsSync, readFileSync } from "fs";
import { join, resolve } from "path";

const DIR = resolve(__dirname, "../../../shared/notecard-schema");
const ajv = new Ajv2020({ strict: false, allErrors: true });
const cache: { [file: string]: any } = {};

export function schemaDir(): string | undefined {
  return existsSync(DIR) ? DIR : undefined;
}

function validator(file: string) {
  if (!(file in cache)) {
    const path = join(DIR, file);
    cache[file] = existsSync(path) ? ajv.compile(JSON.parse(readFileSync(path, "utf8"))) : null;
  }
  return cache[file];
}

/** Returns a list of problems; empty when both sides validate. Card error responses have no schema. */
export function validateExchange(req: any, rsp: any): string[] {
  const name = req.req || req.cmd;
  const problems: string[] = [];
  const strip = (o: any) => { const c = Object.assign({}, o); delete c.crc; return c; };
  const vreq = validator(`${name}.req.notecard.api.json`);
  if (!vreq) problems.push(`no request schema for ${name}`);
  else if (!vreq(strip(req))) problems.push(`${name} request: ${ajv.errorsText(vreq.errors)} in ${JSON.stringify(req)}`);
  if (rsp && req.req && !rsp.err) {
    const vrsp = validator(`${name}.rsp.notecard.api.json`);
    if (!vrsp) problems.push(`no response schema for ${name}`);
    else if (!vrsp(strip(rsp))) problems.push(`${name} response: ${ajv.errorsText(vrsp.errors)} in ${JSON.stringify(rsp).slice(0, 200)}`);
  }
  return problems;
}
