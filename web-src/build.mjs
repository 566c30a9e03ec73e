// Bundles entry.js into ../src/draftsmith/web/vendor/codemirror.js: one minified ES module, no imports left,
// with a header naming every bundled package and its version, and vendor/LICENSES.txt with their licences.
// Run `npm ci && npm run build` here; the output is committed, so neither CI nor a user ever runs npm.

import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, "..", "src", "draftsmith", "web", "vendor");
const outfile = join(vendor, "codemirror.js");

/** The package a bundled file belongs to: "node_modules/@scope/name/..." -> "@scope/name". */
function packageOf(path) {
  const parts = path.split("node_modules/").pop().split("/");
  return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
}

const result = await esbuild.build({
  entryPoints: [join(here, "entry.js")],
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2020",
  legalComments: "none", // the licences go to LICENSES.txt
  metafile: true,
  write: false,
  logLevel: "warning",
});

// The packages with code in the output (after tree shaking), not every file esbuild read.
const [output] = Object.values(result.metafile.outputs);
const bundled = Object.entries(output.inputs).filter(([path, input]) => input.bytesInOutput > 0 && path.includes("node_modules/"));
const packages = [...new Set(bundled.map(([path]) => packageOf(path)))].sort();
const meta = packages.map((name) => {
  const dir = join(here, "node_modules", name);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  return { name, version: pkg.version, license: pkg.license, text: readFileSync(join(dir, "LICENSE"), "utf8").trim() };
});

const header =
  "/* CodeMirror 6 for the draftsmith editor, built by web-src/ (npm ci && npm run build) with esbuild " +
  `${esbuild.version}. Bundled packages (licences in LICENSES.txt):\n` +
  meta.map((m) => ` * ${m.name}@${m.version} (${m.license})\n`).join("") +
  " */\n";
mkdirSync(vendor, { recursive: true });
writeFileSync(outfile, header + result.outputFiles[0].text);
writeFileSync(
  join(vendor, "LICENSES.txt"),
  "Licences of the packages bundled into codemirror.js (from their npm packages).\n\n" +
    meta.map((m) => `${"=".repeat(78)}\n${m.name}@${m.version} (${m.license})\n${"=".repeat(78)}\n\n${m.text}\n`).join("\n"),
);
console.log(`${outfile}: ${(header.length + result.outputFiles[0].contents.length) / 1024 | 0} KiB, ${meta.length} packages`);
