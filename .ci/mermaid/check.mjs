// Parse every ```mermaid block of the Markdown files named on the command line with
// Mermaid 11 (in jsdom: Mermaid expects a browser). One line per diagram that fails;
// exit 1 if any does. Used by .ci/run and, through MERMAID_CHECK, by the tests.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const { window } = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import("mermaid");

let diagrams = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, "utf8");
  for (const [, diagram] of text.matchAll(/^ *```mermaid\n([\s\S]*?)^ *```$/gm)) {
    diagrams += 1;
    try {
      await mermaid.parse(diagram);
    } catch (error) {
      failed += 1;
      console.log(`${file}: ${error.message.split("\n").join(" ")}`);
    }
  }
}
console.log(`${diagrams} Mermaid diagrams, ${failed} failed`);
process.exit(failed || !diagrams ? 1 : 0);
