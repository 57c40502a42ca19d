// Fails when src/api/schema.d.ts is not what openapi-typescript makes of ../openapi.json today
// (the API changed and `npm run generate` was not run), as tests/api fails for openapi.json.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "writers-schema-"));
try {
  const fresh = join(dir, "schema.d.ts");
  execFileSync("node_modules/.bin/openapi-typescript", ["../openapi.json", "--output", fresh], { stdio: "ignore" });
  if (readFileSync(fresh, "utf8") !== readFileSync("src/api/schema.d.ts", "utf8")) {
    console.error("web: src/api/schema.d.ts is stale against openapi.json; run `npm run generate` in web/ and commit it");
    process.exit(1);
  }
  console.log("web: src/api/schema.d.ts matches openapi.json");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
