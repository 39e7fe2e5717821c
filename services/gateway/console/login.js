// Log in or register. The token is kept in sessionStorage for this tab only.

import { auth, post } from "./api.js";
import { clear, h, notice } from "./dom.js";

export function loginView(main, onDone) {
  const email = h("input", { type: "email", name: "email", id: "email", required: true, autocomplete: "username" });
  const password = h("input", {
    type: "password", name: "password", id: "password", required: true, minlength: 8, autocomplete: "current-password",
  });
  const message = h("div", { class: "messages" });
  const submit = async (register) => {
    clear(message);
    try {
      if (register) await post("/auth/register", { email: email.value, password: password.value });
      const token = await post("/auth/login", { email: email.value, password: password.value });
      auth.token = token.access_token;
      onDone();
    } catch (err) {
      message.append(notice(err.detail || String(err), "error"));
    }
  };
  const form = h(
    "form",
    { class: "card login", onsubmit: (e) => { e.preventDefault(); submit(false); } },
    h("h1", {}, "EchoAI console"),
    h("label", { for: "email" }, "Email"), email,
    h("label", { for: "password" }, "Password"), password,
    h("div", { class: "actions" },
      h("button", { type: "submit", id: "login" }, "Log in"),
      h("button", { type: "button", class: "secondary", id: "register", onclick: () => form.reportValidity() && submit(true) },
        "Register")),
    message,
  );
  clear(main).append(form);
  email.focus();
}
