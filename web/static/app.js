// The chat page: streams answers from /api/ask/stream, then shows the verified answer and its sources.
// Every piece of document or answer text goes into the page with textContent, never as HTML.
"use strict";

const HISTORY_MESSAGES = 10; // earlier messages sent with a follow-up question
const KEY_COOKIE = "qa_api_key";

const $ = (id) => document.getElementById(id);
const form = $("ask-form");
const question = $("question");
const sendButton = $("send");
const stopButton = $("stop");
const conversation = $("conversation");
const statusLine = $("status");

let history = []; // [{role, content}] of completed turns, in the selected collection
let controller = null; // AbortController of the answer being streamed

// --- API key (only needed when the server runs with QA_API_KEY) -------------------------------------

function apiKey() {
  const match = document.cookie.match(/(?:^|;\s*)qa_api_key=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("api-key").value.trim();
  // A session cookie, so that links to /sources and /documents carry the key too.
  document.cookie = `${KEY_COOKIE}=${encodeURIComponent(key)}; path=/; SameSite=Strict`;
  $("api-key").value = "";
  $("key-box").open = false;
  checkHealth();
});

// --- Collections (each a folder of documents with its own index) ---------------------------------------

const COLLECTION_KEY = "qa_collection";
const collectionSelect = $("collection");
let collections = []; // GET /api/collections

function currentCollection() {
  return collectionSelect.value;
}

// "?collection=name" (or "&…" after other parameters), empty for the default collection
function collectionQuery(prefix = "?") {
  const name = currentCollection();
  return name ? `${prefix}collection=${encodeURIComponent(name)}` : "";
}

async function listCollections() {
  const response = await fetch("/api/collections", { headers: headers() }).catch(() => null);
  if (!response || !response.ok) return;
  collections = await response.json();
  const wanted = currentCollection() || localStorage.getItem(COLLECTION_KEY) || "";
  collectionSelect.replaceChildren(
    ...collections.map((c) => {
      const option = document.createElement("option");
      option.value = c.name === "default" ? "" : c.name;
      option.textContent = c.indexed ? `${c.name} (${c.documents})` : `${c.name} (empty)`;
      return option;
    }),
  );
  collectionSelect.value = collections.some((c) => c.name === wanted) ? wanted : "";
  linkDocuments();
}

// The header's Documents link lists the selected collection's documents.
function linkDocuments() {
  const link = document.querySelector('.site-nav a[href^="/documents"]');
  if (link) link.href = `/documents${collectionQuery()}`;
}

function selectedInfo() {
  const name = currentCollection() || "default";
  return collections.find((c) => c.name === name);
}

collectionSelect.addEventListener("change", () => {
  localStorage.setItem(COLLECTION_KEY, currentCollection());
  linkDocuments();
  $("clear").click(); // a conversation belongs to the documents it was about
  checkHealth();
  document.dispatchEvent(new Event("collectionchange"));
});

$("new-collection").addEventListener("click", async () => {
  const name = (window.prompt("Name of the new collection (lower-case letters, digits, - or _):") || "").trim();
  if (!name) return;
  const response = await fetch("/api/collections", { method: "POST", headers: headers(), body: JSON.stringify({ name }) });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    statusLine.textContent = `Could not make the collection: ${body.error || response.status}`;
    return;
  }
  await listCollections();
  collectionSelect.value = body.name;
  collectionSelect.dispatchEvent(new Event("change"));
  $("docs-box").open = true; // the next thing to do is add documents to it
});

// --- Server status ------------------------------------------------------------------------------------

async function checkHealth() {
  let body = {};
  let response;
  try {
    response = await fetch("/api/health", { headers: headers() });
    body = await response.json();
  } catch {
    statusLine.textContent = "The server is not reachable.";
    setTimeout(checkHealth, 3000);
    return;
  }
  if (response.status === 401) {
    statusLine.textContent = "This server needs an API key.";
    $("key-box").open = true;
  } else if (body.ready) {
    await listCollections();
    const info = selectedInfo() || { name: "default", chunks: body.chunks, documents: body.files, indexed: true };
    statusLine.textContent = info.indexed
      ? `Ready · ${body.model} · ${info.chunks} passages from ${info.documents} documents`
      : `Ready · ${body.model} · collection ${info.name} is empty: add documents to it`;
  } else if (body.status === "loading") {
    statusLine.textContent = "Loading the model and the index…";
    setTimeout(checkHealth, 1000);
  } else {
    statusLine.textContent = `Not ready: ${body.error || "unknown error"}`;
  }
}

// --- Asking -------------------------------------------------------------------------------------------

question.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  } else if (event.key === "Escape" && controller) {
    controller.abort();
  }
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = question.value.trim();
  if (!text || controller) return;
  question.value = "";
  ask(text);
});

stopButton.addEventListener("click", () => controller && controller.abort());

$("clear").addEventListener("click", () => {
  if (controller) controller.abort();
  history = [];
  for (const message of conversation.querySelectorAll(".message")) message.remove();
  $("empty-hint").hidden = false;
  question.focus({ preventScroll: true });
});

async function ask(text) {
  $("empty-hint").hidden = true;
  const user = clone("user-message");
  user.querySelector(".message-text").textContent = text;
  conversation.append(user);
  const view = clone("assistant-message");
  conversation.append(view);
  view.scrollIntoView({ block: "end" });

  controller = new AbortController();
  setBusy(true);
  try {
    const response = await fetch("/api/ask/stream", {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({
        question: text,
        history: history.slice(-HISTORY_MESSAGES),
        collection: currentCollection(),
      }),
      signal: controller.signal,
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      showNotice(view, body.error || `The server answered ${response.status}.`, true);
      return;
    }
    const answer = await readAnswer(response, view);
    if (answer) {
      showAnswer(view, answer);
      history.push({ role: "user", content: text }, { role: "assistant", content: answer.text });
    } else if (view.querySelector(".notice").hidden) {
      showNotice(view, "The answer ended before it was complete.", true);
    }
  } catch (error) {
    if (error.name === "AbortError") showNotice(view, "Stopped. This answer was not checked against the sources.");
    else showNotice(view, "The connection to the server was lost.", true);
  } finally {
    controller = null;
    setBusy(false);
  }
}

function setBusy(busy) {
  conversation.setAttribute("aria-busy", String(busy));
  stopButton.disabled = !busy;
  sendButton.disabled = busy;
  if (!busy) question.focus({ preventScroll: true });
}

// Reads the event stream: `delta` pieces go into the draft, labelled as such until the final Answer
// (`citations`) replaces it: the draft is the model's own text, not yet checked against the documents.
async function readAnswer(response, view) {
  const draft = view.querySelector(".answer-text");
  let answer = null;
  for await (const { event, data } of serverSentEvents(response)) {
    if (event === "delta") {
      const following = nearBottom();
      view.querySelector(".draft-label").hidden = false;
      draft.textContent += data.text;
      if (following) view.scrollIntoView({ block: "end" });
    } else if (event === "citations") {
      answer = data;
    } else if (event === "error") {
      showNotice(view, data.error, true);
      return null;
    }
  }
  return answer;
}

async function* serverSentEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

// --- Rendering the final answer ------------------------------------------------------------------------

function nearBottom() {
  return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 80;
}

function showAnswer(view, answer) {
  const following = nearBottom();
  const text = view.querySelector(".answer-text");
  const streamed = text.textContent;
  text.classList.remove("draft");
  view.querySelector(".draft-label").hidden = true;
  text.replaceChildren(...linkMarkers(answer.text, answer.citations));
  showWithdrawn(view, answer, streamed);

  if (answer.search_query && answer.search_query !== answer.question) {
    view.querySelector(".searched").hidden = false;
    view.querySelector(".searched-query").textContent = answer.search_query;
  }
  if (answer.refused) {
    text.classList.add("refused");
    const list = view.querySelector(".passage-list");
    for (const passage of answer.passages) list.append(passageItem(passage));
    view.querySelector(".closest").hidden = answer.passages.length === 0;
  } else {
    const list = view.querySelector(".citation-list");
    for (const citation of answer.citations) list.append(citationItem(citation, answer.passages));
    view.querySelector(".sources").hidden = answer.citations.length === 0;
  }
  view.querySelector(".timing").textContent = timingLine(answer.timings);
  if (following) view.scrollIntoView({ block: view.offsetHeight > window.innerHeight / 2 ? "start" : "end" });
}

// "… online [1]." -> text nodes and links to the cited spans; numbers without a citation stay text.
function linkMarkers(text, citations) {
  const byNumber = new Map(citations.map((c) => [c.n, c]));
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(/\[(\d+(?:\s*,\s*\d+)*)\]/g)) {
    const numbers = match[1].split(",").map((n) => Number(n.trim()));
    if (!numbers.every((n) => byNumber.has(n))) continue;
    nodes.push(document.createTextNode(text.slice(last, match.index)));
    numbers.forEach((n, i) => {
      const citation = byNumber.get(n);
      const link = document.createElement("a");
      link.className = "marker";
      link.href = sourceUrl(citation.source, citation.start, citation.end);
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = `[${n}]`;
      link.setAttribute("aria-label", `Source ${n}: ${citation.source}`);
      link.title = citation.quote;
      if (i) nodes.push(document.createTextNode(" "));
      nodes.push(link);
    });
    last = match.index + match[0].length;
  }
  nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

function citationItem(citation, passages) {
  const item = clone("citation-item");
  item.querySelector(".citation-n").textContent = `[${citation.n}]`;
  const link = item.querySelector(".citation-link");
  link.href = sourceUrl(citation.source, citation.start, citation.end);
  link.textContent = citation.source;
  if (citation.location) item.querySelector(".citation-location").textContent = `· ${citation.location}`;
  const passage = passages.find((p) => p.chunk_id === citation.chunk_id) || passages[citation.n - 1];
  if (passage && passage.title) item.querySelector(".citation-title").textContent = `— ${passage.title}`;
  item.querySelector(".passage").append(...highlighted(passage, citation));
  return item;
}

// The passage text with the quote in <mark>, using the offsets both carry into the cleaned source.
function highlighted(passage, citation) {
  const mark = document.createElement("mark");
  mark.textContent = citation.quote;
  if (!passage || citation.start < passage.start || citation.end > passage.end) return [mark];
  const from = citation.start - passage.start;
  const to = citation.end - passage.start;
  return [document.createTextNode(passage.text.slice(0, from)), mark, document.createTextNode(passage.text.slice(to))];
}

function passageItem(passage) {
  const item = clone("passage-item");
  const link = item.querySelector(".citation-link");
  link.href = sourceUrl(passage.source, passage.start, passage.end);
  link.textContent = passage.source;
  item.querySelector(".similarity").textContent = `similarity ${passage.similarity.toFixed(2)}`;
  const snippet = passage.text.length > 320 ? `${passage.text.slice(0, 320)}…` : passage.text;
  item.querySelector(".passage").textContent = snippet;
  return item;
}

function timingLine(t) {
  const parts = [`retrieval ${Math.round(t.retrieve_ms || 0)} ms`];
  if (t.ttft_ms) parts.push(`first token ${(t.ttft_ms / 1000).toFixed(1)} s`);
  parts.push(`total ${((t.total_ms || 0) / 1000).toFixed(1)} s`);
  return parts.join(" · ");
}

// A draft that the checks changed stays visible on request, marked as withdrawn: the reader sees that the
// streamed text was replaced, and why.
function showWithdrawn(view, answer, streamed) {
  const draft = (answer.draft || streamed || "").trim();
  if (!draft) return;
  const plain = (s) => s.replace(/\s*\[\d+(?:\s*,\s*\d+)*\]/g, "").replace(/\s+/g, " ").trim();
  let message = "";
  if (answer.refused) {
    message = "The draft above was withdrawn: no sentence of the documents states it.";
  } else if (plain(draft) !== plain(answer.text)) {
    message = "Checked against the documents: statements they do not support were removed from the draft.";
  }
  if (!message) return;
  showNotice(view, message);
  view.querySelector(".notice").classList.add("replaced");
  view.querySelector(".withdrawn-text").textContent = draft;
  view.querySelector(".withdrawn").hidden = false;
}

function showNotice(view, message, isError = false) {
  const notice = view.querySelector(".notice");
  notice.textContent = message;
  notice.hidden = false;
  notice.classList.toggle("error", isError);
  if (isError) notice.setAttribute("role", "alert");
  view.querySelector(".answer-text").classList.remove("draft");
}

function sourceUrl(source, start, end) {
  const path = source.split("/").map(encodeURIComponent).join("/");
  return `/sources/${path}?start=${start}&end=${end}${collectionQuery("&")}#hl`;
}

function clone(templateId) {
  return $(templateId).content.firstElementChild.cloneNode(true);
}

checkHealth();
question.focus({ preventScroll: true });
