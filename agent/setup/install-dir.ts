/**
 * Where an installed Buhdi lives, per system, for the user alone (no administrator):
 *  - Windows: %LOCALAPPDATA%\Buhdi (Buhdi.exe, placed there by the MSI)
 *  - macOS:   ~/Library/Application Support/Buhdi (the official node binary and the launcher)
 *  - Linux:   $XDG_DATA_HOME/buhdi, by default ~/.local/share/buhdi (the single executable)
 * The node's home (config, key, crash.log, versions) is `home/` inside it, so removing the
 * folder removes everything. BUHDI_INSTALL_DIR moves it (tests). No imports beyond Node's own:
 * the launcher uses this too.
 */
import os from "node:os";
import path from "node:path";

export function installDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const override = env.BUHDI_INSTALL_DIR?.trim();
  if (override) return path.resolve(override);
  if (platform === "win32") {
    return path.win32.join(env.LOCALAPPDATA?.trim() || path.win32.join(os.homedir(), "AppData", "Local"), "Buhdi");
  }
  if (platform === "darwin") return path.join(os.homedir(), "Library", "Application Support", "Buhdi");
  return path.join(env.XDG_DATA_HOME?.trim() || path.join(os.homedir(), ".local", "share"), "buhdi");
}

/** The executable's name inside the install folder. */
export function executableName(platform: NodeJS.Platform = process.platform): string {
  return platform === "win32" ? "Buhdi.exe" : "buhdi-node";
}

export function nodeHomeIn(dir: string): string {
  return path.join(dir, "home");
}

export function logDirIn(dir: string): string {
  return path.join(dir, "logs");
}

/** The supervisor's pid, so a second `run` (logon task and Run value both firing) steps aside. */
export function supervisorPidFile(dir: string): string {
  return path.join(nodeHomeIn(dir), "supervisor.pid");
}
