// The console's router: one view per hash route, the login when there is no token (or it has expired).

import { ApiError, auth, get } from "./api.js";
import { approvalsView } from "./approvals.js";
import { clear, notice } from "./dom.js";
import { loginView } from "./login.js";
import { runView } from "./run.js";
import { sessionView, sessionsView } from "./sessions.js";
import { workflowView, workflowsView } from "./workflows.js";

const main = document.getElementById("view");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
let leave = null; // the current view's cleanup (closing its WebSocket)
let generation = 0; // a view that finishes loading after the user moved on is dropped, never shown

const routes = [
  [/^#\/workflows\/([\w-]+)$/, (el, m) => workflowView(el, m[1], go)],
  [/^#\/runs\/([\w-]+)$/, (el, m) => runView(el, m[1])],
  [/^#\/approvals$/, (el) => approvalsView(el)],
  [/^#\/sessions\/([\w-]+)$/, (el, m) => sessionView(el, m[1])],
  [/^#\/sessions$/, (el) => sessionsView(el)],
  [/^#\/workflows$/, (el) => workflowsView(el)],
];

function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

async function render() {
  const current = ++generation;
  if (leave) leave();
  leave = null;
  if (!auth.token) {
    nav.hidden = true;
    loginView(main, async () => {
      await showUser();
      go(location.hash || "#/workflows");
    });
    return;
  }
  nav.hidden = false;
  const hash = location.hash || "#/workflows";
  for (const link of nav.querySelectorAll("a[data-route]")) {
    link.classList.toggle("active", hash.startsWith(link.getAttribute("href")));
  }
  const route = routes.find(([pattern]) => pattern.test(hash)) || routes[routes.length - 1];
  const view = document.createElement("div");
  let cleanup = null;
  try {
    cleanup = await route[1](view, hash.match(route[0]));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return; // the unauthorized handler shows the login
    clear(view).append(notice(err instanceof ApiError ? err.detail : String(err), "error"));
  }
  if (current !== generation) {
    if (typeof cleanup === "function") cleanup();
    return;
  }
  if (typeof cleanup === "function") leave = cleanup;
  clear(main).append(view);
}

async function showUser() {
  try {
    const me = await get("/auth/me");
    who.textContent = me.email;
  } catch {
    who.textContent = "";
  }
}

document.getElementById("logout").addEventListener("click", () => {
  auth.token = null;
  who.textContent = "";
  render();
});
window.addEventListener("echoai:unauthorized", () => {
  auth.token = null;
  render();
});
window.addEventListener("hashchange", render);
if (auth.token) showUser();
render();
