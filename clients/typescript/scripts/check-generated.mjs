// `npm run check`: fails when a generated file in the repository is stale.
//
// Regenerates the schema types from the committed OpenAPI document and builds the web
// app's copy of the client from them, both in a temporary directory, then compares:
//   src/schema.ts                           with the fresh schema types;
//   crates/confab/web/client/*.js           with the fresh build (same files, same bytes).
// Exit 1 with the stale files named; fix with `npm run generate && npm run build`.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const repository = join(root, "../..");
const webClient = join(repository, "crates/confab/web/client");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const temporary = mkdtempSync(join(tmpdir(), "confab-client-check-"));

const run = (command, args) => execFileSync(command, args, { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
const read = (file) => (existsSync(file) ? readFileSync(file, "utf8") : null);
const jsFiles = (directory) => (existsSync(directory) ? readdirSync(directory).filter((name) => name.endsWith(".js")) : []);

try {
  const stale = [];

  const freshSchema = join(temporary, "schema.ts");
  run(process.execPath, [join(root, "scripts/generate-schema.mjs"), freshSchema]);
  const schema = join(root, "src/schema.ts");
  if (read(schema) !== read(freshSchema)) stale.push(`${relative(repository, schema)} differs from the OpenAPI document's types`);

  // Build the current sources, with the fresh schema, the way `npm run build` builds the web copy.
  const sources = join(temporary, "src");
  cpSync(join(root, "src"), sources, { recursive: true });
  cpSync(freshSchema, join(sources, "schema.ts"));
  const built = join(temporary, "web");
  const config = join(temporary, "tsconfig.json");
  writeFileSync(config, JSON.stringify({
    extends: join(root, "tsconfig.web.json"),
    compilerOptions: { rootDir: sources, outDir: built },
    include: [sources],
  }));
  run(process.execPath, [tsc, "-p", config]);

  for (const name of new Set([...jsFiles(built), ...jsFiles(webClient)])) {
    const committed = join(webClient, name);
    const fresh = read(join(built, name));
    if (fresh === null) stale.push(`${relative(repository, committed)} is no longer built: remove it`);
    else if (read(committed) === null) stale.push(`${relative(repository, committed)} is missing`);
    else if (read(committed) !== fresh) stale.push(`${relative(repository, committed)} differs from the build of src/`);
  }

  if (stale.length > 0) {
    console.error("Stale generated files (run `npm run generate && npm run build` in clients/typescript):");
    for (const line of stale) console.error(`  ${line}`);
    process.exitCode = 1;
  } else {
    console.log("src/schema.ts and crates/confab/web/client/*.js are up to date");
  }
} finally {
  rmSync(temporary, { recursive: true, force: true });
}
