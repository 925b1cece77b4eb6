// AdGenesis Studio: a plain-JavaScript client of the AdGenesis HTTP API, served from the same origin.
// No build step, no dependencies, no requests anywhere but this server (see deployments/studio_routes.py).
"use strict";

(() => {
  // The API lives next to the page: /studio -> /, /prefix/studio -> /prefix/.
  const API = location.pathname.replace(/\/studio\/?$/, "/");
  const KEY_STORAGE = "adgenesis.apiKey";
  const $ = (id) => document.getElementById(id);

  // ---- small DOM helper: text is always set as text, never parsed as HTML -------------------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // ---- API calls and their errors ------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // The server's message, whatever shape it has: FastAPI `detail` (a string, or pydantic's list of
  // {loc, msg}), OpenAI-style `error.message`, or plain text.
  function describeError(data) {
    if (data === null || data === undefined) return "";
    if (typeof data === "string") return data;
    if (data.detail !== undefined) {
      const d = data.detail;
      if (typeof d === "string") return d;
      if (Array.isArray(d)) {
        return d.map((e) => {
          const where = (e.loc || []).filter((p) => p !== "body").join(".");
          return (where ? `${where}: ` : "") + (e.msg || JSON.stringify(e));
        }).join("; ");
      }
      return JSON.stringify(d);
    }
    if (data.error) return typeof data.error === "string" ? data.error : data.error.message || JSON.stringify(data.error);
    if (data.message) return String(data.message);
    return JSON.stringify(data).slice(0, 300);
  }

  async function readError(resp) {
    const text = await resp.text();
    let message;
    try {
      message = describeError(JSON.parse(text));
    } catch {
      message = text.trim().slice(0, 300);
    }
    return `${message || resp.statusText || "request failed"} (HTTP ${resp.status})`;
  }

  async function api(path, { method = "GET", json, body, signal, write = false, as = "json" } = {}) {
    const headers = {};
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    if (write) {
      const key = sessionStorage.getItem(KEY_STORAGE);
      if (key) headers.Authorization = `Bearer ${key}`;
    }
    let resp;
    try {
      resp = await fetch(API + path, { method, headers, body, signal });
    } catch (exc) {
      if (exc.name === "AbortError") throw exc;
      throw new ApiError(0, `Could not reach the server (${exc.message}).`);
    }
    if (!resp.ok) throw new ApiError(resp.status, await readError(resp));
    if (as === "blob") return { blob: await resp.blob(), headers: resp.headers };
    return resp.json();
  }

  // ---- long calls: spinner, elapsed time, Cancel; the error next to its control -------------------
  // ui: {button, status, error, invalid?: the control to mark aria-invalid on failure}. `work(signal)`
  // may return a sentence to show when it is done.
  async function task(ui, work) {
    if (ui.status.currentTask) ui.status.currentTask.abort();  // a new call on the same control replaces the old
    const ctrl = new AbortController();
    ui.status.currentTask = ctrl;
    const current = () => ui.status.currentTask === ctrl;
    const started = performance.now();
    const elapsed = () => ((performance.now() - started) / 1000).toFixed(1);
    const label = el("span", { text: "Working… 0.0 s" });
    const cancel = el("button", { type: "button", class: "cancel", text: "Cancel", onclick: () => ctrl.abort() });
    showError(ui, "");
    if (ui.button) ui.button.disabled = true;
    ui.status.replaceChildren(el("span", { class: "spinner", "aria-hidden": "true" }), label, cancel);
    ui.status.classList.add("busy");
    const timer = setInterval(() => { label.textContent = `Working… ${elapsed()} s`; }, 200);
    const hadFocus = () => document.activeElement === cancel;
    try {
      const result = await work(ctrl.signal);
      if (!current()) return undefined;
      const focus = hadFocus();
      const said = typeof result === "string" ? `${result} ` : "";
      ui.status.replaceChildren(el("span", { class: "done", text: `${said}Done in ${elapsed()} s.` }));
      if (focus && ui.button) ui.button.focus();
      return result;
    } catch (exc) {
      if (!current()) return undefined;
      const focus = hadFocus();
      if (exc.name === "AbortError") {
        ui.status.replaceChildren(el("span", { text: "Cancelled." }));
      } else {
        ui.status.replaceChildren();
        showError(ui, exc.message || String(exc));
      }
      if (focus && ui.button) ui.button.focus();
      return undefined;
    } finally {
      clearInterval(timer);
      if (current()) {
        ui.status.currentTask = null;
        ui.status.classList.remove("busy");
        if (ui.button) ui.button.disabled = false;
      }
    }
  }

  function showError(ui, message) {
    if (!ui.error) return;
    ui.error.textContent = message;
    ui.error.classList.toggle("shown", Boolean(message));
    if (ui.invalid) {
      if (message) ui.invalid.setAttribute("aria-invalid", "true");
      else ui.invalid.removeAttribute("aria-invalid");
    }
  }

  // Object URLs for PNGs and JSON downloads, released when an area is redrawn.
  const urls = new Map();
  function objectUrl(area, blob) {
    const url = URL.createObjectURL(blob);
    if (!urls.has(area)) urls.set(area, []);
    urls.get(area).push(url);
    return url;
  }
  function releaseUrls(area) {
    for (const url of urls.get(area) || []) URL.revokeObjectURL(url);
    urls.delete(area);
  }

  function downloadLink(href, filename, text) {
    return el("a", { class: "button", href, download: filename, text });
  }

  const intOrNull = (input) => (input.value.trim() === "" ? null : Number.parseInt(input.value, 10));
  const pct = (x) => `${Math.round(x * 100)}%`;
  const slug = (s) => String(s).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "x";

  // ---- tabs (WAI-ARIA tabs pattern: arrow keys, Home/End, roving tabindex) -------------------------
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const onShow = {};

  function selectTab(tab, focus = true) {
    for (const t of tabs) {
      const selected = t === tab;
      t.setAttribute("aria-selected", String(selected));
      t.tabIndex = selected ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
    const name = tab.id.replace(/^tab-/, "");
    if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
    if (onShow[name]) onShow[name]();
    modelsVisible = name === "models";
    if (modelsVisible) scheduleJobs(0);
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab));
    tab.addEventListener("keydown", (event) => {
      const i = tabs.indexOf(tab);
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      selectTab(tabs[(next + tabs.length) % tabs.length]);
    });
  }

  // ---- pickers filled from the API: canvas presets, models ------------------------------------------
  let presets = null;

  function fillFormats(platformSelect) {
    const formatSelect = $(platformSelect.dataset.formatSelect);
    const formats = (presets && presets[platformSelect.value]) || {};
    const previous = formatSelect.value;
    formatSelect.replaceChildren(...Object.entries(formats).map(([name, size]) =>
      el("option", { value: name, text: `${name.replace(/_/g, " ")} — ${size.width}×${size.height}` })));
    if (previous in formats) formatSelect.value = previous;
  }

  async function loadPresets() {
    const selects = [...document.querySelectorAll('select[data-presets="platform"]')];
    try {
      presets = await api("v1/designs/presets");
    } catch (exc) {
      presets = { meta: { square: { width: 1080, height: 1080 } } };
      showError({ error: $("design-error") }, `Could not load the canvas presets: ${exc.message}`);
    }
    for (const select of selects) {
      select.replaceChildren(...Object.keys(presets).map((p) => el("option", { value: p, text: p })));
      if ("meta" in presets) select.value = "meta";
      select.addEventListener("change", () => fillFormats(select));
      fillFormats(select);
    }
  }

  async function loadModels() {
    const select = $("design-model");
    try {
      const list = await api("v1/models");
      const ids = (list.data || []).map((m) => m.id);
      select.replaceChildren(...ids.map((id) => el("option", {
        value: id,
        text: id === "design-llm" ? "design-llm (fine-tuned default)" : id === "design-llm:base" ? "design-llm:base (untuned)" : id,
      })));
      if (ids.includes("design-llm")) select.value = "design-llm";
    } catch (exc) {
      select.replaceChildren(el("option", { value: "", text: "Default (models list unavailable)" }));
    }
  }

  // The workspace's brand kits, for the key this tab holds (none without a key): the Design tab's chooser and the
  // Brand kits tab's list and preview chooser, from one listing. A choice made before stays chosen.
  function fillKitSelect(select, kits, none) {
    const previous = select.value;
    select.replaceChildren(...(none ? [none] : []), ...kits.map((k) => el("option", {
      value: k.kit.id, text: `${k.kit.name} (v${k.kit.version})`,
    })));
    if ([...select.options].some((o) => o.value === previous)) select.value = previous;
  }

  async function loadKits() {
    const select = $("design-kit");
    $("kits-nokey").hidden = Boolean(sessionStorage.getItem(KEY_STORAGE));
    if (!sessionStorage.getItem(KEY_STORAGE)) {
      select.replaceChildren(el("option", { value: "", text: "No brand kit (set an API key to use one)" }));
      showKitList([], "No API key set.");
      return;
    }
    try {
      const list = await api("v1/brand-kits", { write: true });
      fillKitSelect(select, list.kits || [], el("option", { value: "", text: "No brand kit" }));
      showKitList(list.kits || []);
    } catch (exc) {
      select.replaceChildren(el("option", { value: "", text: `No brand kit (${exc.message})` }));
      showKitList([], `Could not list the kits: ${exc.message}`, "error shown");
    }
  }

  // ---- Create: one prompt, the router decides ----------------------------------------------------
  const ROUTE_NAMES = { design_spec: "Ad layout", image: "Image", conversation: "Chat reply" };

  async function renderDesign(design, signal) {
    // A design drawn with a kit is rendered with that kit's version: the key that may use it goes along.
    const { blob } = await api("v1/designs/render", { method: "POST", json: { design }, signal, as: "blob",
                                                      write: Boolean(design.brand_kit) });
    return blob;
  }

  function headlineOf(design) {
    const texts = (design.elements || []).filter((e) => e.type === "text");
    const headline = texts.find((e) => e.role === "headline") || texts[0];
    return headline ? headline.text : `${design.platform} ${design.format} layout`;
  }

  $("create-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const result = $("create-result");
    const body = {
      prompt: $("create-prompt").value,
      platform: $("create-platform").value || undefined,
      format: $("create-format").value || undefined,
    };
    const route = $("create-route").value;
    if (route) body.route = route;
    const seed = intOrNull($("create-seed"));
    if (seed !== null) body.seed = seed;
    const ui = { button: $("create-submit"), status: $("create-status"), error: $("create-error"), invalid: $("create-prompt") };
    task(ui, async (signal) => {
      result.setAttribute("aria-busy", "true");
      try {
        const answer = await api("v1/generate", { method: "POST", json: body, signal });
        releaseUrls("create");
        const c = answer.classification;
        if (answer.clarification) {  // the router was unsure: the marketer picks, and the same request goes again
          const choose = (route) => {
            $("create-route").value = route;
            $("create-form").requestSubmit();
          };
          result.replaceChildren(el("div", { class: "clarify", id: "create-clarify", role: "group", "aria-label": "Which did you mean?" },
            el("p", { text: `Not sure what you meant (router ${pct(c.confidence)} confident). Which would you like?` }),
            answer.clarification.candidates.map((cand) => el("button", {
              type: "button", "data-route": cand.route, onclick: () => choose(cand.route),
            }, `${ROUTE_NAMES[cand.route] || cand.route} (${pct(cand.score)})`))));
          return;
        }
        const decision = el("p", { class: "decision", id: "create-decision" },
          el("strong", { text: `Route: ${ROUTE_NAMES[answer.route] || answer.route}` }),
          answer.forced ? " · chosen by you" : c ? ` · router ${pct(c.confidence)} confident (${c.label})` : "",
          answer.served_by === "upstream" ? " · answered by the upstream model" : "",
          ` · ${(answer.latency_ms / 1000).toFixed(1)} s`);
        const parts = [decision];
        if (answer.design) {
          const png = await renderDesign(answer.design, signal);
          const url = objectUrl("create", png);
          const name = `adgenesis-${slug(answer.design.platform)}-${slug(answer.design.format)}`;
          parts.push(el("figure", { class: "design" },
            el("img", { src: url, alt: `Ad layout: ${headlineOf(answer.design)}`, class: "render" }),
            el("figcaption", {}, `${answer.design.width}×${answer.design.height} · `,
              downloadLink(url, `${name}.png`, "Download PNG"), " ",
              downloadLink(objectUrl("create", new Blob([JSON.stringify(answer.design, null, 2)], { type: "application/json" })),
                `${name}.json`, "Download JSON"))));
        } else if (answer.image) {
          const img = answer.image;
          const src = `data:image/png;base64,${img.b64_png}`;
          parts.push(el("figure", { class: "image" },
            el("img", { src, alt: `Generated image for: ${body.prompt.trim().slice(0, 80)}`, class: "render" }),
            el("figcaption", {}, `${img.width}×${img.height}, seed ${img.seed} · `,
              downloadLink(src, `adgenesis-image-${img.seed}.png`, "Download PNG"))));
        } else {
          parts.push(el("blockquote", { class: "chat", id: "create-message", text: answer.message || "(no answer)" }));
        }
        result.replaceChildren(...parts);
      } finally {
        result.removeAttribute("aria-busy");
      }
    });
  });

  // ---- Design: alternatives side by side, quality checks, downloads, more like this ---------------
  const CHECK_NAMES = {
    headline: "Headline on topic", cta: "Call to action", elements: "Element count",
    fit: "Text fits", contrast: "Contrast", alignment: "Alignment",
    grounded: "Only the brief's words", offer: "Offer stated", conditions: "Every condition in the fine print",
    copy: "Clean copy, CTA fits the brief", on_brand: "On brand (kit colours, fonts, logo, disclaimer)",
  };

  // The offer's terms as the brief states them (answer.facts): what the fine print must keep.
  function termsOf(facts) {
    return ((facts && facts.offers) || []).flatMap((offer) => (offer.terms || []).map((t) => t.text));
  }

  // The fine print of a layout, editable: the edit re-renders the layout, and a term of the brief that the edit
  // drops is named, since the ad then states the offer without it.
  function finePrintEditor(design, terms, rerender) {
    const index = (design.elements || []).findIndex((e) => e.type === "text" && e.role === "fine_print");
    if (index < 0) return el("p", { class: "fine-print none", text: "No fine print: the brief's offer has no conditions." });
    const id = `fine-${Math.random().toString(36).slice(2, 8)}`;
    const box = el("textarea", { id, rows: "2", class: "fine-print-text" });
    box.value = design.elements[index].text;
    const warning = el("p", { class: "warning", role: "status" });
    const apply = el("button", { type: "button", text: "Update fine print" });
    apply.addEventListener("click", async () => {
      const text = box.value.trim();
      const dropped = terms.filter((t) => !text.toLowerCase().includes(t.toLowerCase()));
      warning.textContent = dropped.length ? `Dropped from the brief's terms: ${dropped.join("; ")}` : "";
      if (!text) return;
      design.elements[index] = { ...design.elements[index], text };
      await rerender(design);
    });
    return el("div", { class: "fine-print" }, el("label", { for: id, text: "Fine print" }), box, apply, warning);
  }
  let lastDesignRequest = null;

  function qualityBlock(report) {
    if (!report) return el("p", { class: "quality unknown", text: "No quality report." });
    const checks = Object.entries(report.checks || {});
    const failed = checks.filter(([, ok]) => !ok).length;
    return el("div", { class: `quality ${report.passed ? "passed" : "failed"}` },
      el("p", { class: "verdict", text: report.passed ? "✓ Passed all checks" : `✗ ${failed} of ${checks.length} checks failed` }),
      el("ul", { class: "checks", "aria-label": "Quality checks" }, checks.map(([name, ok]) =>
        el("li", { class: ok ? "ok" : "bad" },
          el("span", { "aria-hidden": "true", text: ok ? "✓ " : "✗ " }),
          `${CHECK_NAMES[name] || name}`,
          el("span", { class: "visually-hidden", text: ok ? ": passed" : ": failed" })))),
      report.problems && report.problems.length
        ? el("ul", { class: "problems", "aria-label": "Problems" }, report.problems.map((p) => el("li", { text: p })))
        : null);
  }

  async function runDesigns(body) {
    const results = $("design-results");
    const ui = { button: $("design-submit"), status: $("design-status"), error: $("design-error"), invalid: $("design-prompt") };
    $("design-more").disabled = true;
    await task(ui, async (signal) => {
      results.setAttribute("aria-busy", "true");
      try {
        const answer = await api("v1/designs", { method: "POST", json: body, signal, write: Boolean(body.brand_kit) });
        lastDesignRequest = body;
        releaseUrls("design");
        const usage = answer.usage || {};
        const upstream = answer.served_by === "upstream" ? " (upstream: ours could not answer)" : "";
        $("design-meta").textContent = `Model ${answer.model_version || answer.model}${upstream} · seed ${body.seed ?? "random"} · `
          + `${usage.completion_tokens ?? "?"} tokens · ${(answer.latency_ms / 1000).toFixed(1)} s`;
        const cards = answer.designs.map((design, i) => {
          const name = `adgenesis-${slug(design.platform)}-${slug(design.format)}-seed${body.seed ?? "x"}-${i + 1}`;
          const jsonUrl = objectUrl("design", new Blob([JSON.stringify(design, null, 2)], { type: "application/json" }));
          const picture = el("div", { class: "picture" },
            el("span", { class: "spinner", "aria-hidden": "true" }), el("span", { text: " Rendering…" }));
          picture.style.aspectRatio = `${design.width} / ${design.height}`;  // CSSOM: allowed by the page's CSP
          const downloads = el("p", { class: "downloads" },
            downloadLink(jsonUrl, `${name}.json`, "Download JSON"));
          const draw = async (layout) => {
            try {
              const url = objectUrl("design", await renderDesign(layout, signal));
              picture.replaceChildren(el("img", { src: url, alt: `Alternative ${i + 1}: ${headlineOf(layout)}`, class: "render" }));
              downloads.querySelectorAll("a.png").forEach((a) => a.remove());
              const png = downloadLink(url, `${name}.png`, "Download PNG");
              png.classList.add("png");
              downloads.prepend(png, " ");
            } catch (exc) {
              if (exc.name === "AbortError") throw exc;
              picture.replaceChildren(el("p", { class: "error shown", role: "alert", text: `Could not render: ${exc.message}` }));
            }
          };
          const composed = (answer.composed_from_facts || [])[i];
          const card = el("article", { class: "card design-card", "aria-label": `Alternative ${i + 1}` },
            el("h3", { text: `Alternative ${i + 1}` }),
            composed ? el("p", { class: "badge", text: "Composed from the brief's facts (the model's copy did not pass)" }) : null,
            picture,
            el("p", { class: "size", text: `${design.width}×${design.height} · “${headlineOf(design)}”` }),
            finePrintEditor(design, termsOf(answer.facts), draw),
            qualityBlock((answer.quality || [])[i]),
            downloads);
          return { card, design, draw };
        });
        results.replaceChildren(...cards.map((c) => c.card));
        // Each layout drawn by the server with its real fonts.
        await Promise.all(cards.map(({ design, draw }) => draw(design)));
      } finally {
        results.removeAttribute("aria-busy");
      }
    });
    $("design-more").disabled = lastDesignRequest === null;
  }

  $("design-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {
      prompt: $("design-prompt").value,
      platform: $("design-platform").value,
      format: $("design-format").value,
      n: Number.parseInt($("design-n").value, 10),
      mode: $("design-mode").value,
    };
    const seed = intOrNull($("design-seed"));
    if (seed !== null) body.seed = seed;
    if ($("design-model").value) body.model = $("design-model").value;
    if ($("design-kit").value) body.brand_kit = $("design-kit").value;
    runDesigns(body);
  });

  $("design-more").addEventListener("click", () => {
    if (!lastDesignRequest) return;
    const seed = (lastDesignRequest.seed ?? 0) + 1;
    $("design-seed").value = String(seed);
    runDesigns({ ...lastDesignRequest, seed });
  });

  // ---- Brand kits: the key's workspace's kits; create and edit (each save a new version); preview per format ----
  // The bundled families (adgenesis/schema.py FONT_FAMILIES; tests/integration/test_studio.py checks they agree).
  const FONT_FAMILIES = ["Montserrat", "Inter", "Roboto", "Playfair Display", "Poppins", "Lato", "Oswald", "Bebas Neue"];
  const ROLES = { background: "Background", text: "Text", accent: "Accent", button: "Button", button_text: "Button text" };
  const NEW_KIT = {
    palette: [["#FFFFFF", "background"], ["#1A1A1A", "text"], ["#0B5FFF", "accent"], ["#C8102E", "button"],
              ["#FFFFFF", "button_text"]].map(([hex, role]) => ({ hex, role })),
    headline_font: { family: "Montserrat", file: null }, body_font: { family: "Inter", file: null },
    voice_words: [], banned_words: [], disclaimer: null, logo: null,
  };
  const UPLOADED_FONT = /^[0-9a-f]{64}\.(ttf|otf)$/;
  const palette = $("kit-palette");
  const kitUi = { button: $("kit-save"), status: $("kit-status"), error: $("kit-error") };
  let editing = null;  // the BrandKitInfo in the form; null: a new kit
  let fontFiles = new Map();  // the edited kit's uploaded fonts: file name -> family

  const kitPath = (id, tail = "") => `v1/brand-kits/${encodeURIComponent(id)}${tail}`;
  const words = (input) => input.value.split(",").map((w) => w.trim()).filter(Boolean);

  function swatch(color) {
    const chip = el("span", { class: "swatch", role: "img", title: `${ROLES[color.role]} ${color.hex}`,
                              "aria-label": `${ROLES[color.role]} ${color.hex}` });
    chip.style.backgroundColor = color.hex;  // CSSOM: allowed by the page's CSP
    return chip;
  }

  function kitRow(info) {
    const kit = info.kit;
    return el("tr", { "data-kit": kit.id },
      el("td", {}, el("strong", { text: kit.name }), el("div", { class: "sub", text: kit.workspace })),
      el("td", { class: "num", text: `v${kit.version}` }),
      el("td", {}, el("span", { class: "swatches" }, kit.palette.map(swatch))),
      el("td", { class: "sub", text: new Date(info.updated_at * 1000).toLocaleString() }),
      el("td", { class: "row-actions" },
        el("button", { type: "button", text: "Edit", "aria-label": `Edit ${kit.name}`,
                       onclick: () => { editKit(info); $("kit-name").focus(); } }), " ",
        el("button", { type: "button", text: "Preview", "aria-label": `Preview ${kit.name}`,
                       onclick: () => { $("kit-preview-kit").value = kit.id; $("kit-preview-submit").focus(); } })));
  }

  // The listing, or a note in its place (cls "error shown" for a failed listing: the form is left as it is).
  function showKitList(kits, note = kits.length ? "" : "No kits yet: make one below.", cls = "empty") {
    fillKitSelect($("kit-preview-kit"), kits);
    const gone = editing && !kits.some((k) => k.kit.id === editing.kit.id);
    if (gone && cls === "empty") editKit(null);  // another key (or none): not its kit
    $("kits-body").replaceChildren(...(note ? [el("tr", {}, el("td", { colspan: "5", class: cls, text: note }))]
      : kits.map(kitRow)));
  }

  function renumberColours() {
    const rows = [...palette.children];
    rows.forEach((row, i) => {
      const [hex, role] = row.querySelectorAll("input, select");
      hex.setAttribute("aria-label", `Colour ${i + 1}`);
      role.setAttribute("aria-label", `Role of colour ${i + 1}`);
      row.querySelector("button").setAttribute("aria-label", `Remove colour ${i + 1}`);
      row.querySelector("button").disabled = rows.length <= 2;
    });
    $("kit-add-colour").disabled = rows.length >= 8;
  }

  function addColour({ hex, role }) {
    const picker = el("input", { type: "color", value: hex.toLowerCase() });
    const code = el("code", { text: hex.toUpperCase() });
    picker.addEventListener("input", () => { code.textContent = picker.value.toUpperCase(); });
    const roles = el("select", {}, Object.entries(ROLES).map(([value, text]) => el("option", { value, text })));
    roles.value = role;
    const row = el("li", {}, picker, code, roles,
      el("button", { type: "button", text: "Remove", onclick: () => { row.remove(); renumberColours(); } }));
    palette.append(row);
    renumberColours();
  }
  $("kit-add-colour").addEventListener("click", () => addColour({ hex: "#888888", role: "accent" }));

  function fillFonts(kit) {
    fontFiles = new Map([kit.headline_font, kit.body_font].filter((f) => f.file).map((f) => [f.file, f.family]));
    for (const role of ["headline", "body"]) {
      const select = $(`kit-${role}-font`);
      select.replaceChildren(
        el("optgroup", { label: "Bundled" }, FONT_FAMILIES.map((f) => el("option", { value: f, text: f }))),
        fontFiles.size ? el("optgroup", { label: "Uploaded" },
          [...fontFiles].map(([file, family]) => el("option", { value: file, text: `${family} (uploaded)` }))) : null);
      const font = kit[`${role}_font`];
      select.value = font.file || font.family;
    }
  }

  function fontOf(role) {
    const value = $(`kit-${role}-font`).value;
    return UPLOADED_FONT.test(value) ? { family: fontFiles.get(value), file: value } : { family: value, file: null };
  }

  async function showLogo(kit) {
    const box = $("kit-logo-current");
    releaseUrls("kit-logo");
    box.replaceChildren();
    if (!kit.logo) return;
    try {
      const { blob } = await api(kitPath(kit.id, `/files/${kit.logo}`), { write: true, as: "blob" });
      if (editing && editing.kit === kit) box.replaceChildren(el("img", { src: objectUrl("kit-logo", blob), alt: `Logo of ${kit.name}` }));
    } catch (exc) {
      box.replaceChildren(el("span", { class: "sub", text: `Logo not shown: ${exc.message}` }));
    }
  }

  // The form shows `info`'s latest version (null: a new kit), every file field cleared, no error of an earlier save.
  function editKit(info) {
    editing = info;
    showError(kitUi, "");
    const kit = info ? info.kit : NEW_KIT;
    $("kit-form-title").textContent = info ? `Edit “${kit.name}”` : "New kit";
    $("kit-version").textContent = info ? `v${kit.version}` : "not saved yet";
    $("kit-save").textContent = info ? "Save as a new version" : "Create kit";
    $("kit-workspace-field").hidden = Boolean(info);
    $("kit-name").value = info ? kit.name : "";
    palette.replaceChildren();
    kit.palette.forEach(addColour);
    fillFonts(kit);
    $("kit-voice").value = kit.voice_words.join(", ");
    $("kit-banned").value = kit.banned_words.join(", ");
    $("kit-disclaimer").value = kit.disclaimer || "";
    for (const id of ["kit-logo", "kit-headline-file", "kit-body-file"]) $(id).value = "";
    $("kit-logo-remove").checked = false;
    $("kit-logo-remove-field").hidden = !kit.logo;
    showLogo(kit);
  }
  $("kit-new").addEventListener("click", () => { editKit(null); $("kit-name").focus(); });

  $("kit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const fields = {
      name: $("kit-name").value.trim(),
      palette: [...palette.children].map((row) => ({ hex: row.querySelector("input").value.toUpperCase(),
                                                    role: row.querySelector("select").value })),
      headline_font: fontOf("headline"), body_font: fontOf("body"),
      voice_words: words($("kit-voice")), banned_words: words($("kit-banned")),
      disclaimer: $("kit-disclaimer").value.trim() || null,
    };
    // A new kit: every field (and the workspace, for the admin key). An edit: only what changed, as the PATCH takes it.
    let change = fields;
    if (editing) {
      change = Object.fromEntries(Object.entries(fields).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(editing.kit[k])));
      if ($("kit-logo-remove").checked) change.logo = null;
    } else if ($("kit-workspace").value.trim()) {
      change.workspace = $("kit-workspace").value.trim();
    }
    // Each upload is a version of its own (the API's), after the fields are saved.
    const uploads = [["kit-logo", "/logo", null, "logo"], ["kit-headline-file", "/fonts", "headline", "headline font"],
                     ["kit-body-file", "/fonts", "body", "body font"]].filter(([id]) => $(id).files.length);
    if (editing && !Object.keys(change).length && !uploads.length) {
      showError(kitUi, "");
      kitUi.status.textContent = "Nothing changed: no new version made.";
      return;
    }
    task(kitUi, async (signal) => {
      const before = editing;
      let info = editing;
      kitUi.invalid = null;
      try {
        if (!info) info = await api("v1/brand-kits", { method: "POST", json: change, signal, write: true });
        else if (Object.keys(change).length) info = await api(kitPath(info.kit.id), { method: "PATCH", json: change, signal, write: true });
        for (const [id, tail, role, what] of uploads) {
          kitUi.invalid = $(id);
          const form = new FormData();
          form.append("file", $(id).files[0], $(id).files[0].name);
          if (role) form.append("role", role);
          try {
            info = await api(kitPath(info.kit.id, tail), { method: "POST", body: form, signal, write: true });
          } catch (exc) {
            if (exc.name !== "AbortError") exc.message = `The ${what} was refused: ${exc.message}`;
            throw exc;
          }
        }
        kitUi.invalid = null;
        return `Saved: “${info.kit.name}” is now v${info.kit.version}.`;
      } catch (exc) {
        needKey(exc);
        throw exc;
      } finally {
        if (info !== before) {  // what was saved shows, even when a later step was refused
          editKit(info);
          loadKits();
        }
      }
    });
  });

  // One sample laid out with the kit on each ticked format, the formats' requests at once.
  function previewCard(box, kitId, prompt, signal) {
    const [platform, format] = box.value.split("/");
    const name = box.parentElement.textContent.trim().replace(/\s+/g, " ");
    const size = presets && presets[platform] && presets[platform][format];
    const picture = el("div", { class: "picture" }, el("span", { class: "spinner", "aria-hidden": "true" }), " Designing…");
    if (size) picture.style.aspectRatio = `${size.width} / ${size.height}`;
    const report = el("div", { class: "report" });
    const card = el("article", { class: "card design-card kit-preview", "data-format": format, "aria-label": `Preview: ${name}` },
      el("h4", { text: name }), picture, report);
    if (size && size.width > 3 * size.height) card.classList.add("wide-card");
    const done = (async () => {
      try {
        const answer = await api("v1/designs", { method: "POST", signal, write: true,
                                                 json: { prompt, platform, format, n: 1, seed: 1, brand_kit: kitId } });
        const design = answer.designs[0];
        const quality = (answer.quality || [])[0];
        const onBrand = quality ? quality.checks.on_brand : undefined;
        report.replaceChildren(
          el("p", { class: `on-brand ${onBrand ? "ok" : "bad"}`,
                    text: onBrand ? "✓ On brand" : onBrand === false ? "✗ Not on brand" : "On brand: not checked" }),
          qualityBlock(quality));
        const url = objectUrl("kit-preview", await renderDesign(design, signal));
        picture.replaceChildren(el("img", { src: url, class: "render", alt: `${name} with the kit: ${headlineOf(design)}` }));
      } catch (exc) {
        if (exc.name === "AbortError") throw exc;
        picture.replaceChildren(el("p", { class: "error shown", role: "alert", text: `Could not preview: ${exc.message}` }));
      }
    })();
    return { card, done };
  }

  $("kit-preview-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const ui = { button: $("kit-preview-submit"), status: $("kit-preview-status"), error: $("kit-preview-error") };
    const kitId = $("kit-preview-kit").value;
    const boxes = [...document.querySelectorAll("#kit-preview-formats input:checked")];
    if (!kitId || !boxes.length) {
      showError(ui, kitId ? "Tick at least one format." : "Choose a kit to preview (make one above).");
      return;
    }
    const prompt = $("kit-preview-prompt").value;
    const results = $("kit-preview-results");
    task(ui, async (signal) => {
      releaseUrls("kit-preview");
      const cards = boxes.map((box) => previewCard(box, kitId, prompt, signal));
      results.replaceChildren(...cards.map((c) => c.card));
      results.setAttribute("aria-busy", "true");
      try {
        await Promise.all(cards.map((c) => c.done));
      } finally {
        results.removeAttribute("aria-busy");
      }
    });
  });
  onShow.kits = loadKits;

  // ---- Images ---------------------------------------------------------------------------------------
  $("image-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const result = $("image-result");
    const body = { prompt: $("image-prompt").value, size: $("image-size").value };
    const steps = intOrNull($("image-steps"));
    if (steps !== null) body.steps = steps;
    const seed = intOrNull($("image-seed"));
    if (seed !== null) body.seed = seed;
    const lora = $("image-lora").value.trim();
    if (lora) {
      body.lora = lora;
      body.lora_weight = Number.parseFloat($("image-lora-weight").value || "1");
    }
    const ui = { button: $("image-submit"), status: $("image-status"), error: $("image-error"), invalid: $("image-prompt") };
    task(ui, async (signal) => {
      const { blob, headers } = await api("v1/images", { method: "POST", json: body, signal, as: "blob" });
      releaseUrls("image");
      const url = objectUrl("image", blob);
      const h = (name) => headers.get(`x-adgenesis-${name}`);
      const facts = [`${h("width") || "?"}×${h("height") || "?"}`, `seed ${h("seed") ?? "?"}`, `${h("steps") ?? "?"} steps`];
      if (h("lora") && h("lora") !== "None") facts.push(`LoRA ${h("lora")}`);
      result.replaceChildren(el("figure", { class: "image" },
        el("img", { src: url, alt: `Generated image for: ${body.prompt.trim().slice(0, 80)}`, class: "render", id: "image-output" }),
        el("figcaption", {}, `${facts.join(" · ")} · `,
          downloadLink(url, `adgenesis-image-${h("seed") ?? "x"}.png`, "Download PNG"))));
    });
  });

  // ---- Product copy: drop or choose a photo -> caption + description --------------------------------
  const fileInput = $("copy-file");
  const drop = $("copy-drop");

  function photoChosen() {
    const file = fileInput.files && fileInput.files[0];
    const preview = $("copy-preview");
    releaseUrls("copy");
    $("copy-submit").disabled = !file;
    if (!file) {
      preview.hidden = true;
      return;
    }
    preview.src = objectUrl("copy", file);
    preview.alt = `Chosen photo: ${file.name}`;
    preview.hidden = false;
    $("copy-form").requestSubmit();
  }

  fileInput.addEventListener("change", photoChosen);
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    const files = event.dataTransfer && event.dataTransfer.files;
    if (!files || !files.length) return;
    const transfer = new DataTransfer();
    transfer.items.add(files[0]);
    fileInput.files = transfer.files;
    photoChosen();
  });

  $("copy-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const file = fileInput.files && fileInput.files[0];
    const ui = { button: $("copy-submit"), status: $("copy-status"), error: $("copy-error"), invalid: fileInput };
    if (!file) {
      showError(ui, "Choose a product photo first.");
      return;
    }
    const form = new FormData();
    form.append("file", file, file.name);
    task(ui, async (signal) => {
      const answer = await api("v1/product-descriptions", { method: "POST", body: form, signal });
      $("copy-caption").value = answer.caption.caption;
      $("copy-description").value = answer.description;
    });
  });

  for (const button of document.querySelectorAll("button.copy")) {
    button.addEventListener("click", async () => {
      const field = $(button.dataset.copy);
      let ok = true;
      try {
        await navigator.clipboard.writeText(field.value);
      } catch {
        field.select();
        ok = document.execCommand && document.execCommand("copy");
      }
      $("copy-copied").textContent = ok ? `${field.labels[0].textContent} copied.` : "Copy failed: select the text and press Ctrl+C.";
    });
  }

  // ---- Models: API key, training jobs, registry ------------------------------------------------------
  function keyState() {
    const saved = sessionStorage.getItem(KEY_STORAGE);
    $("key-state").textContent = saved ? "Key set for this browser tab." : "No key set: write actions are sent without one.";
    $("api-key").placeholder = saved ? "•••••• (saved for this tab)" : "paste the key once";
  }
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("api-key").value.trim();
    if (value) sessionStorage.setItem(KEY_STORAGE, value);
    $("api-key").value = "";
    keyState();
    loadKits();
  });
  $("key-forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    keyState();
    loadKits();
  });

  // A write call refused for want of a (valid) key: point at the key field.
  function needKey(exc) {
    if (exc && (exc.status === 401 || exc.status === 403)) $("api-key").setAttribute("aria-invalid", "true");
  }

  let modelsVisible = false;
  let jobsTimer = null;
  let jobsInFlight = false;
  const ACTIVE = new Set(["PENDING", "RUNNING"]);

  function scheduleJobs(delayMs) {
    clearTimeout(jobsTimer);
    jobsTimer = setTimeout(refreshJobs, delayMs);
  }

  function metricText(metrics) {
    return Object.entries(metrics || {}).slice(0, 4)
      .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : Number(v).toFixed(3)}`).join(", ");
  }

  function jobRow(job) {
    const fraction = job.progress ? job.progress.fraction : job.status === "SUCCEEDED" ? 1 : 0;
    const rowError = el("p", { class: "error", role: "alert" });
    const status = el("span", { class: "status" });
    const actions = el("td", { class: "row-actions" });
    const logsRow = el("tr", { class: "logs-row", hidden: true }, el("td", { colspan: "7" }));
    actions.append(el("button", {
      type: "button", text: "Logs", "aria-label": `Logs of job ${job.id}`,
      onclick: async (event) => {
        if (!logsRow.hidden) { logsRow.hidden = true; return; }
        const button = event.currentTarget;
        await task({ button, status, error: rowError }, async (signal) => {
          const logs = await api(`v1/training/jobs/${encodeURIComponent(job.id)}/logs?lines=40`, { signal });
          logsRow.firstChild.replaceChildren(el("pre", { class: "logs", tabindex: "0", text: logs.logs || "(no output yet)" }));
          logsRow.hidden = false;
        });
      },
    }));
    if (ACTIVE.has(job.status)) {
      actions.append(" ", el("button", {
        type: "button", text: "Cancel job", "aria-label": `Cancel job ${job.id}`,
        onclick: async (event) => {
          await task({ button: event.currentTarget, status, error: rowError }, async (signal) => {
            try {
              await api(`v1/training/jobs/${encodeURIComponent(job.id)}/cancel`, { method: "POST", signal, write: true });
            } catch (exc) {
              needKey(exc);
              throw exc;
            }
          });
          scheduleJobs(0);
        },
      }));
    }
    actions.append(status, rowError);
    const row = el("tr", { "data-job": job.id },
      el("td", {}, el("code", { text: job.id }), job.config ? el("div", { class: "sub", text: job.config }) : null),
      el("td", { text: job.kind || "?" }),
      el("td", {}, el("span", { class: `badge ${job.status.toLowerCase()}`, text: job.status }),
        job.message ? el("div", { class: "sub", text: job.message.slice(0, 120) }) : null),
      el("td", { class: "progress-cell" },
        el("progress", { max: "1", value: String(fraction), "aria-label": `Progress of job ${job.id}` }),
        el("span", { class: "sub", text: ` ${pct(fraction)}${job.progress ? ` · epoch ${job.progress.epoch}/${job.progress.epochs}` : ""}` })),
      el("td", { class: "sub", text: metricText(job.metrics) || "—" }),
      el("td", { text: job.registered_model ? `${job.registered_model} v${job.registered_version}` : "—" }),
      actions);
    return [row, logsRow];
  }

  async function refreshJobs() {
    if (jobsInFlight) return;
    jobsInFlight = true;
    const body = $("jobs-body");
    let delay = 10000;
    try {
      const list = await api("v1/training/jobs");
      const jobs = list.jobs || [];
      // Keep open log rows and focused buttons where they are: only redraw when something changed.
      const signature = JSON.stringify(jobs.map((j) => [j.id, j.status, j.progress && j.progress.fraction, j.metrics, j.registered_version]));
      if (body.dataset.signature !== signature) {
        body.dataset.signature = signature;
        body.replaceChildren(...(jobs.length ? jobs.flatMap(jobRow)
          : [el("tr", {}, el("td", { colspan: "7", class: "empty", text: "No training jobs yet." }))]));
      }
      if (jobs.some((j) => ACTIVE.has(j.status))) delay = 3000;
    } catch (exc) {
      body.dataset.signature = "";
      body.replaceChildren(el("tr", {}, el("td", { colspan: "7", class: "error shown", role: "alert", text: `Could not list jobs: ${exc.message}` })));
      delay = 15000;
    } finally {
      jobsInFlight = false;
    }
    if (modelsVisible && !document.hidden) scheduleJobs(delay);
  }
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && modelsVisible) scheduleJobs(0);
  });
  $("train-refresh").addEventListener("click", () => scheduleJobs(0));

  $("train-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const ui = { button: $("train-submit"), status: $("train-status"), error: $("train-error") };
    const body = { kind: $("train-kind").value };
    const config = $("train-config").value.trim();
    if (config) body.config = config;
    const dataset = $("train-dataset").value.trim();
    if (dataset) body.dataset = dataset;
    const overrides = $("train-overrides").value.trim();
    if (overrides) {
      try {
        body.overrides = JSON.parse(overrides);
      } catch (exc) {
        showError({ ...ui, invalid: $("train-overrides") }, `Overrides must be a JSON object, e.g. {"epochs": 1}: ${exc.message}`);
        return;
      }
    }
    $("train-overrides").removeAttribute("aria-invalid");
    task(ui, async (signal) => {
      try {
        const job = await api("v1/training/jobs", { method: "POST", json: body, signal, write: true });
        $("api-key").removeAttribute("aria-invalid");
        scheduleJobs(0);
        return `Submitted job ${job.id} (${job.status}).`;
      } catch (exc) {
        needKey(exc);
        throw exc;
      }
    });
  });

  async function promoteOrRollback(name, path, json, ui) {
    await task(ui, async (signal) => {
      try {
        const answer = await api(path, { method: "POST", json, signal, write: true });
        const v = answer.production_version;
        return `${answer.action === "promote" ? "Promoted" : "Rolled back"}: ${name} now serves `
          + `${v ? `v${v}` : "the profile's default"} (${answer.deployment.model_version}).`;
      } catch (exc) {
        needKey(exc);
        throw exc;
      }
    });
  }

  async function modelSection(model) {
    const status = el("span", { class: "status", "aria-live": "polite" });
    const error = el("p", { class: "error", role: "alert" });
    const section = el("section", { class: "card registry-model", "aria-label": `Registered model ${model.name}` });
    const rollback = el("button", {
      type: "button", text: "Roll back", "aria-label": `Roll back ${model.name}`,
      disabled: !model.production_version,  // nothing promoted: the profile's model already serves
      title: model.production_version ? undefined : "Nothing promoted yet",
      onclick: async () => {
        await promoteOrRollback(model.name, `v1/registry/models/${encodeURIComponent(model.name)}/rollback`, undefined,
          { button: rollback, status, error });
        refreshRegistry();
      },
    });
    section.append(
      el("h4", {}, model.name, el("span", { class: "sub", text: ` ${model.kind || ""} · ${model.versions} versions` })),
      el("p", { class: "sub", text: `Production: ${model.production_version ? `v${model.production_version}` : "profile default"}`
        + ` · previous: ${model.previous_version ? `v${model.previous_version}` : "—"} · latest: v${model.latest_version ?? "—"}` }),
      el("div", { class: "actions" }, rollback, status),
      error);
    try {
      const { versions } = await api(`v1/registry/models/${encodeURIComponent(model.name)}/versions`);
      // Versions side by side, one column each (newest first); every metric a row, the untuned
      // baselines ("base_*") last. Wide tables scroll inside their box.
      versions.sort((a, b) => b.version - a.version);
      const metricNames = [...new Set(versions.flatMap((v) => Object.keys(v.metrics || {})))]
        .sort((a, b) => (a.startsWith("base_") - b.startsWith("base_")) || a.localeCompare(b));
      const fmt = (x) => (Number.isInteger(x) ? String(x) : Number(x).toFixed(4));
      const row = (label, cell) => el("tr", {}, el("th", { scope: "row", text: label }), versions.map((v) => el("td", {}, cell(v))));
      const promoteButton = (v) => {
        const serving = v.version === model.production_version;
        const button = el("button", {
          type: "button", text: serving ? "In production" : "Promote",
          "aria-label": serving ? `In production: ${model.name} v${v.version}` : `Promote ${model.name} v${v.version}`,
          disabled: v.version === model.production_version,
          onclick: async () => {
            await promoteOrRollback(model.name, `v1/registry/models/${encodeURIComponent(model.name)}/promote`,
              { version: v.version }, { button, status, error });
            refreshRegistry();
          },
        });
        return button;
      };
      const table = el("table", { class: "versions" },
        el("caption", { class: "visually-hidden", text: `Versions of ${model.name}, side by side, with their metrics` }),
        el("thead", {}, el("tr", {},
          el("th", { scope: "col", text: "Version" }),
          versions.map((v) => el("th", { scope: "col", text: `v${v.version}` })))),
        el("tbody", {},
          row("Aliases", (v) => (v.aliases || []).join(", ") || "—"),
          row("Created", (v) => (v.created_at ? new Date(v.created_at * 1000).toLocaleString() : "—")),
          metricNames.map((m) => row(m, (v) => (m in (v.metrics || {}) ? fmt(v.metrics[m]) : "—"))),
          el("tr", {}, el("th", { scope: "row" }, el("span", { class: "visually-hidden", text: "Actions" })),
            versions.map((v) => el("td", {}, promoteButton(v))))));
      section.append(el("div", { class: "table-wrap" }, table));
    } catch (exc) {
      error.textContent = `Could not list versions: ${exc.message}`;
      error.classList.add("shown");
    }
    return section;
  }

  async function refreshRegistry() {
    const ui = { button: $("registry-refresh"), status: $("registry-status"), error: $("registry-error") };
    await task(ui, async (signal) => {
      const { models } = await api("v1/registry/models", { signal });
      const sections = await Promise.all(models.map(modelSection));
      $("registry").replaceChildren(...(sections.length ? sections
        : [el("p", { class: "empty", text: "No registered models yet: a finished training job registers one." })]));
    });
  }
  $("registry-refresh").addEventListener("click", refreshRegistry);
  let registryLoaded = false;
  onShow.models = () => {
    if (!registryLoaded) {
      registryLoaded = true;
      refreshRegistry();
    }
  };

  // ---- start ----------------------------------------------------------------------------------------
  keyState();
  loadPresets();
  loadModels();
  editKit(null);
  loadKits();
  const tabForHash = () => tabs.find((t) => `#${t.id.replace(/^tab-/, "")}` === location.hash);
  selectTab(tabForHash() || tabs[0], false);
  window.addEventListener("hashchange", () => {  // links like /studio#images
    const tab = tabForHash();
    if (tab && tab.getAttribute("aria-selected") !== "true") selectTab(tab, false);
  });
})();
