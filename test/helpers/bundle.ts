// Behaviour tests drive the built bundle, exactly what ships to the board.
import { resolve } from "path";

export interface NotecardDFUModule {
  setup(options: any): any;
  VERSION: string;
}

export function loadBundle(): NotecardDFUModule {
  return require(resolve(__dirname, "../../dist/NotecardDFU.js"));
}
