// Writes src/schema.ts (or the file named as the first argument) from confab's
// committed OpenAPI document, with openapi-typescript.
//
// `emptyObjectsUnknown`: a schema that is just `"type": "object"` (a chat's `metadata`,
// any JSON object) becomes `Record<string, unknown>`, not the default
// `Record<string, never>`, which would accept no metadata at all. That option is why
// this is a script rather than the plain CLI.
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString, COMMENT_HEADER } from "openapi-typescript";

const here = (relative) => fileURLToPath(new URL(relative, import.meta.url));
const DOCUMENT = here("../../../crates/confab/tests/api/snapshots/openapi.json");

const document = JSON.parse(await readFile(DOCUMENT, "utf8"));
const output = process.argv[2] ?? here("../src/schema.ts");
await writeFile(output, COMMENT_HEADER + astToString(await openapiTS(document, { emptyObjectsUnknown: true, silent: true })));
console.log(`wrote ${output}`);
