// Building the page's elements. Text from the server (character names, comments,
// diagnostics: authors' strings, untrusted) only ever goes in as text, never as HTML.

export function element(tag, { className, text, attributes } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

export function byId(id) {
  return document.getElementById(id);
}

export function say(id, text, { error = false } = {}) {
  const node = byId(id);
  node.textContent = text;
  node.classList.toggle("error", error);
}

export async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${response.status}`;
    throw new Error(message);
  }
  return body;
}
