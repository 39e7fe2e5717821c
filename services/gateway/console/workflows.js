// Workflows: the list (status, version), one workflow's agents and versions, and starting a run.

import { all, get, post } from "./api.js";
import { clear, h, notice, when } from "./dom.js";

export async function workflowsView(main) {
  const items = await all("/workflows");
  const rows = items.map((w) =>
    h("tr", { dataset: { workflowId: w.workflow_id } },
      h("td", {}, h("a", { href: `#/workflows/${w.workflow_id}` }, w.name)),
      h("td", {}, h("span", { class: `badge ${w.status}` }, w.status)),
      h("td", { class: "num" }, String(w.version)),
      h("td", {}, when(w.updated_at))));
  clear(main).append(
    h("h1", {}, "Workflows"),
    items.length
      ? h("table", { id: "workflows" },
          h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Status"), h("th", {}, "Version"), h("th", {}, "Updated"))),
          h("tbody", {}, rows))
      : notice("No workflows yet. Push one with `echoai workflows push FILE.json` or POST /workflows."),
  );
}

export async function workflowView(main, workflowId, go) {
  const [workflow, versions, sessions] = await Promise.all([
    get(`/workflows/${encodeURIComponent(workflowId)}`),
    all(`/workflows/${encodeURIComponent(workflowId)}/versions`),
    all("/sessions", 200),
  ]);
  const agents = workflow.definition.agents || [];
  const message = h("textarea", { id: "message", rows: 3, required: true, placeholder: "Message for the run" });
  const session = h("select", { id: "session" },
    h("option", { value: "" }, "No chat session"),
    h("option", { value: "new" }, "A new chat session"),
    sessions.map((s) => h("option", { value: s.session_id }, s.title)));
  const errors = h("div", { class: "messages" });
  const start = async (e) => {
    e.preventDefault();
    clear(errors);
    try {
      let sessionId = session.value || null;
      if (sessionId === "new") {
        const created = await post("/sessions", { title: message.value.slice(0, 60) || workflow.name,
          context_type: "workflow", context_id: workflow.workflow_id });
        sessionId = created.session_id;
      }
      const body = { workflow_id: workflow.workflow_id, message: message.value };
      if (sessionId) body.session_id = sessionId;
      const sent = await post("/workflows/chat/send", body);
      go(`#/runs/${sent.run_id}`);
    } catch (err) {
      errors.append(notice(err.detail || String(err), "error"));
    }
  };
  clear(main).append(
    h("h1", {}, workflow.name, " ", h("span", { class: `badge ${workflow.status}` }, workflow.status)),
    h("p", { class: "meta" }, `Version ${workflow.version} · ${workflow.definition.execution_model || "sequential"} · updated ${when(workflow.updated_at)}`),
    h("form", { class: "card", id: "start-run", onsubmit: start },
      h("h2", {}, "Start a run"), h("label", { for: "message" }, "Message"), message,
      h("label", { for: "session" }, "Chat session"), session,
      h("div", { class: "actions" }, h("button", { type: "submit", id: "run" }, "Run")), errors),
    h("h2", {}, "Agents"),
    h("table", { id: "agents" },
      h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Role"), h("th", {}, "Model"), h("th", {}, "Approval"))),
      h("tbody", {}, agents.map((a) => h("tr", {},
        h("td", {}, a.name), h("td", {}, a.role || ""),
        h("td", {}, a.llm ? `${a.llm.provider}${a.llm.model ? `/${a.llm.model}` : ""}` : "default"),
        h("td", {}, a.hitl ? a.hitl.mode : ""))))),
    h("h2", {}, "Versions"),
    versions.length
      ? h("ol", { id: "versions" }, versions.map((v) => h("li", {}, `Version ${v.version}: ${v.name} · ${when(v.created_at)}`)))
      : notice("No final version yet."),
  );
}
