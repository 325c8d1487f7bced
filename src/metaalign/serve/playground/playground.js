// MetaAlign playground: sends one dialogue under 2-4 meta-prompts to /v1/chat/completions (streamed,
// with the `metaalign` extension) and shows the answers side by side. The API key lives in this tab's
// sessionStorage only. The page never sends a tier the key may not set: System Info goes out only for
// a deployer key (the server enforces the same rule and answers 403 otherwise).
"use strict";

(() => {
  const KEY_SLOT = "metaalign.playground.apiKey";
  const MIN_COLUMNS = 2;
  const MAX_COLUMNS = 4;
  const HIDDEN_TEXT = "System Info is set by the deployer and hidden from user keys.";
  const EXAMPLES = [
    "I am a professional chef who cooks French food.",
    "I am five and only like sweets.",
    "I am training for a marathon.",
    "I eat only plant-based food.",
  ];
  // How each refusal reads in a column; the server's own message follows.
  const WORDS = {
    400: "The server refused the request",
    401: "The API key was not accepted",
    403: "This API key may not do that",
    404: "Not found",
    429: "Rate limit reached for this key",
    503: "The server is overloaded",
  };

  const $ = (id) => document.getElementById(id);
  const state = { info: null, columns: [], turns: [] };

  function apiKey() {
    return sessionStorage.getItem(KEY_SLOT) || "";
  }

  function api(path, options = {}) {
    const headers = { Authorization: `Bearer ${apiKey()}` };
    if (options.body) headers["Content-Type"] = "application/json";
    return fetch(path, { ...options, headers });
  }

  async function errorText(response) {
    let payload = null;
    try {
      payload = await response.json();
    } catch (_) {
      payload = null;
    }
    return describe(response.status, payload && payload.error, response.headers.get("Retry-After"));
  }

  function describe(status, error, retryAfter) {
    const err = error || {};
    let head = WORDS[status] || `The server answered HTTP ${status}`;
    if (err.code === "context_length_exceeded") head = "The input is too long for the model";
    if (err.code === "system_info_forbidden") head = "This API key may not set System Info";
    if (err.code === "model_not_found") head = "Unknown model";
    const retry = retryAfter ? ` Retry in ${retryAfter} s.` : "";
    return `${head} (HTTP ${status}): ${err.message || "no details"}.${retry}`;
  }

  // ----- the key and what it may do -----

  async function useKey() {
    sessionStorage.setItem(KEY_SLOT, $("api-key").value.trim());
    return connect();
  }

  // Only the latest call's answer counts (a key typed while the previous one is being checked).
  let connects = 0;

  async function connect() {
    const attempt = ++connects;
    const status = $("key-status");
    state.info = null;
    $("system-info").value = ""; // nothing of a previous key's view stays on the page
    if (!apiKey()) {
      status.textContent = "Enter an API key. It is kept in this tab only.";
      status.className = "";
      applyRole();
      return false;
    }
    let response;
    try {
      response = await api("/v1/metaalign/info");
    } catch (err) {
      if (attempt !== connects) return false;
      status.textContent = `Could not reach the server: ${err.message}`;
      status.className = "bad";
      applyRole();
      return false;
    }
    const answer = response.ok ? await response.json() : await errorText(response);
    if (attempt !== connects) return false;
    if (!response.ok) {
      status.textContent = answer;
      status.className = "bad";
      applyRole();
      return false;
    }
    state.info = answer;
    const who = state.info.key_name ? ` "${state.info.key_name}"` : "";
    status.textContent = state.info.role === "deployer"
      ? `Deployer key${who}: you may edit System Info and User Info.`
      : `User key${who}: you may set User Info; System Info is the deployer's.`;
    status.className = "";
    // A user key is never sent the deployer's text: the box says so instead.
    $("system-info").value = state.info.system_info_hidden ? HIDDEN_TEXT : state.info.system_info || "";
    $("max-tokens").max = String(state.info.max_tokens_limit);
    applyRole();
    return true;
  }

  function isDeployer() {
    return Boolean(state.info && state.info.role === "deployer");
  }

  function applyRole() {
    const deployer = isDeployer();
    const box = $("system-info");
    const hidden = Boolean(state.info && state.info.system_info_hidden);
    box.readOnly = !deployer;
    box.classList.toggle("hidden-info", hidden);
    box.placeholder = state.info ? `empty: "${state.info.default_system_info}"` : "";
    $("system-lock").textContent = !state.info
      ? "(shown once a key is accepted)"
      : deployer
        ? "(editable: deployer key)"
        : hidden
          ? "(read-only and hidden: set by the deployer; a user key may set User Info only)"
          : "(read-only: set by the deployer; a user key may set User Info only)";
    const models = state.info ? state.info.models : [];
    for (const column of state.columns) {
      column.systemRow.classList.toggle("hidden", !deployer);
      const keep = column.model.value;
      column.model.replaceChildren(...models.map((name) => new Option(name, name)));
      if (models.includes(keep)) column.model.value = keep;
      column.modelRow.classList.toggle("hidden", models.length < 2);
    }
  }

  // ----- the dialogue -----

  function addTurn() {
    const turn = document.createElement("div");
    turn.className = "turn";
    const user = labelled("Earlier user message", "earlier-user");
    const assistant = labelled("Earlier answer", "earlier-assistant");
    turn.append(user.label, assistant.label);
    $("turns").append(turn);
    state.turns.push({ node: turn, user: user.box, assistant: assistant.box });
    $("remove-turn").disabled = false;
  }

  function removeTurn() {
    const turn = state.turns.pop();
    if (turn) turn.node.remove();
    $("remove-turn").disabled = state.turns.length === 0;
  }

  function labelled(text, cls) {
    const label = document.createElement("label");
    label.textContent = text;
    const box = document.createElement("textarea");
    box.rows = 2;
    box.className = cls;
    label.append(box);
    return { label, box };
  }

  function messages() {
    const out = [];
    for (const turn of state.turns) {
      out.push({ role: "user", content: turn.user.value });
      out.push({ role: "assistant", content: turn.assistant.value });
    }
    out.push({ role: "user", content: $("question").value });
    return out;
  }

  // ----- columns -----

  function addColumn() {
    if (state.columns.length >= MAX_COLUMNS) return;
    const node = $("column-template").content.firstElementChild.cloneNode(true);
    const column = {
      node,
      title: node.querySelector(".column-title"),
      model: node.querySelector(".model"),
      modelRow: node.querySelector(".model-row"),
      systemRow: node.querySelector(".column-system"),
      systemInfo: node.querySelector(".system-info"),
      userInfo: node.querySelector(".user-info"),
      showPrompt: node.querySelector(".show-prompt"),
      prompt: node.querySelector(".prompt"),
      status: node.querySelector(".status"),
      answer: node.querySelector(".answer"),
    };
    column.userInfo.value = EXAMPLES[state.columns.length] || "";
    node.querySelector(".remove-column").addEventListener("click", () => removeColumn(column));
    column.showPrompt.addEventListener("change", () => showPrompt(column));
    state.columns.push(column);
    $("columns").append(node);
    renumber();
    applyRole();
  }

  function removeColumn(column) {
    if (state.columns.length <= MIN_COLUMNS) return;
    state.columns = state.columns.filter((c) => c !== column);
    column.node.remove();
    renumber();
  }

  function renumber() {
    state.columns.forEach((column, i) => {
      column.title.textContent = `Column ${i + 1}`;
      column.node.dataset.column = String(i + 1);
      column.node.querySelector(".remove-column").disabled = state.columns.length <= MIN_COLUMNS;
    });
    $("add-column").disabled = state.columns.length >= MAX_COLUMNS;
  }

  // The request body of one column. System Info is added for a deployer key only, and only when
  // it differs from the deployer's configured text; a user key never sends it.
  function body(column, stream) {
    const extension = { user_info: column.userInfo.value };
    if (isDeployer()) {
      const own = column.systemInfo.value.trim() ? column.systemInfo.value : $("system-info").value;
      if (own !== (state.info.system_info || "")) extension.system_info = own;
    }
    const out = {
      model: column.model.value || (state.info ? state.info.models[0] : ""),
      messages: messages(),
      metaalign: extension,
      stream,
    };
    const temperature = Number($("temperature").value);
    if ($("temperature").value !== "" && Number.isFinite(temperature)) out.temperature = temperature;
    const maxTokens = Number.parseInt($("max-tokens").value, 10);
    if (Number.isFinite(maxTokens)) out.max_tokens = maxTokens;
    const seed = Number.parseInt($("seed").value, 10);
    if (Number.isFinite(seed)) out.seed = seed;
    return out;
  }

  function fail(column, text) {
    column.node.classList.add("failed");
    column.node.dataset.state = "failed";
    column.status.textContent = "failed";
    column.answer.textContent = text;
  }

  async function runColumn(column) {
    column.node.classList.remove("failed");
    column.node.dataset.state = "running";
    column.answer.textContent = "";
    column.status.textContent = "waiting for the server...";
    try {
      const response = await api("/v1/chat/completions", {
        method: "POST",
        body: JSON.stringify(body(column, true)),
      });
      if (!response.ok) {
        fail(column, await errorText(response));
      } else {
        await readStream(column, response.body.getReader());
      }
    } catch (err) {
      fail(column, `Could not reach the server: ${err.message}`);
    }
    column.node.dataset.state = column.node.classList.contains("failed") ? "failed" : "done";
  }

  async function readStream(column, reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    let deltas = 0;
    column.status.textContent = "streaming...";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const line = buffer.slice(0, cut).trim();
        buffer = buffer.slice(cut + 2);
        if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
        const chunk = JSON.parse(line.slice(6));
        if (chunk.error) {
          fail(column, `The model failed while answering: ${chunk.error.message}`);
          return;
        }
        const choice = chunk.choices && chunk.choices[0];
        if (choice && choice.delta && choice.delta.content) {
          column.answer.textContent += choice.delta.content;
          deltas += 1;
          column.node.dataset.deltas = String(deltas);
        }
        if (choice && choice.finish_reason) {
          const why = choice.finish_reason === "length" ? "stopped at max tokens" : "finished";
          column.status.textContent = `${why} (${deltas} streamed pieces)`;
        }
      }
    }
  }

  async function showPrompt(column) {
    const on = column.showPrompt.checked;
    column.prompt.classList.toggle("hidden", !on);
    if (!on) return;
    column.prompt.classList.remove("bad");
    column.prompt.textContent = "rendering...";
    if (!state.info && !(await connect())) {
      column.prompt.classList.add("bad");
      column.prompt.textContent = $("key-status").textContent;
      return;
    }
    try {
      const response = await api("/v1/metaalign/render", {
        method: "POST",
        body: JSON.stringify(body(column, false)),
      });
      if (!response.ok) {
        column.prompt.classList.add("bad");
        column.prompt.textContent = await errorText(response);
        return;
      }
      const rendered = await response.json();
      column.prompt.textContent = rendered.prompt;
      column.prompt.title = `${rendered.prompt_tokens} prompt tokens`;
    } catch (err) {
      column.prompt.classList.add("bad");
      column.prompt.textContent = `Could not reach the server: ${err.message}`;
    }
  }

  async function run() {
    $("run").disabled = true;
    try {
      if (!state.info && !(await connect())) {
        const why = $("key-status").textContent;
        for (const column of state.columns) fail(column, why);
        return;
      }
      await Promise.all(state.columns.map((column) => Promise.all([runColumn(column), showPrompt(column)])));
    } finally {
      $("run").disabled = false;
    }
  }

  // For scripts and tests: post any body with the tab's key, as the page itself does.
  async function postChat(requestBody) {
    const response = await api("/v1/chat/completions", {
      method: "POST",
      body: JSON.stringify(requestBody),
    });
    const text = await response.text();
    return { status: response.status, text };
  }

  function start() {
    $("use-key").addEventListener("click", useKey);
    $("api-key").addEventListener("keydown", (event) => {
      if (event.key === "Enter") useKey();
    });
    $("forget-key").addEventListener("click", () => {
      sessionStorage.removeItem(KEY_SLOT);
      $("api-key").value = "";
      connect();
    });
    $("add-turn").addEventListener("click", addTurn);
    $("remove-turn").addEventListener("click", removeTurn);
    $("add-column").addEventListener("click", addColumn);
    $("run").addEventListener("click", run);
    for (let i = 0; i < MIN_COLUMNS; i += 1) addColumn();
    $("api-key").value = apiKey();
    connect();
  }

  window.metaalignPlayground = { postChat, body: (i) => body(state.columns[i], true), state };
  start();
})();
