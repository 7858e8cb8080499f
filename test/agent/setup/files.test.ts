/** What setup writes for each system, parsed back: the task XML, the LaunchAgent, the systemd unit, the MSI source, and the code from a file name. */
import { describe, expect, it } from "vitest";
import { codeFromFileName } from "../../../agent/setup/code-from-file-name.ts";
import { installDir } from "../../../agent/setup/install-dir.ts";
import { launchdPlist } from "../../../agent/setup/launchd-plist.ts";
import { UPGRADE_CODE, wixSource } from "../../../agent/setup/msi.ts";
import { systemdUnit } from "../../../agent/setup/systemd-unit.ts";
import { taskXml, taskXmlBytes } from "../../../agent/setup/task-xml.ts";
import { find, parseXml, plistDict, textOf } from "../../support/xml.ts";

const EXE = "C:\\Users\\Nana & Co\\AppData\\Local\\Buhdi\\Buhdi.exe";

describe("the Windows logon task", () => {
  const xml = taskXml({ userId: "KITCHEN\\nana", executable: EXE, workingDirectory: "C:\\Users\\Nana & Co\\AppData\\Local\\Buhdi" });
  const task = parseXml(xml);

  it("starts Buhdi.exe run at this user's logon and every 5 minutes after, for this user only", () => {
    expect(textOf(task, "Triggers", "LogonTrigger", "UserId")).toBe("KITCHEN\\nana");
    expect(textOf(task, "Triggers", "LogonTrigger", "Repetition", "Interval")).toBe("PT5M");
    expect(textOf(task, "Principals", "Principal", "UserId")).toBe("KITCHEN\\nana");
    expect(textOf(task, "Principals", "Principal", "RunLevel")).toBe("LeastPrivilege");
    expect(textOf(task, "Actions", "Exec", "Command")).toBe(EXE);
    expect(textOf(task, "Actions", "Exec", "Arguments")).toBe("run");
  });

  it("also starts it when the computer resumes from sleep: the System log's Power-Troubleshooter event 1", () => {
    const trigger = find(task, "Triggers", "EventTrigger")!;
    expect(textOf(trigger, "Enabled")).toBe("true");
    // The subscription is an event query carried as text: parsed back in its own right.
    const query = parseXml(textOf(trigger, "Subscription")!);
    const select = find(query, "Query", "Select")!;
    expect(query.name).toBe("QueryList");
    expect(find(query, "Query")?.attributes.Path).toBe("System");
    expect(select.attributes.Path).toBe("System");
    expect(select.text).toBe("*[System[Provider[@Name='Microsoft-Windows-Power-Troubleshooter'] and EventID=1]]");
    // Per user: the event trigger names no other account; the task runs as its one principal.
    expect(find(trigger, "UserId")).toBeUndefined();
    expect(task.children.filter((c) => c.name === "Principals")[0]?.children).toHaveLength(1);
  });

  it("ignores a second start, runs on battery with no time limit, and is restarted when it fails", () => {
    expect(textOf(task, "Settings", "MultipleInstancesPolicy")).toBe("IgnoreNew");
    expect(textOf(task, "Settings", "DisallowStartIfOnBatteries")).toBe("false");
    expect(textOf(task, "Settings", "StopIfGoingOnBatteries")).toBe("false");
    expect(textOf(task, "Settings", "ExecutionTimeLimit")).toBe("PT0S");
    expect(find(task, "Settings", "RestartOnFailure", "Interval")?.text).toBe("PT1M");
  });

  it("is written as UTF-16LE with a byte-order mark and CRLF line ends, as schtasks reads it", () => {
    const bytes = taskXmlBytes(xml);
    expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xfe]);
    const text = bytes.subarray(2).toString("utf16le");
    expect(text.startsWith('<?xml version="1.0" encoding="UTF-16"?>\r\n')).toBe(true);
    expect(text).not.toMatch(/[^\r]\n/);
    expect(parseXml(text).name).toBe("Task");
  });
});

describe("the macOS LaunchAgent", () => {
  it("runs buhdi-node run at login and again whenever it exits, logging to the install folder", () => {
    const plist = plistDict(
      parseXml(
        launchdPlist({
          executable: "/Users/nana/Library/Application Support/Buhdi/buhdi-node",
          logFile: "/Users/nana/Library/Application Support/Buhdi/logs/buhdi.log",
        }),
      ),
    );
    expect(plist).toMatchObject({
      Label: "com.buhdi.node",
      ProgramArguments: ["/Users/nana/Library/Application Support/Buhdi/buhdi-node", "run"],
      RunAtLoad: true,
      KeepAlive: true,
      StandardErrorPath: "/Users/nana/Library/Application Support/Buhdi/logs/buhdi.log",
    });
  });
});

describe("the systemd user unit", () => {
  it("restarts the supervisor always, never gives up, and starts with the user's session", () => {
    const unit = systemdUnit("/home/nana/.local/share/buhdi/buhdi-node");
    expect(unit).toMatch(/^ExecStart=\/home\/nana\/\.local\/share\/buhdi\/buhdi-node run$/m);
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^RestartSec=5$/m);
    expect(unit).toMatch(/^StartLimitIntervalSec=0$/m);
    expect(unit).toMatch(/^WantedBy=default\.target$/m);
  });

  it("quotes an executable path with spaces", () => {
    expect(systemdUnit("/home/nana/my data/buhdi-node")).toMatch(/^ExecStart="\/home\/nana\/my data\/buhdi-node" run$/m);
  });
});

describe("the MSI source", () => {
  const wix = parseXml(wixSource({ version: "0.3.1", exe: "Buhdi.exe", server: "https://fleet.example" }));
  const product = find(wix, "Product")!;

  it("installs per user into %LOCALAPPDATA%\\Buhdi, with the Run value, and upgrades by a fixed upgrade code", () => {
    expect(product.attributes).toMatchObject({ Version: "0.3.1", UpgradeCode: UPGRADE_CODE });
    expect(find(product, "Package")?.attributes.InstallScope).toBe("perUser");
    expect(find(product, "MajorUpgrade")).toBeDefined();
    const folder = find(product, "Directory", "Directory", "Directory")!;
    expect(find(product, "Directory", "Directory")?.attributes.Id).toBe("LocalAppDataFolder");
    expect(folder.attributes.Name).toBe("Buhdi");
    const run = find(folder, "Component")!.children.find((c) => c.attributes.Name === "Buhdi" && c.name === "RegistryValue");
    expect(run?.attributes).toMatchObject({
      Root: "HKCU",
      Key: "Software\\Microsoft\\Windows\\CurrentVersion\\Run",
      Value: '"[INSTALLFOLDER]Buhdi.exe" run',
    });
  });

  it("runs setup deferred as the user with the code from CODE or the MSI's name, and uninstall only when removed for good", () => {
    const actions = product.children.filter((c) => c.name === "CustomAction");
    const setup = actions.find((a) => a.attributes.Id === "BuhdiSetup")!.attributes;
    expect(setup).toMatchObject({ FileKey: "BuhdiExe", Execute: "deferred", Impersonate: "yes" });
    expect(setup.ExeCommand).toBe('setup --server "[SERVER]" --msi "[OriginalDatabase]" --code "[CODE]"');
    const sequence = find(product, "InstallExecuteSequence")!.children;
    expect(sequence.find((c) => c.attributes.Action === "BuhdiUninstall")?.text).toBe('REMOVE="ALL" AND NOT UPGRADINGPRODUCTCODE');
    expect(sequence.find((c) => c.attributes.Action === "BuhdiSetup")?.text).toBe("NOT REMOVE");
    expect(find(product, "Property")?.attributes).toEqual({ Id: "SERVER", Value: "https://fleet.example" });
  });
});

describe("the code in the installer's file name", () => {
  it.each([
    ["C:\\Users\\nana\\Downloads\\Buhdi-Setup-K7Q4-MX2B-9D3F-RT8W.msi", "K7Q4-MX2B-9D3F-RT8W"],
    ["C:\\Users\\nana\\Downloads\\Buhdi-Setup-K7Q4-MX2B-9D3F-RT8W (1).msi", "K7Q4-MX2B-9D3F-RT8W"],
    ["buhdi-setup-k7q4-mx2b-9d3f-rt8w.msi", "K7Q4-MX2B-9D3F-RT8W"],
    ["/home/nana/Downloads/buhdi-setup-K7Q4-MX2B-9D3F-RT8W", "K7Q4-MX2B-9D3F-RT8W"],
  ])("reads %s as %s", (file, code) => {
    expect(codeFromFileName(file)).toBe(code);
  });

  it.each(["Buhdi-Setup.msi", "Buhdi-Setup-K7Q4-MX2B.msi", "Buhdi-Setup-OOOO-IIII-LLLL-UUUU.msi"])("finds no code in %s", (file) => {
    expect(codeFromFileName(file)).toBeNull();
  });
});

describe("the install folder", () => {
  it("is per user on every system, and movable for tests", () => {
    expect(installDir({ LOCALAPPDATA: "C:\\Users\\nana\\AppData\\Local" }, "win32")).toBe("C:\\Users\\nana\\AppData\\Local\\Buhdi");
    expect(installDir({ XDG_DATA_HOME: "/home/nana/.data" }, "linux")).toBe("/home/nana/.data/buhdi");
    expect(installDir({}, "darwin")).toMatch(/Library\/Application Support\/Buhdi$/);
    expect(installDir({ BUHDI_INSTALL_DIR: "/tmp/x" }, "linux")).toBe("/tmp/x");
  });
});
