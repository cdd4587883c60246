"use strict";
// score studio: choose a video, score it with the installed plugins, watch and compare takes.

const $ = (id) => document.getElementById(id);
const PREFERRED_BRIDGE = "pca";
const HIDDEN_OUTPUTS = new Set(["studio-timeline", "studio-thumbnails", "preview"]);
let chosenFile = null;
let uploaded = null; // {file, id}

function showError(message) { $("error").textContent = message ? `score: error: ${message}` : ""; }

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({ error: `${path}: HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function fillSelect(select, items, chosen) {
  select.replaceChildren(...items.map((item) => {
    const option = new Option(item.name, item.name);
    option.title = `${item.description || ""} (${item.plugin || "score-core"})`;
    return option;
  }));
  if (items.some((item) => item.name === chosen)) select.value = chosen;
}

async function loadPlugins() {
  const plugins = await api("/api/plugins");
  fillSelect($("vision"), plugins.encoders, plugins.defaults.vision); // score run's own choices
  fillSelect($("music"), plugins.decoders, plugins.defaults.music);
  fillSelect($("bridge"), plugins.bridges, PREFERRED_BRIDGE);
  $("weights").hidden = !plugins.allow_local_weights;
  $("installed").textContent = `encoders: ${plugins.encoders.map((e) => e.name).join(", ")} · ` +
    `decoders: ${plugins.decoders.map((d) => d.name).join(", ")}`;
  $("unavailable").textContent = plugins.unavailable.length ? "not offered here: " +
    plugins.unavailable.map((p) => `${p.name} (${p.reason})`).join("; ") : "";
}

function choose(file) {
  chosenFile = file || null;
  $("chosen").textContent = file ? `${file.name} (${(file.size / 1048576).toFixed(1)} MB)` : "";
  $("score").disabled = !file;
  showError("");
}

async function uploadChosen() {
  if (uploaded && uploaded.file === chosenFile) return uploaded.id;
  const body = await api("/api/uploads", {
    method: "POST", body: chosenFile,
    headers: { "X-Filename": encodeURIComponent(chosenFile.name).slice(0, 200) },
  });
  uploaded = { file: chosenFile, id: body.id };
  return body.id;
}

function formRequest(upload) {
  const request = {
    upload, vision: $("vision").value, music: $("music").value, bridge: $("bridge").value,
    seed: parseInt($("seed").value || "0", 10), temperature: parseFloat($("temperature").value || "1"),
    tempo_bpm: $("tempo").value ? parseFloat($("tempo").value) : null,
  };
  if ($("fps").value) request.fps = parseFloat($("fps").value);
  if ($("key").value.trim()) request.key = $("key").value.trim();
  if ($("programs").value.trim()) request.programs = $("programs").value.trim();
  request.harmony = $("chords").checked ? "chords" : "none";
  if (!$("weights").hidden) {
    for (const field of ["vision_weights", "music_weights"]) if ($(field).value) request[field] = $(field).value;
  }
  return request;
}

async function submit(request) {
  showError("");
  try {
    const state = await api("/api/takes", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
    });
    render(state);
    follow(state.id);
  } catch (error) {
    showError(error.message);
  }
}

function card(id) {
  let element = document.querySelector(`.take[data-take="${id}"]`);
  if (!element) {
    element = document.createElement("article");
    element.className = "take";
    element.dataset.take = id;
    $("takes").append(element);
  }
  return element;
}

function describe(request) {
  return `${request.vision} → ${request.music} · seed ${request.seed} · T ${request.temperature} · ` +
    `${request.tempo_bpm ? request.tempo_bpm + " bpm" : "tempo from the cuts"} · key ${request.key || "auto"}` +
    (request.harmony === "none" ? " · melody only" : "") + (request.cuts ? ` · cuts ${request.cuts.join(", ")}` : "") +
    (request.locks && request.locks.length ? ` · locked ${request.locks.map(([s, seed]) => `${s + 1}@${seed}`).join(" ")}` : "");
}

function title(state) {
  const video = state.video ? `${escapeHtml(state.video)} · ` : "";
  const name = state.name ? ` “${escapeHtml(state.name)}”` : "";
  return `${video}take ${state.take}${name}`;
}

function render(state) {
  const element = card(state.id);
  if (element.dataset.status === "done" && element.dataset.version === String(state.version)) return;
  element.dataset.status = state.status;
  element.dataset.version = state.version;
  const heading = `<h2><span class="title">${title(state)}</span> <span class="what">${describe(state.request)}</span></h2>`;
  if (state.status === "queued" || state.status === "running") {
    const eta = state.eta_seconds != null ? ` · about ${Math.ceil(state.eta_seconds)} s left` : "";
    element.innerHTML = `${heading}<progress max="1" value="${state.progress}" aria-label="progress"></progress>` +
      `<div class="stage">${state.stage}</div><div class="eta">${Math.round(state.progress * 100)} %${eta}</div>` +
      `<button class="cancel">Cancel</button>`;
    element.querySelector(".cancel").addEventListener("click", () =>
      api(`/api/takes/${state.id}/cancel`, { method: "POST" }).then(render).catch((e) => showError(e.message)));
  } else if (state.status === "failed") {
    element.innerHTML = `${heading}<p class="failure">score: error: ${escapeHtml(state.error)}</p>`;
  } else {
    renderDone(element, heading, state);
  }
}

function escapeHtml(text) {
  const span = document.createElement("span");
  span.textContent = text;
  return span.innerHTML;
}

function rounded(value) {
  if (typeof value !== "number" || Number.isInteger(value)) return value;
  return Math.abs(value) >= 100 ? value.toFixed(1) : Number(value.toPrecision(3));
}

function renderDone(element, heading, state) {
  const file = (name) => `/api/takes/${state.id}/files/${name}`;
  const outputs = Object.keys(state.outputs);
  const images = outputs.filter((name) => !HIDDEN_OUTPUTS.has(name) && state.outputs[name].endsWith(".png"));
  const figures = Object.entries(state.figures).map(([k, v]) => `<span>${k}: <b>${rounded(v)}</b></span>`).join("");
  const downloads = outputs.filter((name) => !HIDDEN_OUTPUTS.has(name))
    .map((name) => `<a href="${file(name)}" download data-output="${name}">${name} (${name === "stems" ? "zip" : state.outputs[name].split(".").pop()})</a>`)
    .join("");
  element.innerHTML = `${heading}` +
    (state.outputs.video ? `<video controls preload="metadata" src="${file(state.outputs.preview ? "preview" : "video")}"></video>` : "") +
    `<canvas width="960" height="300" title="thumbnails, visual change, cuts (red), notes; click to seek"></canvas>` +
    `<div class="legend"><span class="cut">cut</span><span class="bar">bar</span><span class="note">note</span>` +
    `<span class="drum">drum</span><span class="change">visual change</span> · letters: themes · click to seek</div>` +
    images.map((name) => `<img class="evaluation" alt="${name}" src="${file(name)}">`).join("") +
    `<div class="figures">${figures}</div><div class="downloads">${downloads}</div>` +
    `<div class="cut-editor"><label>cuts (s) <input class="cuts" size="40" ` +
    `title="edit, add (shift-click the timeline) or delete cut times, then re-score"></label>` +
    `<button class="rescore">Re-score with these cuts</button></div>` +
    `<div class="shots" aria-label="each shot's music"></div>` +
    `<button class="again">New take (next seed)</button>` +
    `<button class="rename">Rename</button><button class="delete">Delete take</button>`;
  element.querySelector(".rescore").addEventListener("click", () => {
    const cuts = element.querySelector(".cuts").value.split(/[\s,;]+/).filter(Boolean).map(Number);
    if (cuts.some((t) => !Number.isFinite(t) || t < 0)) { showError("cuts: times in seconds, e.g. 2.5, 4"); return; }
    submit({ ...state.request, cuts });
  });
  element.querySelector(".rename").addEventListener("click", async () => {
    const name = window.prompt("Name this take", state.name || "");
    if (!name) return;
    try {
      render(await api(`/api/takes/${state.id}`, {
        method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name }),
      }));
    } catch (error) { showError(error.message); }
  });
  element.querySelector(".delete").addEventListener("click", async () => {
    const answer = await fetch(`/api/takes/${state.id}`, { method: "DELETE" });
    if (answer.ok) { element.remove(); refreshCompare(); } else showError((await answer.json()).error);
  });
  const nextSeed = () => Math.max(state.request.seed,
    ...[...document.querySelectorAll(".take")].map((t) => Number(t.dataset.seed || 0))) + 1;
  const seedOf = (shot) => {  // the seed whose music this take plays in that shot
    const lock = (state.request.locks || []).find(([s]) => s === shot);
    return lock ? lock[1] : state.request.seed;
  };
  element.querySelector(".again").addEventListener("click", () => {
    const locks = [...element.querySelectorAll(".shots input.lock:checked")]
      .map((box) => [Number(box.dataset.shot), seedOf(Number(box.dataset.shot))]);
    submit({ ...state.request, seed: nextSeed(), locks: locks.length ? locks : null });
  });
  element.shotControls = (count) => {
    const shots = element.querySelector(".shots");
    shots.replaceChildren(...Array.from({ length: count }, (_, shot) => {
      const group = document.createElement("span");
      group.className = "shot";
      group.innerHTML = `<label>shot ${shot + 1} lock <input type="checkbox" class="lock" data-shot="${shot}"></label>` +
        `<button class="reroll" data-shot="${shot}">re-roll</button>`;
      group.querySelector(".reroll").addEventListener("click", () => {
        const locks = Array.from({ length: count }, (_, other) => other).filter((other) => other !== shot)
          .map((other) => [other, seedOf(other)]);
        submit({ ...state.request, seed: nextSeed(), locks });
      });
      return group;
    }));
  };
  element.dataset.seed = state.request.seed;
  drawTimeline(element, file);
  refreshCompare();
}

async function drawTimeline(element, file) {
  const canvas = element.querySelector("canvas");
  const video = element.querySelector("video");
  const timeline = await (await fetch(file("studio-timeline"))).json();
  const strip = new Image();
  strip.src = file("studio-thumbnails");
  await strip.decode().catch(() => null);
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  const x = (t) => (t / timeline.duration) * width;
  const pitches = timeline.notes.map((n) => n[0]);
  const low = Math.min(...pitches, 60) - 2;
  const high = Math.max(...pitches, 72) + 2;
  const rollTop = 100;
  const draw = () => {
    context.fillStyle = "#111";
    context.fillRect(0, 0, width, height);
    if (strip.complete && strip.naturalWidth) context.drawImage(strip, 0, 0, width, 60);
    const change = timeline.change;
    const peak = Math.max(...change.values, 1e-6);
    context.strokeStyle = "#7cc4ff";
    context.beginPath();
    change.times.forEach((t, i) => context.lineTo(x(t), 96 - (change.values[i] / peak) * 32));
    context.stroke();
    for (const [pitch, start, end, drum] of timeline.notes) {
      const y = rollTop + (1 - (pitch - low) / (high - low)) * (height - rollTop - 4);
      context.fillStyle = drum ? "#e0b050" : "#8fd18f";
      context.fillRect(x(start), y - 2, Math.max(2, x(end) - x(start)), 4);
    }
    context.fillStyle = "#3a3f4a";
    for (const beat of timeline.beats || []) context.fillRect(x(beat), rollTop - 4, 1, 4);
    context.fillStyle = "#6b7280";
    for (const bar of timeline.bars || []) context.fillRect(x(bar), rollTop - 8, 1, height - rollTop + 8);
    context.fillStyle = "#ff5050";
    for (const cut of timeline.cuts) context.fillRect(x(cut) - 1, 0, 2, height);
    context.fillStyle = "#e6e6e6";
    context.font = "11px system-ui";
    for (const [time, label] of timeline.themes || []) context.fillText(label, x(time) + 3, rollTop + 10);
    if (video) {
      context.fillStyle = "#ffffff";
      context.fillRect(x(video.currentTime) - 1, 0, 2, height);
      canvas.dataset.cursor = video.currentTime.toFixed(3);
    }
  };
  draw();
  if (!video) return;
  const loop = () => { draw(); if (!video.paused && !video.ended) requestAnimationFrame(loop); };
  video.addEventListener("play", loop);
  video.addEventListener("seeked", draw);
  video.addEventListener("timeupdate", draw);
  if (element.shotControls) element.shotControls(timeline.cuts.length + 1);
  const field = element.querySelector(".cuts");
  if (field && !field.value) field.value = timeline.cuts.join(", ");
  canvas.addEventListener("click", (event) => {
    const rect = canvas.getBoundingClientRect();
    const time = ((event.clientX - rect.left) / rect.width) * timeline.duration;
    if (event.shiftKey && field) {  // add a cut here
      const times = [...field.value.split(/[\s,;]+/).filter(Boolean).map(Number), Number(time.toFixed(2))];
      field.value = times.sort((a, b) => a - b).join(", ");
    } else {
      video.currentTime = time;
    }
  });
}

// Follows a take's events; when the server is away, tries again after 1, 2, 4 ... 15 s for as long as it takes.
function follow(id, attempt = 0) {
  const source = new EventSource(`/api/takes/${id}/events`);
  source.onmessage = (event) => {
    attempt = 0;
    const state = JSON.parse(event.data);
    render(state);
    if (state.status === "done" || state.status === "failed") source.close();
  };
  source.onerror = () => {
    source.close();
    const wait = Math.min(1000 * 2 ** attempt, 15000);
    const card = document.querySelector(`.take[data-take="${id}"] .stage`);
    if (card) card.textContent = `reconnecting in ${Math.round(wait / 1000)} s…`;
    setTimeout(async () => {
      const state = await api(`/api/takes/${id}`).catch(() => null);
      if (!state) { follow(id, attempt + 1); return; }
      render(state);
      if (state.status === "queued" || state.status === "running") follow(id, 0);
    }, wait);
  };
}

// A/B: one video element plays either take; switching keeps the position and whether it was playing.
function refreshCompare() {
  const done = [...document.querySelectorAll('.take[data-status="done"]')];
  $("compare").hidden = done.length < 2;
  if (!$("ab-a")) {  // the two take choosers are made here: the form's own selects are the plugins'
    for (const side of ["a", "b"]) {
      const label = document.createElement("label");
      label.append(`${side.toUpperCase()} `, Object.assign(document.createElement("select"), { id: `ab-${side}` }));
      $("ab-choices").append(label);
    }
  }
  for (const side of ["a", "b"]) {
    const select = $(`ab-${side}`);
    const kept = select.value;
    select.replaceChildren(...done.map((card) => new Option(card.querySelector(".title").textContent, card.dataset.take)));
    select.value = done.some((c) => c.dataset.take === kept) ? kept : (done[side === "a" ? 0 : 1] || {}).dataset?.take;
  }
}

function playSide(side) {
  const video = $("ab-video");
  const take = $(`ab-${side}`).value;
  const card = document.querySelector(`.take[data-take="${take}"]`);
  if (!card) return;
  const source = card.querySelector("video").getAttribute("src");
  const at = video.currentTime, playing = Boolean(video.getAttribute("src")) && !video.paused;
  for (const other of document.querySelectorAll(".take video")) other.pause();
  for (const button of document.querySelectorAll("#compare button.side")) {
    button.setAttribute("aria-pressed", String(button.dataset.side === side));
  }
  video.dataset.side = side;
  if (video.getAttribute("src") === source) return;
  video.src = source;
  video.addEventListener("loadedmetadata", () => {
    video.currentTime = Math.min(at, video.duration || at);
    if (playing) video.play();
  }, { once: true });
}

function wireCompare() {
  const video = $("ab-video");
  for (const button of document.querySelectorAll("#compare button.side")) {
    button.addEventListener("click", () => playSide(button.dataset.side));
  }
  video.addEventListener("timeupdate", () => {
    const from = parseFloat($("loop-from").value), to = parseFloat($("loop-to").value);
    if ($("loop").checked && to > from && video.currentTime >= to) video.currentTime = from;
  });
  video.addEventListener("play", () => { for (const other of document.querySelectorAll(".take video")) other.pause(); });
}

async function loadTakes() {
  for (const state of await api("/api/takes")) {
    render(state);
    if (state.status === "queued" || state.status === "running") follow(state.id);
  }
}

function wire() {
  const drop = $("drop");
  $("video").addEventListener("change", (event) => choose(event.target.files[0]));
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    choose(event.dataTransfer.files[0]);
  });
  $("new-take").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!chosenFile) return;
    $("score").disabled = true;
    try {
      const upload = await uploadChosen();
      const request = formRequest(upload);
      const variations = Math.min(8, Math.max(1, parseInt($("variations").value, 10) || 1));
      for (let k = 0; k < variations; k++) await submit({ ...request, seed: request.seed + k });
    } catch (error) {
      showError(error.message);
    } finally {
      $("score").disabled = !chosenFile;
    }
  });
}

wire();
wireCompare();
loadPlugins().then(loadTakes).then(() => { document.body.dataset.ready = "true"; })
  .catch((error) => showError(error.message));
