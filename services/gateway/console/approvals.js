// Approvals: the inbox of steps waiting for a decision. Approve, edit (a text area holding the step's output)
// or reject with a comment.

import { all, post } from "./api.js";
import { clear, h, notice, when } from "./dom.js";

function card(item, refresh) {
  const comment = h("input", { type: "text", class: "comment", placeholder: "Comment (optional)" });
  const editor = h("textarea", { class: "edit-output", rows: 6, hidden: true, value: item.output || "" });
  const status = h("div", { class: "messages" });
  const decide = async (action) => {
    const body = { action };
    if (comment.value) body.comment = comment.value;
    if (action === "edit") body.output = editor.value;
    try {
      await post(`/executions/${encodeURIComponent(item.run_id)}/checkpoints/${encodeURIComponent(item.checkpoint_id)}/decision`, body);
      await refresh();
    } catch (err) {
      clear(status).append(notice(err.detail || String(err), "error"));
    }
  };
  const save = h("button", { type: "button", class: "save-edit", hidden: true, onclick: () => decide("edit") }, "Save edited output");
  return h("article", { class: "card checkpoint", dataset: { checkpointId: item.checkpoint_id, runId: item.run_id } },
    h("h2", {}, item.agent_name || item.step_id || "Step", " ", h("span", { class: "meta" }, `in ${item.workflow_name || item.workflow_id || ""}`)),
    h("p", { class: "meta" }, `Waiting since ${when(item.created_at)}`, item.expires_at ? ` · decided automatically at ${when(item.expires_at)}` : "",
      " · ", h("a", { href: `#/runs/${item.run_id}` }, "the run")),
    h("pre", { class: "output" }, item.output || ""),
    editor, comment,
    h("div", { class: "actions" },
      h("button", { type: "button", class: "approve", onclick: () => decide("approve") }, "Approve"),
      h("button", { type: "button", class: "secondary edit", onclick: () => { editor.hidden = false; save.hidden = false; editor.focus(); } }, "Edit"),
      save,
      h("button", { type: "button", class: "danger reject", onclick: () => decide("reject") }, "Reject")),
    status);
}

export async function approvalsView(main) {
  const refresh = async () => {
    let items;
    try {
      items = await all("/checkpoints?status=pending");
    } catch (err) {
      clear(main).append(h("h1", {}, "Approvals"), notice(err.status === 404 ? "Approvals are not available on this gateway." : err.detail, "error"));
      return;
    }
    clear(main).append(
      h("h1", {}, "Approvals"),
      items.length ? h("div", { id: "inbox" }, items.map((item) => card(item, refresh))) : notice("Nothing waits for your decision."),
    );
  };
  await refresh();
}
