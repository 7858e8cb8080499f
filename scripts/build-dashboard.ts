/**
 * Builds the dashboard's static files into dashboard/dist/assets/ (git-ignored), which the Worker
 * serves as static assets ([assets] in wrangler.toml): app.js from dashboard/client/app.ts
 * (esbuild, minified, no dependencies), style.css and favicon.svg. The pages themselves are rendered by the
 * Worker. Run by npm start, npm test and npm run deploy.
 */
import { copyFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { build } from "esbuild";
import { REPO_ROOT } from "./local-edge.ts";

export const DASHBOARD_DIST = path.join(REPO_ROOT, "dashboard", "dist");

export async function buildDashboard(): Promise<void> {
  const assets = path.join(DASHBOARD_DIST, "assets");
  await mkdir(assets, { recursive: true });
  await build({
    entryPoints: [path.join(REPO_ROOT, "dashboard", "client", "app.ts")],
    outfile: path.join(assets, "app.js"),
    bundle: true,
    minify: true,
    format: "iife",
    target: "es2022",
    logLevel: "warning",
  });
  for (const file of ["style.css", "favicon.svg"])
    await copyFile(path.join(REPO_ROOT, "dashboard", "client", file), path.join(assets, file));
}

if (import.meta.url === `file://${process.argv[1]}`) await buildDashboard();
