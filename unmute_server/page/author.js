// The author view: a pack's diagnostics as `unmute-server lint` gives them, and a
// character's system prompt as `unmute-server show` prints it, from /v1/packs.
import { byId, element, getJson, say } from "./dom.js";

export async function showDiagnostics(pack) {
  const table = byId("diagnostics");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  table.hidden = true;
  say("diagnostics-summary", `Checking pack ${pack}…`);
  let report;
  try {
    report = await getJson(`/v1/packs/${encodeURIComponent(pack)}`);
  } catch (error) {
    say("diagnostics-summary", `Pack ${pack}: ${error.message}`, { error: true });
    return null;
  }
  const { files, characters, errors, warnings } = report.summary;
  const count = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;
  const counts = `${count(files, "file")}, ${count(characters, "character")}: ${count(errors, "error")}, ${count(warnings, "warning")}`;
  say("diagnostics-summary", `Pack ${report.pack} (version ${report.version}): ${counts}`, { error: errors > 0 });
  for (const d of report.diagnostics) {
    body.append(
      element("tr", { className: d.severity }, [
        element("td", { className: "where", text: `${d.path}:${d.line}:${d.col}` }),
        element("td", { className: "code", text: `${d.code} (${d.severity})` }),
        element("td", { text: d.message }),
        element("td", { text: d.hint }),
      ]),
    );
  }
  table.hidden = report.diagnostics.length === 0;
  const select = byId("prompt-character");
  select.replaceChildren(...report.characters.map((c) => element("option", { text: c.name, attributes: { value: c.name } })));
  byId("show-prompt").disabled = report.characters.length === 0;
  select.disabled = report.characters.length === 0;
  byId("prompt-row").hidden = false;
  select.dataset.pack = report.pack;
  return report;
}

export async function showPrompt() {
  const select = byId("prompt-character");
  const pack = select.dataset.pack;
  const name = select.value;
  const out = byId("prompt");
  out.hidden = false;
  try {
    const body = await getJson(
      `/v1/packs/${encodeURIComponent(pack)}/characters/${encodeURIComponent(name)}/prompt`,
    );
    out.classList.remove("error");
    out.textContent = body.prompt;
  } catch (error) {
    out.classList.add("error");
    out.textContent = error.message;
  }
}
