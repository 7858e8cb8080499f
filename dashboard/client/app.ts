/**
 * The dashboard's only script (no framework; the pages are rendered by the Worker):
 *  - regions with data-refresh="<url>" data-every="<s>" are re-fetched and replaced in place,
 *    so a status change shows without a reload (paused while the tab is hidden);
 *  - <time data-local> is rewritten in the reader's own time zone;
 *  - forms with data-api-path are sent as JSON to the API (same origin, with the session cookie)
 *    and their answer is shown as text in the form's <output>.
 * Everything it inserts from the server is HTML the server escaped; everything it writes from
 * JSON goes through textContent.
 */

function localTimes(root: ParentNode): void {
  for (const el of root.querySelectorAll<HTMLTimeElement>("time[data-local]")) {
    const at = new Date(el.dateTime);
    if (Number.isNaN(at.getTime())) continue;
    const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    el.textContent = el.dataset.local === "datetime" ? `${at.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}` : time;
  }
}

function startRefresh(region: HTMLElement): void {
  const url = region.dataset.refresh;
  const every = Math.max(2, Number(region.dataset.every ?? "5")) * 1000;
  if (!url) return;
  let busy = false;
  const tick = async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { accept: "text/html" } });
      if (response.ok) {
        const html = await response.text();
        // Replace only when something changed, so focus and screen readers are not disturbed needlessly.
        if (region.dataset.last !== html) {
          region.dataset.last = html;
          region.innerHTML = html;
          localTimes(region);
        }
        region.removeAttribute("data-stale");
      } else {
        region.setAttribute("data-stale", String(response.status));
      }
    } catch {
      region.setAttribute("data-stale", "network");
    } finally {
      busy = false;
    }
  };
  setInterval(() => void tick(), every);
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function describeResult(kind: string, body: Json): string {
  if (kind === "known-issue-test" && body && typeof body === "object" && !Array.isArray(body)) {
    const matches = Array.isArray(body.matches) ? body.matches : [];
    const titles = matches.map((m) => (m && typeof m === "object" && !Array.isArray(m) ? String(m.title) : "")).slice(0, 5);
    return `Matches ${matches.length} of ${String(body.checked_groups)} recent crash groups${titles.length ? `: ${titles.join("; ")}` : "."}`;
  }
  if (kind === "push" && body && typeof body === "object" && !Array.isArray(body)) {
    if (body.fanout === "queued")
      return "Pushing to every node in the rollout: each gets the update within a minute if it is online, or when it comes back.";
    return `Pushed to ${Array.isArray(body.pushed_to) ? body.pushed_to.length : 0} node(s); ${Array.isArray(body.skipped) ? body.skipped.length : String(body.skipped)} skipped.`;
  }
  return "Done.";
}

function errorText(body: Json, status: number): string {
  if (
    body &&
    typeof body === "object" &&
    !Array.isArray(body) &&
    body.error &&
    typeof body.error === "object" &&
    !Array.isArray(body.error)
  ) {
    return `Refused (${status}): ${String(body.error.message)}`;
  }
  return `Refused (${status}).`;
}

function wireApiForm(form: HTMLFormElement): void {
  const output = form.querySelector("output");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body: Record<string, string | number | boolean> = {};
    for (const input of form.querySelectorAll<HTMLInputElement | HTMLSelectElement>("input[name], select[name]")) {
      if (input.value === "") continue;
      const type = input.dataset.type;
      body[input.name] = type === "number" ? Number(input.value) : type === "boolean" ? input.value === "true" : input.value;
    }
    if (output) output.textContent = "Working…";
    try {
      const response = await fetch(form.dataset.apiPath ?? "", {
        method: form.dataset.apiMethod ?? "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const json = (await response.json().catch(() => null)) as Json;
      if (!response.ok) {
        if (output) output.textContent = errorText(json, response.status);
        return;
      }
      const kind = form.dataset.result ?? "reload";
      if (kind === "reload") {
        location.reload();
        return;
      }
      if (output) output.textContent = describeResult(kind, json);
    } catch {
      if (output) output.textContent = "Could not reach the server; try again.";
    }
  });
}

async function postJson(path: string, body: Record<string, string | boolean>): Promise<Json> {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await response.json().catch(() => null)) as Json;
  if (!response.ok) throw new Error(errorText(json, response.status));
  return json;
}

function field(json: Json, name: string): string {
  return json && typeof json === "object" && !Array.isArray(json) ? String(json[name]) : "";
}

/**
 * Invitations: an owner and a one-time enrollment code for their computer through the admin API,
 * and the invitation emailed to them (once) when the box is ticked. Without the email, a sign-in
 * link to pass on as well.
 */
function wireInvite(form: HTMLFormElement): void {
  const output = form.querySelector("output");
  const say = (text: string): void => {
    if (output) output.textContent = text;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | null)?.value.trim() ?? "";
    const sendEmail = (form.elements.namedItem("send_email") as HTMLInputElement | null)?.checked ?? false;
    say("Working…");
    try {
      const owner = await postJson("/api/admin/owners", { name: value("name"), email: value("email") });
      const ownerId = field(owner, "owner_id");
      const code = await postJson("/api/admin/enrollments", { owner_id: ownerId, node_name: value("node_name"), send_email: sendEmail });
      const enrollment = `Enrollment code for "${value("node_name")}": ${field(code, "code")} (valid until ${field(code, "expires_at")}).`;
      const email = code && typeof code === "object" && !Array.isArray(code) ? code.email : null;
      if (email && typeof email === "object" && !Array.isArray(email) && email.status === "queued") {
        say(`Invited ${value("name")}: the invitation (setup link and sign-in link) is on its way to ${value("email")}. ${enrollment}`);
        return;
      }
      const notSent = email && typeof email === "object" && !Array.isArray(email) ? ` Not emailed: ${String(email.reason)}.` : "";
      const link = await postJson(`/api/admin/owners/${ownerId}/sign-in-link`, {});
      say(`Invited ${value("name")}.${notSent} ${enrollment} Sign-in link (15 minutes, once): ${field(link, "url")}`);
    } catch (error) {
      say(error instanceof Error ? error.message : "Could not reach the server; try again.");
    }
  });
}

localTimes(document);
for (const form of document.querySelectorAll<HTMLFormElement>("form[data-invite]")) wireInvite(form);
for (const region of document.querySelectorAll<HTMLElement>("[data-refresh]")) startRefresh(region);
for (const form of document.querySelectorAll<HTMLFormElement>("form[data-api-path]")) wireApiForm(form);
