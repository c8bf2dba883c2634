// The chat page's documents panel: add files (picker or drag-and-drop anywhere on the page), follow their
// indexing, remove a document, all in the selected collection. Uses headers(), checkHealth(),
// currentCollection() and collectionQuery() from app.js, which loads first.
// File names and reasons come from the server and go into the page with textContent only.
"use strict";

const docsBox = document.getElementById("docs-box");
const fileInput = document.getElementById("file-input");
const dropZone = document.getElementById("drop-zone");
const jobList = document.getElementById("upload-jobs");
const docList = document.getElementById("doc-list");
const POLL_MS = 500;

function authHeaders() {
  const h = headers(); // app.js: the JSON content type and the API key
  delete h["Content-Type"]; // a multipart body sets its own, with the boundary
  return h;
}

function jobLine(text, kind = "") {
  const item = document.createElement("li");
  item.className = `upload-job ${kind}`;
  item.textContent = text;
  jobList.prepend(item);
  return item;
}

function describe(job) {
  const names = job.files.join(", ");
  if (job.state === "queued") return `${names}: waiting for the indexer…`;
  if (job.state === "indexing") {
    const count = job.to_embed ? ` ${job.embedded} of ${job.to_embed} passages` : "";
    return `${names}: ${job.phase}${count}…`;
  }
  if (job.state === "failed") return `${names}: not indexed — ${job.error}`;
  if (job.action === "delete") return `Removed ${names} (${job.seconds} s).`;
  const done = Object.entries(job.indexed).map(([name, n]) => `${name} (${n} passage${n === 1 ? "" : "s"})`);
  const left = job.skipped.map((s) => `${s.name}: ${s.reason}`);
  return [done.length ? `Indexed ${done.join(", ")} in ${job.seconds} s.` : "", left.length ? `Left out: ${left.join("; ")}` : ""]
    .filter(Boolean)
    .join(" ");
}

async function follow(job, line) {
  while (job.state === "queued" || job.state === "indexing") {
    line.textContent = describe(job);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const response = await fetch(`/api/jobs/${job.id}`, { headers: authHeaders() });
    if (!response.ok) {
      line.textContent = `${job.files.join(", ")}: lost track of the indexing (${response.status}).`;
      return;
    }
    job = await response.json();
  }
  line.textContent = describe(job);
  line.classList.add(job.state === "failed" ? "error" : "done");
  listDocuments();
  checkHealth(); // app.js: the status line's passage and document counts
}

function upload(files) {
  if (!files.length) return;
  docsBox.open = true;
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  form.append("overwrite", document.getElementById("overwrite").checked ? "true" : "false");
  form.append("collection", currentCollection());
  const names = [...files].map((f) => f.name).join(", ");
  const line = jobLine(`${names}: uploading…`);
  const request = new XMLHttpRequest();
  request.open("POST", "/api/documents");
  for (const [name, value] of Object.entries(authHeaders())) request.setRequestHeader(name, value);
  request.upload.onprogress = (event) => {
    if (event.lengthComputable) line.textContent = `${names}: uploading ${Math.round((100 * event.loaded) / event.total)}%…`;
  };
  request.onerror = () => {
    line.textContent = `${names}: the upload failed (the server is not reachable).`;
    line.classList.add("error");
  };
  request.onload = () => {
    let body = {};
    try {
      body = JSON.parse(request.responseText);
    } catch {
      body = { error: request.statusText };
    }
    if (request.status >= 400) {
      line.textContent = `${names}: ${body.error || request.status}`;
      line.classList.add("error");
      return;
    }
    for (const refused of body.refused) jobLine(`${refused.name}: refused — ${refused.reason}`, "error");
    if (body.files.length) follow(body, line);
    else line.remove();
  };
  request.send(form);
}

async function remove(source) {
  if (!window.confirm(`Remove ${source} from the documents folder and the index?`)) return;
  const line = jobLine(`${source}: removing…`);
  const path = encodeURIComponent(source).replace(/%2F/g, "/");
  const response = await fetch(`/api/documents/${path}${collectionQuery()}`, {
    method: "DELETE",
    headers: authHeaders(),
  });
  const body = await response.json();
  if (!response.ok && response.status !== 202) {
    line.textContent = `${source}: ${body.error}`;
    line.classList.add("error");
    return;
  }
  follow(body, line);
}

async function listDocuments() {
  const response = await fetch(`/api/documents${collectionQuery()}`, { headers: authHeaders() });
  if (response.status === 409) {
    docList.replaceChildren(); // a new collection: nothing indexed yet
    docsBox.querySelector("summary").textContent = "Documents (0)";
    return;
  }
  if (!response.ok) return;
  const body = await response.json();
  docList.replaceChildren(
    ...body.documents.map((doc) => {
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.className = "doc-name";
      name.textContent = `${doc.source} (${doc.chunks})`;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary small";
      button.textContent = "Remove";
      button.setAttribute("aria-label", `Remove ${doc.source}`);
      button.addEventListener("click", () => remove(doc.source));
      item.append(name, button);
      return item;
    }),
  );
  docsBox.querySelector("summary").textContent = `Documents (${body.documents.length})`;
}

fileInput.addEventListener("change", () => {
  upload(fileInput.files);
  fileInput.value = "";
});
// Drop anywhere on the page; the drop zone shows it is a target.
document.addEventListener("dragover", (event) => {
  if (![...event.dataTransfer.types].includes("Files")) return;
  event.preventDefault();
  dropZone.classList.add("dragging");
});
document.addEventListener("dragleave", (event) => {
  if (event.target === document.documentElement || event.relatedTarget === null) dropZone.classList.remove("dragging");
});
document.addEventListener("drop", (event) => {
  if (!event.dataTransfer.files.length) return;
  event.preventDefault();
  dropZone.classList.remove("dragging");
  upload(event.dataTransfer.files);
});
docsBox.addEventListener("toggle", () => docsBox.open && listDocuments());
document.addEventListener("collectionchange", listDocuments);
listDocuments();
