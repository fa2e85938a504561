// Validate an AsyncAPI document with the AsyncAPI Initiative's parser (independent of the
// Python side that generated it). Usage: node validate.mjs <document.json|yaml>
// Prints one JSON object: {"valid": bool, "version": "...", "errors": [...], "warnings": n}.
// Exit status 0 when the parser reports no diagnostic of severity 0 (error), else 1.
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";

const path = process.argv[2];
if (!path) {
  console.error("usage: node validate.mjs <asyncapi document>");
  process.exit(2);
}
const text = await readFile(path, "utf8");
const { document, diagnostics } = await new Parser().parse(text);
const errors = diagnostics
  .filter((d) => d.severity === 0)
  .map((d) => ({ code: d.code, message: d.message, path: d.path.join("/") }));
const result = {
  valid: errors.length === 0 && document !== undefined,
  version: document?.version() ?? null,
  channels: document ? document.channels().length : 0,
  messages: document ? document.components().messages().length : 0,
  errors,
  warnings: diagnostics.filter((d) => d.severity === 1).length,
};
console.log(JSON.stringify(result));
process.exit(result.valid ? 0 : 1);
