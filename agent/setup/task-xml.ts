/**
 * The Windows Task Scheduler task that keeps the supervisor running: started at this user's
 * logon and every 5 minutes after (a second start while one runs is ignored, so the repetition
 * only matters when the supervisor died), and when the computer resumes from sleep (System log,
 * Microsoft-Windows-Power-Troubleshooter, event 1: usually the process simply resumes and the
 * start is ignored, but one that died asleep is back at once, not up to 5 minutes later), on
 * battery too, with no time limit, and restarted by the scheduler when it fails. A
 * non-administrator may register a logon trigger only for themselves, so the trigger and the
 * principal both name the installing user; an event trigger names no user and runs as the
 * principal (while they are logged on: InteractiveToken).
 *
 * schtasks /Create /XML expects UTF-16 (little-endian, with a byte-order mark): taskXmlBytes.
 */
import { xml } from "./launchd-plist.ts";

export const TASK_NAME = "Buhdi";

/** The event query of the resume trigger: "the system has resumed from sleep". */
export const RESUME_EVENT_QUERY = `<QueryList><Query Id="0" Path="System"><Select Path="System">*[System[Provider[@Name='Microsoft-Windows-Power-Troubleshooter'] and EventID=1]]</Select></Query></QueryList>`;

export function taskXml(options: { userId: string; executable: string; workingDirectory: string }): string {
  const user = xml(options.userId);
  return `<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>Keeps Buhdi running: it tells the cloud when something goes wrong on this computer.</Description>
    <URI>\\${TASK_NAME}</URI>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <UserId>${user}</UserId>
      <Repetition>
        <Interval>PT5M</Interval>
        <StopAtDurationEnd>false</StopAtDurationEnd>
      </Repetition>
    </LogonTrigger>
    <EventTrigger>
      <Enabled>true</Enabled>
      <Subscription>${xml(RESUME_EVENT_QUERY)}</Subscription>
    </EventTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>${user}</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>true</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <IdleSettings>
      <StopOnIdleEnd>false</StopOnIdleEnd>
      <RestartOnIdle>false</RestartOnIdle>
    </IdleSettings>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <WakeToRun>false</WakeToRun>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>7</Priority>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>999</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>${xml(options.executable)}</Command>
      <Arguments>run</Arguments>
      <WorkingDirectory>${xml(options.workingDirectory)}</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
`;
}

/** UTF-16LE with a byte-order mark, CRLF line ends: what schtasks reads. */
export function taskXmlBytes(text: string): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text.replace(/\r?\n/g, "\r\n"), "utf16le")]);
}
