/**
 * The Windows installer's WiX source, for wixl (Debian's msitools; a subset of WiX 3).
 *
 * Per-user (InstallScope="perUser"): no administrator, no UAC prompt. It puts Buhdi.exe in
 * %LOCALAPPDATA%\Buhdi, sets the HKCU Run value (`Buhdi.exe run` at logon), and runs
 * `Buhdi.exe setup` as a deferred custom action impersonating the user: setup enrolls with the
 * code from CODE=… on the msiexec command line or else from the MSI's own file name
 * ([OriginalDatabase], e.g. `…\Buhdi-Setup-K7Q4-MX2B-9D3F-RT8W (1).msi`), registers the logon task
 * and starts the supervisor. Uninstalling runs `Buhdi.exe uninstall` before the files go (retire
 * the node, remove the task and the Run value, the home and the logs); a major upgrade does not,
 * and the new version's setup finds the enrollment in place and keeps it.
 *
 * wixl does not support Property/@Secure, ComponentGroup outside a Fragment, or the WixUI
 * dialogs: the MSI has the basic progress UI only.
 */
import { xml } from "./launchd-plist.ts";

/** Never changes: MajorUpgrade finds earlier versions by it. */
export const UPGRADE_CODE = "{6B0F3C52-5E2A-4C1B-9A77-2F0D8E4B1C93}";
const COMPONENT_GUID = "{A3E1D7C4-2B6F-4F08-9C5D-7E1A0B3F6D21}";

export function msiVersion(version: string): string {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!match) throw new Error(`${version} is not a version an MSI can carry`);
  return `${match[1]}.${match[2]}.${match[3]}`;
}

/**
 * `server` is the edge the installer enrolls with; empty: SERVER=… must be given to msiexec
 * (an MSI property cannot hold an empty value).
 */
export function wixSource(options: { version: string; exe: string; server: string }): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="Buhdi" Language="1033" Version="${msiVersion(options.version)}" Manufacturer="Buhdi" UpgradeCode="${UPGRADE_CODE}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perUser" Description="Buhdi ${xml(options.version)}" Comments="Keeps this computer connected to Buhdi." />
    <MajorUpgrade DowngradeErrorMessage="A newer version of Buhdi is already installed." />
    <Media Id="1" Cabinet="buhdi.cab" EmbedCab="yes" />
${
  options.server
    ? `    <Property Id="SERVER" Value="${xml(options.server)}" />
`
    : ""
}    <Property Id="ARPNOMODIFY" Value="1" />
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="LocalAppDataFolder">
        <Directory Id="INSTALLFOLDER" Name="Buhdi">
          <Component Id="BuhdiExe" Guid="${COMPONENT_GUID}">
            <File Id="BuhdiExe" Name="Buhdi.exe" Source="${xml(options.exe)}" />
            <RegistryValue Root="HKCU" Key="Software\\Buhdi" Name="Installed" Type="integer" Value="1" KeyPath="yes" />
            <RegistryValue Root="HKCU" Key="Software\\Microsoft\\Windows\\CurrentVersion\\Run" Name="Buhdi" Type="string" Value="&quot;[INSTALLFOLDER]Buhdi.exe&quot; run" />
            <RemoveFolder Id="RemoveInstallFolder" On="uninstall" />
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Main" Level="1">
      <ComponentRef Id="BuhdiExe" />
    </Feature>
    <CustomAction Id="BuhdiSetup" FileKey="BuhdiExe" ExeCommand="setup --server &quot;[SERVER]&quot; --msi &quot;[OriginalDatabase]&quot; --code &quot;[CODE]&quot;" Execute="deferred" Impersonate="yes" Return="check" />
    <CustomAction Id="BuhdiUninstall" FileKey="BuhdiExe" ExeCommand="uninstall" Execute="deferred" Impersonate="yes" Return="ignore" />
    <!-- Explicit sequence numbers: wixl places Before/After actions wrongly. RemoveFiles is 3500,
         PublishProduct 6400, InstallFinalize 6600; deferred actions must sit between
         InstallInitialize (1500) and InstallFinalize. -->
    <InstallExecuteSequence>
      <Custom Action="BuhdiUninstall" Sequence="3400">REMOVE="ALL" AND NOT UPGRADINGPRODUCTCODE</Custom>
      <Custom Action="BuhdiSetup" Sequence="6500">NOT REMOVE</Custom>
    </InstallExecuteSequence>
  </Product>
</Wix>
`;
}
