// The run page: a timeline of the workflow's steps (pending, running, completed, failed, paused) filled live
// from the event stream, each step's output as it arrives, its tool calls, and the final answer.

import { ApiError, get, post } from "./api.js";
import { clear, h, notice, seconds } from "./dom.js";
import { RunStream } from "./stream.js";

const TERMINAL_STATUS = new Set(["completed", "failed", "cancelled"]);

class Timeline {
  constructor(list) {
    this.list = list;
    this.steps = new Map();
  }

  step(stepId, name) {
    let step = this.steps.get(stepId);
    if (!step) {
      step = { id: stepId, name: name || stepId, status: "pending", output: "", error: "", tools: [] };
      step.el = h("li", { class: "step", dataset: { stepId } });
      this.steps.set(stepId, step);
      this.list.append(step.el);
    }
    if (name) step.name = name;
    return step;
  }

  render(step) {
    const head = h(
      "div",
      { class: "step-head" },
      h("span", { class: `badge ${step.status}` }, step.status),
      h("span", { class: "step-name" }, step.name),
      h("span", { class: "duration" }, seconds(step.started, step.ended)),
    );
    const parts = [head];
    if (step.tools.length) {
      parts.push(h("ul", { class: "tools" }, step.tools.map((t) => h("li", {}, t))));
    }
    if (step.output) parts.push(h("pre", { class: "output" }, step.output));
    if (step.error) parts.push(h("pre", { class: "error" }, step.error));
    if (step.status === "paused" && step.checkpoint) {
      parts.push(h("p", { class: "hint" }, "Waiting for a decision: ", h("a", { href: "#/approvals" }, "open Approvals")));
    }
    step.el.dataset.status = step.status;
    clear(step.el).append(...parts);
  }

  fromSnapshot(snapshot) {
    for (const s of snapshot.steps || []) {
      const step = this.step(s.step_id, s.agent_name);
      // A step the stream already settled keeps its richer state (tool calls, pause).
      if (step.status === "pending" || step.status === "running") {
        step.status = s.status || step.status;
        step.output = s.output || step.output;
        step.error = s.error || step.error;
        step.started = s.started_at || step.started;
        step.ended = s.completed_at || step.ended;
      }
      this.render(step);
    }
  }
}

export async function runView(main, runId) {
  const status = h("span", { class: "badge", id: "run-status" }, "loading");
  const conn = h("p", { class: "conn", id: "conn", role: "status" }, "Connecting…");
  const list = h("ol", { class: "timeline", id: "timeline" });
  const final = h("section", { class: "final", id: "final", hidden: true });
  const log = h("ol", { class: "event-log", id: "event-log" });
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel run");
  const heading = h("h1", {}, "Run ", h("code", {}, runId));
  clear(main).append(heading, h("p", { class: "meta" }, status, " ", cancel), conn, list, final,
    h("details", {}, h("summary", {}, "Events"), log));

  let run;
  try {
    run = await get(`/executions/${encodeURIComponent(runId)}`);
  } catch (err) {
    clear(main).append(notice(err.detail || String(err), "error"));
    return () => {};
  }
  const timeline = new Timeline(list);
  const setStatus = (value) => {
    status.textContent = value;
    status.className = `badge ${value}`;
    cancel.disabled = TERMINAL_STATUS.has(value);
  };
  const showFinal = (title, text, kind) => {
    clear(final).append(h("h2", {}, title), h("pre", { class: kind }, text || ""));
    final.hidden = false;
  };
  setStatus(run.status);
  try {
    const workflow = await get(`/workflows/${encodeURIComponent(run.workflow_id)}`);
    heading.append(" of ", h("a", { href: `#/workflows/${workflow.workflow_id}` }, workflow.name));
    for (const agent of workflow.definition.agents || []) timeline.render(timeline.step(String(agent.agent_id), agent.name));
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
  }
  const refresh = async () => {
    const snapshot = await get(`/workflows/execution/${encodeURIComponent(runId)}/steps`);
    timeline.fromSnapshot(snapshot);
    return snapshot.last_seq || 0;
  };
  await refresh();
  if (run.output) showFinal("Final answer", run.output, "answer");
  if (run.error) showFinal(run.status === "failed" ? "Failed" : "Cancelled", run.error, "error");

  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try {
      await post(`/executions/${encodeURIComponent(runId)}/cancel`);
    } catch (err) {
      conn.textContent = err.detail || String(err);
    }
  });

  const settleAll = (from, to) => {
    for (const s of timeline.steps.values()) {
      if (s.status !== from) continue;
      s.status = to;
      timeline.render(s);
    }
  };

  const applyRun = (event, data) => {
    if (event.type === "run_started" || event.type === "run_resumed") setStatus("running");
    if (event.type === "run_resumed") settleAll("paused", "completed");
    if (event.type === "run_paused") {
      setStatus("paused");
      const steps = [...timeline.steps.values()];
      const paused = timeline.steps.get(data.step_id || event.step_id) || steps.reverse().find((s) => s.status === "completed");
      if (paused) {
        Object.assign(paused, { status: "paused", checkpoint: data.checkpoint_id });
        timeline.render(paused);
      }
    }
    if (event.type === "run_completed") {
      setStatus("completed");
      // A completed run has no step still under way: a replay that resumed mid-step, or a paused step whose
      // approval came while this page was away, settles with the run.
      settleAll("running", "completed");
      settleAll("paused", "completed");
      showFinal("Final answer", data.output, "answer");
    }
    if (event.type === "run_failed" || event.type === "run_cancelled") {
      const ended = event.type === "run_failed" ? "failed" : "cancelled";
      setStatus(ended);
      settleAll("running", ended);
      showFinal(ended === "failed" ? "Failed" : "Cancelled", data.error || "", "error");
    }
  };

  const applyStep = (event, data) => {
    const step = timeline.step(event.step_id, data.agent_name);
    if (event.type === "step_started") Object.assign(step, { status: "running", started: event.ts, ended: null, error: "" });
    if (event.type === "step_output") {
      if (data.kind === "tool") step.tools.push(`${data.tool}(${JSON.stringify(data.input ?? "")}) = ${data.output ?? ""}`);
      else if (typeof data.output === "string") step.output = data.output;
      else if (typeof data.delta === "string") step.output += data.delta;
    }
    if (event.type === "step_completed") Object.assign(step, { status: "completed", ended: event.ts, output: data.output ?? step.output });
    if (event.type === "step_failed") Object.assign(step, { status: "failed", ended: event.ts, error: data.error || "" });
    timeline.render(step);
  };

  const apply = (event) => {
    const data = event.data || {};
    log.append(h("li", { dataset: { seq: event.seq } }, `#${event.seq} ${event.type} ${data.agent_name || event.step_id || ""}`));
    if (event.type.startsWith("run_")) applyRun(event, data);
    else if (event.step_id) applyStep(event, data);
    if (TERMINAL_STATUS.has(event.type.replace("run_", ""))) {
      conn.dataset.state = "ended";
      conn.textContent = "The run has ended.";
    } else if (conn.dataset.state !== "resumed") {
      conn.dataset.state = "live";
      conn.textContent = "Live";
    }
  };

  const stream = new RunStream(runId, {
    onEvent: apply,
    onStatus: (state, seq, reason) => {
      conn.dataset.state = state;
      conn.textContent = {
        resumed: `Live again: resumed after event #${seq}, nothing missed.`,
        reconnecting: `Connection lost after event #${seq}; reconnecting…`,
        refused: `The stream was refused: ${reason || "not your run"}.`,
      }[state];
    },
    onGap: async (last, next) => {
      const covered = await refresh();
      if (covered < next - 1) conn.textContent = `Events #${last + 1}–#${next - 1} are no longer kept; showing the recorded steps.`;
      return covered;
    },
    onClosedEarly: async () => {
      const latest = await get(`/executions/${encodeURIComponent(runId)}`);
      if (!TERMINAL_STATUS.has(latest.status)) return false;
      await refresh();
      setStatus(latest.status);
      if (latest.output) showFinal("Final answer", latest.output, "answer");
      if (latest.error) showFinal(latest.status === "failed" ? "Failed" : "Cancelled", latest.error, "error");
      conn.dataset.state = "ended";
      conn.textContent = "The run has ended.";
      return true;
    },
  });
  stream.start(0);
  return () => stream.stop();
}
