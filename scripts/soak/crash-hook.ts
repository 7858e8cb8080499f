/**
 * Loaded into every soak agent process (NODE_OPTIONS=--import): SIGUSR2 makes the process throw,
 * from a timer, an Error with the message the soak left in <home>/soak-throw.txt: a real uncaught
 * exception in the real node program, caught by its own crash capture. Nothing else changes.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

process.on("SIGUSR2", () => {
  const message = readFileSync(path.join(process.env.BUHDI_NODE_HOME ?? ".", "soak-throw.txt"), "utf8");
  setTimeout(() => {
    throw new Error(message);
  }, 0);
});
