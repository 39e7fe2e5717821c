// Chat sessions: the list, and one session's history where sending a message starts a run; the assistant's
// answer appears when the run ends.

import { all, get, post } from "./api.js";
import { clear, h, notice, when } from "./dom.js";
import { RunStream } from "./stream.js";

export async function sessionsView(main) {
  const sessions = await all("/sessions");
  const title = h("input", { type: "text", id: "new-title", placeholder: "Title", required: true });
  const create = async (e) => {
    e.preventDefault();
    const created = await post("/sessions", { title: title.value });
    location.hash = `#/sessions/${created.session_id}`;
  };
  clear(main).append(
    h("h1", {}, "Sessions"),
    h("form", { class: "inline", onsubmit: create }, title, h("button", { type: "submit" }, "New session")),
    sessions.length
      ? h("ul", { id: "sessions", class: "list" }, sessions.map((s) => h("li", {},
          h("a", { href: `#/sessions/${s.session_id}` }, s.title), " ",
          h("span", { class: "meta" }, `${s.message_count} messages · ${when(s.updated_at)}`))))
      : notice("No chat sessions yet."),
  );
}

function bubble(message) {
  return h("li", { class: `message ${message.role}`, dataset: { seq: message.seq, runId: message.run_id || "" } },
    h("span", { class: "role" }, message.role),
    h("pre", { class: "content" }, message.content),
    message.run_id ? h("a", { class: "meta", href: `#/runs/${message.run_id}` }, "run") : "");
}

export async function sessionView(main, sessionId) {
  const [session, workflows] = await Promise.all([get(`/sessions/${encodeURIComponent(sessionId)}`), all("/workflows")]);
  const history = h("ol", { class: "chat", id: "chat" }, session.messages.map(bubble));
  const status = h("p", { class: "conn", id: "chat-status", role: "status" });
  const workflow = h("select", { id: "chat-workflow", required: true },
    workflows.map((w) => h("option", { value: w.workflow_id, selected: w.workflow_id === session.context_id }, w.name)));
  const text = h("textarea", { id: "chat-message", rows: 2, required: true, placeholder: "Message" });
  let stream = null;
  const reload = async () => {
    const latest = await get(`/sessions/${encodeURIComponent(sessionId)}`);
    clear(history).append(...latest.messages.map(bubble));
    return latest;
  };
  const awaitAnswer = async (runId) => {
    // The answer is appended by the session service once the run's outcome arrives; poll briefly for it.
    for (let i = 0; i < 60; i++) {
      const latest = await reload();
      if (latest.messages.some((m) => m.role !== "user" && m.run_id === runId)) return;
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const send = async (e) => {
    e.preventDefault();
    try {
      const sent = await post("/workflows/chat/send", { workflow_id: workflow.value, message: text.value, session_id: sessionId });
      text.value = "";
      if (stream) stream.stop();
      await reload();
      status.textContent = "Running…";
      status.dataset.state = "running";
      stream = new RunStream(sent.run_id, {
        onEvent: async (event) => {
          if (event.type.startsWith("step_") && event.data && event.data.agent_name) status.textContent = `Running: ${event.data.agent_name}…`;
          if (event.type === "run_paused") status.textContent = "Paused for approval (see Approvals).";
          if (["run_completed", "run_failed", "run_cancelled"].includes(event.type)) {
            await awaitAnswer(sent.run_id);
            status.textContent = "";
            status.dataset.state = "idle";
          }
        },
        onClosedEarly: async () => {
          const run = await get(`/executions/${encodeURIComponent(sent.run_id)}`);
          if (!["completed", "failed", "cancelled"].includes(run.status)) return false;
          await awaitAnswer(sent.run_id);
          status.textContent = "";
          status.dataset.state = "idle";
          return true;
        },
      }).start(0);
    } catch (err) {
      status.textContent = err.detail || String(err);
    }
  };
  clear(main).append(
    h("h1", {}, session.title),
    history,
    status,
    workflows.length
      ? h("form", { class: "card", id: "chat-form", onsubmit: send },
          h("label", { for: "chat-workflow" }, "Workflow"), workflow, h("label", { for: "chat-message" }, "Message"), text,
          h("div", { class: "actions" }, h("button", { type: "submit", id: "chat-send" }, "Send")))
      : notice("Create a workflow first: a message here starts a run of one."),
  );
  return () => stream && stream.stop();
}
