// The Slack emulator's page: a workspace seen as one person, driven through the control API.
// Vanilla JS, no build step. All text from state is put into the DOM as text nodes (never
// innerHTML), and links only get http(s)/mailto hrefs, so bot or user text cannot inject markup.
// The page speaks the language of the person it acts as: its own words come from GET /_emu/page
// (the bot's catalog), looked up by their English text: L(text, values), Ln(one, other, n).
"use strict";

(() => {
  // -- tiny DOM helpers ------------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else if (key === "testid") {
        el.dataset.testid = value;
      } else if (key === "className") {
        el.className = value;
      } else if (value === true) {
        el.setAttribute(key, "");
      } else {
        el.setAttribute(key, String(value));
      }
    }
    append(el, children);
    return el;
  }

  function append(el, ...children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  const $ = (id) => document.getElementById(id);

  function safeHref(url) {
    try {
      const parsed = new URL(url); // absolute URLs only
      return ["http:", "https:", "mailto:"].includes(parsed.protocol) ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  // -- the page's own words -----------------------------------------------------------------------

  const i18n = { labels: {}, lang: "en", welcome: null };

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (all, name) => (values && name in values ? String(values[name]) : all));
  }

  // The text in the page's language (English when the catalog has none), with {values} filled in.
  function L(text, values) {
    const texts = (i18n.labels[i18n.lang] || {}).texts || {};
    return fill(texts[text] || text, values);
  }

  // A text that depends on a number: the language's form for `count`.
  function Ln(one, other, count, values) {
    const forms = ((i18n.labels[i18n.lang] || {}).plurals || {})[one] || [one, other];
    return fill(forms[count === 1 ? 0 : 1], Object.assign({ count }, values));
  }

  // Like L, but the values may be DOM nodes (a command in <code>, a name in <b>).
  function Lnodes(text, values) {
    const out = [];
    const template = L(text);
    let last = 0;
    template.replace(/\{(\w+)\}/g, (all, name, at) => {
      out.push(template.slice(last, at));
      out.push(name in values ? values[name] : all);
      last = at + all.length;
      return all;
    });
    out.push(template.slice(last));
    return out.filter((part) => part !== "");
  }

  // index.html marks its words: data-label (text), data-label-placeholder, -title, -aria.
  function labelStaticText() {
    document.documentElement.lang = i18n.lang === "zh" ? "zh-CN" : "en";
    document.title = `${L("Clone Bot sandbox")} — Slack emulator`;
    for (const el of document.querySelectorAll("[data-label]")) el.textContent = L(el.dataset.label);
    for (const el of document.querySelectorAll("[data-label-placeholder]")) el.placeholder = L(el.dataset.labelPlaceholder);
    for (const el of document.querySelectorAll("[data-label-title]")) el.title = L(el.dataset.labelTitle);
    for (const el of document.querySelectorAll("[data-label-aria]")) el.setAttribute("aria-label", L(el.dataset.labelAria));
  }

  async function loadPageText() {
    try {
      const resp = await fetch("/_emu/page");
      if (!resp.ok) return;
      const text = await resp.json();
      i18n.labels = text.labels || {};
      i18n.welcome = text.welcome || null;
    } catch (_) {
      // the page stays English and without its welcome panel
    }
  }

  function toast(text, kind) {
    const el = h("div", { className: `toast ${kind || ""}`, testid: "toast", role: "status" }, text);
    $("toasts").appendChild(el);
    setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
  }

  // -- state -------------------------------------------------------------------------------------

  const ui = {
    me: localStorage.getItem("emu.person") || "U0REQ",
    channel: localStorage.getItem("emu.channel") || null,
    thread: null, // ts of the open thread's parent
    data: null,
    drafts: {}, // view_id -> {block_id: {action_id: value}}
    modalSig: null,
    listSig: null,
    threadSig: null,
    zstackOpen: localStorage.getItem("emu.zstack") === "open",
    welcomeOpen: localStorage.getItem("emu.welcome") !== "hidden",
    welcomeSig: null,
  };

  async function api(path, body) {
    const resp = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    let data = null;
    try {
      data = await resp.json();
    } catch (_) {
      data = { ok: false, error: `HTTP ${resp.status}` };
    }
    if (!resp.ok || data.ok === false) {
      const error = new Error(data.error || `HTTP ${resp.status}`);
      error.status = resp.status;
      error.data = data;
      throw error;
    }
    return data.result;
  }

  function reportDelivery(what, delivery) {
    if (delivery && delivery.error) {
      toast(L("{what} failed with the error “{error}”", { what, error: delivery.error }), "error");
    }
  }

  async function act(what, path, body) {
    try {
      const result = await api(path, Object.assign({ user: ui.me }, body));
      // A failed command or click is shown to the person, as Slack does; a message event the
      // app did not take is invisible to people (it is in the emulator's deliveries).
      if (result && Object.prototype.hasOwnProperty.call(result, "status")) {
        reportDelivery(what, result);
      }
      return result;
    } catch (err) {
      toast(L("{what} did not work: {error}", { what, error: err.message }), "error");
      throw err;
    } finally {
      refresh();
    }
  }

  let fetching = false;
  let again = false;

  async function refresh() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    try {
      const resp = await fetch(`/_emu/state?as=${encodeURIComponent(ui.me)}`);
      if (resp.ok) {
        ui.data = await resp.json();
      }
    } catch (_) {
      // the emulator is restarting; the event stream reconnects and triggers a refresh
    }
    try {
      render();
    } catch (err) {
      console.error("render failed", err);
      toast(L("The page could not show this: {error}", { error: err.message }), "error");
    } finally {
      fetching = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  // -- names ---------------------------------------------------------------------------------------

  function userById(id) {
    return (ui.data && ui.data.users.find((u) => u.id === id)) || null;
  }

  function userName(id) {
    const user = userById(id);
    return user ? user.real_name || user.name : id;
  }

  function channelById(id) {
    return (ui.data && ui.data.channels.find((c) => c.id === id)) || null;
  }

  // The welcome panel's people say who is who; without them, members of a user group approve.
  function personOf(userId) {
    const people = (i18n.welcome && i18n.welcome.people) || [];
    const known = people.find((p) => p.user === userId);
    if (known || people.length) return known || null;
    const member = ((ui.data && ui.data.usergroups) || []).some((g) => (g.users || []).includes(userId));
    return member ? { user: userId, role: "approver", group: null } : null;
  }

  function roleName(role) {
    return { requester: L("requester"), approver: L("approver"), outsider: L("outsider") }[role] || role;
  }

  function groupHandle(id) {
    const group = ((ui.data && ui.data.usergroups) || []).find((g) => g.id === id);
    return group ? `@${group.handle}` : "@group";
  }

  // -- mrkdwn --------------------------------------------------------------------------------------

  function unescapeSlack(text) {
    return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  const INLINE =
    /(<[^<>\n]+>)|(`[^`\n]+`)|(\*[^*\n]+\*)|(_[^_\n]+_)|(~[^~\n]+~)|(\[[^\]\n]+\]\([^)\s]+\))|(:[a-z0-9_+-]+:)/;

  // The emoji the bot uses (and a few common ones), drawn as coloured symbols that every system
  // font has (a headless browser may have no emoji font); other :codes: stay text, as in Slack.
  const EMOJI = {
    white_check_mark: ["✔", "ok"], heavy_check_mark: ["✔", "ok"], ballot_box_with_check: ["☑", "ok"],
    thumbsup: ["✔", "ok"], "+1": ["✔", "ok"], tada: ["★", "ok"],
    x: ["✖", "bad"], heavy_multiplication_x: ["✖", "bad"], no_entry: ["⊘", "bad"],
    warning: ["⚠", "warn"], hourglass_flowing_sand: ["◷", "warn"], hourglass: ["◷", "warn"],
    alarm_clock: ["◷", "warn"], key: ["⌘", "info"], gear: ["⚙", "info"], rocket: ["▶", "info"],
    arrow_forward: ["▶", "info"], repeat: ["↻", "info"], mag: ["⌕", "info"],
    information_source: ["ℹ", "info"], eyes: ["◉", "info"], pencil2: ["✎", "info"],
    rotating_light: ["⚠", "bad"], robot_face: ["⚙", "ok"], scales: ["⚖", "info"],
  };

  function mrkdwn(text, opts) {
    const container = h("span", { className: "mrkdwn" });
    const parts = String(text || "").split("```");
    parts.forEach((part, i) => {
      if (i % 2 === 1) {
        container.appendChild(h("pre", { testid: "pre" }, unescapeSlack(part.replace(/^\n/, ""))));
      } else {
        append(container, quoted(part, opts || {}));
      }
    });
    return container;
  }

  // Lines starting with ">" (sent as "&gt;") are a quote, as in Slack.
  function quoted(text, opts) {
    const out = [];
    const lines = text.split("\n");
    lines.forEach((line, i) => {
      const last = i === lines.length - 1;
      const quote = /^(&gt;|>) ?/.exec(line);
      if (quote) {
        out.push(h("span", { className: "quote", testid: "quote" }, inline(line.slice(quote[0].length), opts)));
      } else {
        out.push(inline(line, opts));
        if (!last) out.push("\n");
      }
    });
    return out;
  }

  function inline(text, opts) {
    const out = [];
    let rest = text;
    while (rest) {
      const m = INLINE.exec(rest);
      if (!m) {
        out.push(unescapeSlack(rest));
        break;
      }
      if (m.index > 0) out.push(unescapeSlack(rest.slice(0, m.index)));
      const token = m[0];
      if (m[1]) out.push(angle(token.slice(1, -1)));
      else if (m[2]) out.push(h("code", {}, unescapeSlack(token.slice(1, -1))));
      else if (m[3]) out.push(h("b", {}, inline(token.slice(1, -1), opts)));
      else if (m[4]) out.push(h("i", {}, inline(token.slice(1, -1), opts)));
      else if (m[5]) out.push(h("s", {}, inline(token.slice(1, -1), opts)));
      else if (m[6] && opts.markdown) {
        const close = token.indexOf("](");
        out.push(link(token.slice(close + 2, -1), token.slice(1, close)));
      } else if (m[7] && EMOJI[token.slice(1, -1)]) {
        const [symbol, tone] = EMOJI[token.slice(1, -1)];
        out.push(h("span", { className: `emoji ${tone}`, title: token, "aria-label": token }, symbol));
      } else if (m[7]) {
        // Not an emoji we know: keep the colon and read on after it (the rest may be *bold*…).
        out.push(":");
        rest = rest.slice(m.index + 1);
        continue;
      } else out.push(unescapeSlack(token));
      rest = rest.slice(m.index + token.length);
    }
    return out;
  }

  function link(url, label) {
    const href = safeHref(unescapeSlack(url));
    const text = unescapeSlack(label || url);
    return href ? h("a", { href, target: "_blank", rel: "noopener noreferrer" }, text) : text;
  }

  function angle(inner) {
    const bar = inner.indexOf("|");
    const target = bar >= 0 ? inner.slice(0, bar) : inner;
    const label = bar >= 0 ? inner.slice(bar + 1) : null;
    if (target.startsWith("@")) {
      const id = target.slice(1);
      return h("span", { className: "mention", "data-user": id }, `@${label || userName(id)}`);
    }
    if (target.startsWith("#")) {
      const ch = channelById(target.slice(1));
      return h("span", { className: "mention" }, `#${label || (ch ? ch.name : target.slice(1))}`);
    }
    if (target.startsWith("!subteam^")) {
      return h("span", { className: "mention" }, label || groupHandle(target.slice("!subteam^".length)));
    }
    if (target.startsWith("!date^")) return dateToken(target, label);
    if (target.startsWith("!")) {
      return h("span", { className: "mention" }, `@${target.slice(1)}`);
    }
    if (!safeHref(unescapeSlack(target))) return unescapeSlack(`<${inner}>`); // not a link: as typed
    return link(target, label);
  }

  // Dates and times as Slack shows them to a person: in their time zone and their language.
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];

  function ordinal(n) {
    const s = ["th", "st", "nd", "rd"];
    const v = n % 100;
    return n + (s[(v - 20) % 10] || s[v] || s[0]);
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  // Intl formatters are costly to make and every message's time needs some: made once each.
  const formatters = new Map();

  function formatter(locale, options) {
    const key = `${locale} ${JSON.stringify(options)}`;
    if (!formatters.has(key)) formatters.set(key, new Intl.DateTimeFormat(locale, options));
    return formatters.get(key);
  }

  function knownZone(zone) {
    try {
      formatter("en-US", { timeZone: zone });
      return true;
    } catch (_) {
      return false;
    }
  }

  // The time zone of the person the page acts as (the browser's when they have none).
  function viewerZone() {
    const user = userById(ui.me);
    return user && user.tz && knownZone(user.tz) ? user.tz : undefined;
  }

  function partsIn(date, zone) {
    const parts = {};
    const format = formatter("en-US", {
      timeZone: zone, hourCycle: "h23", weekday: "long", year: "numeric", month: "numeric",
      day: "numeric", hour: "numeric", minute: "numeric", second: "numeric",
    });
    for (const part of format.formatToParts(date)) parts[part.type] = part.value;
    return {
      year: Number(parts.year), month: Number(parts.month), day: Number(parts.day),
      hour: Number(parts.hour) % 24, minute: Number(parts.minute), second: Number(parts.second),
      weekday: parts.weekday,
    };
  }

  function clockTime(date, zone, withSeconds) {
    if (i18n.lang === "zh") {
      const options = { timeZone: zone, hourCycle: "h23", hour: "2-digit", minute: "2-digit" };
      if (withSeconds) options.second = "2-digit";
      return formatter("zh-CN", options).format(date);
    }
    const p = partsIn(date, zone);
    const seconds = withSeconds ? `:${pad(p.second)}` : "";
    return `${p.hour % 12 || 12}:${pad(p.minute)}${seconds} ${p.hour < 12 ? "AM" : "PM"}`;
  }

  function calendarDate(date, zone, style) {
    if (i18n.lang === "zh") {
      const options = style === "short" ? { month: "numeric", day: "numeric" } : { month: "long", day: "numeric" };
      if (style === "long") options.weekday = "long";
      return formatter("zh-CN", Object.assign({ timeZone: zone, year: "numeric" }, options)).format(date);
    }
    const p = partsIn(date, zone);
    const month = MONTHS[p.month - 1];
    if (style === "short") return `${month.slice(0, 3)} ${p.day}, ${p.year}`;
    const medium = `${month} ${ordinal(p.day)}, ${p.year}`;
    return style === "long" ? `${p.weekday}, ${medium}` : medium;
  }

  function formatDate(date, format) {
    const zone = viewerZone();
    const now = new Date();
    const day = (d) => {
      const p = partsIn(d, zone);
      return Date.UTC(p.year, p.month - 1, p.day) / 86400000;
    };
    const dayDiff = day(date) - day(now);
    const pretty = dayDiff === 0 ? L("today") : dayDiff === -1 ? L("yesterday") : dayDiff === 1 ? L("tomorrow") : null;
    const seconds = Math.round((now - date) / 1000);
    const ago = seconds < 60 ? L("just now")
      : seconds < 3600 ? Ln("{count} minute ago", "{count} minutes ago", Math.round(seconds / 60))
        : seconds < 86400 ? Ln("{count} hour ago", "{count} hours ago", Math.round(seconds / 3600))
          : Ln("{count} day ago", "{count} days ago", Math.round(seconds / 86400));
    const p = partsIn(date, zone);
    const tokens = {
      date_num: `${p.year}-${pad(p.month)}-${pad(p.day)}`,
      date: calendarDate(date, zone, "medium"),
      date_short: calendarDate(date, zone, "short"),
      date_long: calendarDate(date, zone, "long"),
      date_pretty: pretty || calendarDate(date, zone, "medium"),
      date_short_pretty: pretty || calendarDate(date, zone, "short"),
      date_long_pretty: pretty || calendarDate(date, zone, "long"),
      time: clockTime(date, zone, false),
      time_secs: clockTime(date, zone, true),
      ago,
    };
    return format.replace(/\{(\w+)\}/g, (all, name) => (name in tokens ? tokens[name] : all));
  }

  function dateToken(target, fallback) {
    // <!date^1712345678^{date_short} at {time}^optional_link|fallback>
    const parts = target.split("^");
    const epoch = Number(parts[1]);
    const format = parts[2] || "{date_num} {time}";
    let text = fallback || "";
    if (Number.isFinite(epoch) && parts.length >= 3) text = formatDate(new Date(epoch * 1000), format);
    return h("time", { className: "date-token", title: fallback || "", datetime: Number.isFinite(epoch) ? new Date(epoch * 1000).toISOString() : null }, text);
  }

  function textObject(obj) {
    if (!obj) return null;
    if (typeof obj === "string") return mrkdwn(obj);
    if (obj.type === "mrkdwn") return mrkdwn(obj.text);
    return h("span", { className: "plain" }, obj.text || "");
  }

  function plainText(obj) {
    if (!obj) return "";
    return typeof obj === "string" ? obj : obj.text || "";
  }

  // -- rich text -----------------------------------------------------------------------------------

  function richElements(elements) {
    return (elements || []).map((el) => {
      let node;
      switch (el.type) {
        case "text":
          node = document.createTextNode(el.text || "");
          break;
        case "link":
          node = link(el.url || "", el.text || el.url);
          break;
        case "user":
          node = h("span", { className: "mention" }, `@${userName(el.user_id)}`);
          break;
        case "channel": {
          const ch = channelById(el.channel_id);
          node = h("span", { className: "mention" }, `#${ch ? ch.name : el.channel_id}`);
          break;
        }
        case "usergroup":
          node = h("span", { className: "mention" }, groupHandle(el.usergroup_id));
          break;
        case "broadcast":
          node = h("span", { className: "mention" }, `@${el.range || "here"}`);
          break;
        case "emoji":
          node = document.createTextNode(el.unicode ? String.fromCodePoint(...el.unicode.split("-").map((c) => parseInt(c, 16))) : `:${el.name}:`);
          break;
        case "date":
          node = dateToken(`!date^${el.timestamp}^${el.format || "{date_num}"}`, el.fallback);
          break;
        default:
          node = document.createTextNode(el.text || "");
      }
      const style = el.style || {};
      if (style.code) node = h("code", {}, node);
      if (style.bold) node = h("b", {}, node);
      if (style.italic) node = h("i", {}, node);
      if (style.strike) node = h("s", {}, node);
      return node;
    });
  }

  function richText(block) {
    const root = h("div", { className: "rt mrkdwn" });
    for (const part of block.elements || []) {
      if (part.type === "rich_text_section") root.appendChild(h("div", {}, richElements(part.elements)));
      else if (part.type === "rich_text_preformatted") root.appendChild(h("pre", { testid: "pre" }, richElements(part.elements)));
      else if (part.type === "rich_text_quote") root.appendChild(h("blockquote", {}, richElements(part.elements)));
      else if (part.type === "rich_text_list") {
        const list = h(part.style === "ordered" ? "ol" : "ul", {});
        for (const item of part.elements || []) list.appendChild(h("li", {}, richElements(item.elements)));
        root.appendChild(list);
      }
    }
    return root;
  }

  // -- blocks --------------------------------------------------------------------------------------

  // ctx: {surface: "message"|"modal", onAction(block, element, value), modal renderers}
  function renderBlocks(blocks, ctx) {
    return (blocks || []).map((block) => renderBlock(block, ctx));
  }

  function renderBlock(block, ctx) {
    const wrap = h("div", { className: `block block-${block.type}`, "data-block-id": block.block_id || "" });
    switch (block.type) {
      case "section": {
        const body = h("div", { className: "section-body" }, textObject(block.text));
        if (block.fields && block.fields.length) {
          body.appendChild(h("div", { className: "fields" }, block.fields.map((f) => h("div", {}, textObject(f)))));
        }
        append(wrap, h("div", { className: "section" }, body, block.accessory ? renderElement(block, block.accessory, ctx) : null));
        break;
      }
      case "header":
        append(wrap, h("div", { className: "block-header" }, plainText(block.text)));
        break;
      case "context":
        append(wrap, h("div", { className: "context" }, (block.elements || []).map((el) =>
          el.type === "image" ? h("span", { className: "muted" }, `[${el.alt_text || "image"}]`) : textObject(el))));
        break;
      case "divider":
        append(wrap, h("hr"));
        break;
      case "actions":
        append(wrap, h("div", { className: "actions" }, (block.elements || []).map((el) => renderElement(block, el, ctx))));
        break;
      case "rich_text":
        append(wrap, richText(block));
        break;
      case "markdown":
        append(wrap, mrkdwn(block.text, { markdown: true }));
        break;
      case "image":
        append(wrap, h("div", { className: "muted" }, plainText(block.title), ` [image: ${block.alt_text || ""}]`));
        break;
      case "input":
        append(wrap, ctx.input ? ctx.input(block) : null);
        break;
      default:
        append(wrap, h("span", { className: "muted" }, `[${block.type} block]`));
    }
    return wrap;
  }

  function optionsOf(element) {
    const options = (element.options || []).slice();
    for (const group of element.option_groups || []) options.push(...(group.options || []));
    return options;
  }

  function selectWithOptions(element, selectedValue, attrs) {
    const select = h("select", attrs);
    select.appendChild(h("option", { value: "" }, plainText(element.placeholder) || L("Select…")));
    const addOption = (parent, option) => parent.appendChild(
      h("option", { value: option.value, selected: option.value === selectedValue }, plainText(option.text)));
    for (const option of element.options || []) addOption(select, option);
    for (const group of element.option_groups || []) {
      const og = h("optgroup", { label: plainText(group.label) });
      for (const option of group.options || []) addOption(og, option);
      select.appendChild(og);
    }
    return select;
  }

  function withConfirm(confirm, run) {
    if (!confirm) return run();
    const root = $("confirm-root");
    const done = (ok) => {
      clear(root);
      if (ok) run();
    };
    append(clear(root), h("div", { className: "overlay", testid: "confirm" },
      h("div", { className: "modal" },
        h("div", { className: "modal-head" }, h("h2", {}, plainText(confirm.title) || L("Are you sure?"))),
        h("div", { className: "modal-body" }, textObject(confirm.text)),
        h("div", { className: "modal-foot" },
          h("button", { type: "button", className: "btn", testid: "confirm-cancel", onclick: () => done(false) }, plainText(confirm.deny) || L("Cancel")),
          h("button", { type: "button", className: `btn ${confirm.style === "danger" ? "danger" : "primary"}`, testid: "confirm-ok", onclick: () => done(true) }, plainText(confirm.confirm) || L("Yes"))))));
    return undefined;
  }

  // An interactive element outside input blocks (section accessory, actions block).
  function renderElement(block, el, ctx) {
    const fire = (value) => withConfirm(el.confirm, () => ctx.onAction(block, el, value));
    const testid = `action-${el.action_id}`;
    switch (el.type) {
      case "button": {
        const style = el.style === "primary" ? "primary" : el.style === "danger" ? "danger" : "";
        if (el.url && safeHref(el.url)) {
          return h("a", { className: `btn ${style}`, href: safeHref(el.url), target: "_blank", rel: "noopener noreferrer", testid, "data-action-id": el.action_id, onclick: () => ctx.onAction(block, el, null) }, plainText(el.text));
        }
        return h("button", { type: "button", className: `btn ${style}`, testid, "data-action-id": el.action_id, "data-value": el.value || "", onclick: () => fire(null) }, plainText(el.text));
      }
      case "static_select":
      case "overflow": {
        const select = selectWithOptions(el, el.initial_option ? el.initial_option.value : null, { testid, "data-action-id": el.action_id });
        select.addEventListener("change", () => select.value && fire(select.value));
        return select;
      }
      case "users_select":
      case "conversations_select":
      case "channels_select": {
        const select = pickerSelect(el, null, { testid, "data-action-id": el.action_id });
        select.addEventListener("change", () => select.value && fire(select.value));
        return select;
      }
      case "datepicker": {
        const input = h("input", { type: "date", testid, value: el.initial_date || "" });
        input.addEventListener("change", () => input.value && fire(input.value));
        return input;
      }
      case "image":
        return h("span", { className: "muted" }, `[${el.alt_text || "image"}]`);
      default:
        return h("span", { className: "muted" }, `[${el.type}]`);
    }
  }

  function pickerSelect(el, selected, attrs) {
    const select = h("select", attrs);
    select.appendChild(h("option", { value: "" }, plainText(el.placeholder) || L("Select…")));
    const items = el.type.includes("users")
      ? ui.data.users.filter((u) => !u.is_bot).map((u) => [u.id, u.real_name || u.name])
      : ui.data.channels.filter((c) => c.type !== "im").map((c) => [c.id, `#${c.name}`]);
    for (const [id, label] of items) select.appendChild(h("option", { value: id, selected: id === selected }, label));
    return select;
  }

  // -- messages ------------------------------------------------------------------------------------

  function formatTs(ts) {
    return clockTime(new Date(Number(ts) * 1000), viewerZone(), false);
  }

  function fullTs(ts) {
    const date = new Date(Number(ts) * 1000);
    const zone = viewerZone();
    return `${calendarDate(date, zone, "long")} ${clockTime(date, zone, true)}${zone ? ` (${zone})` : ""}`;
  }

  function renderMessage(message, opts) {
    const isBot = Boolean(message.bot_id);
    const author = isBot ? (userName(ui.data.bot.user_id) || "Clone Bot") : userName(message.user);
    const channel = message.channel;
    const ctx = {
      surface: "message",
      onAction: (block, el, value) => act(`${plainText(el.text) || el.action_id}`, "/_emu/click", {
        channel, ts: message.ts, action_id: el.action_id, block_id: block.block_id,
        ...(value === null || value === undefined ? {} : { selected: value }),
      }),
    };
    const body = message.blocks && message.blocks.length ? renderBlocks(message.blocks, ctx) : mrkdwn(message.text);
    const ephemeral = Boolean(opts.ephemeral);
    const item = h("div", {
      className: `message${ephemeral ? " ephemeral" : ""}`,
      testid: ephemeral ? "ephemeral" : "message",
      "data-ts": message.ts,
      "data-channel": channel,
      "data-user": message.user,
    },
    h("div", { className: `avatar${isBot ? " bot" : ""}`, "aria-hidden": "true" }, author.slice(0, 1).toUpperCase()),
    h("div", { className: "msg-main" },
      h("div", { className: "msg-head" },
        h("span", { className: "msg-author" }, author),
        isBot ? h("span", { className: "app-tag" }, L("APP")) : null,
        h("time", { className: "msg-time", testid: "msg-time", "data-ts": message.ts, title: fullTs(message.ts) }, formatTs(message.ts)),
        message.edited ? h("span", { className: "edited" }, L("(edited)")) : null),
      ephemeral ? h("div", { className: "ephemeral-note", testid: "ephemeral-note" }, L("Only visible to you")) : null,
      h("div", { className: "msg-body" }, body),
      !opts.inThread && message.reply_count
        ? h("button", { type: "button", className: "replies-link", testid: `thread-link-${message.ts}`, onclick: () => openThread(message.ts) },
          Ln("{count} reply", "{count} replies", message.reply_count))
        : null));
    return item;
  }

  const HOME = "home"; // the app's Home tab, shown in the main pane instead of a conversation

  function currentChannel() {
    if (!ui.data) return null;
    if (ui.channel === HOME) return { id: HOME, type: HOME, name: "Home", messages: [] };
    return channelById(ui.channel) || ui.data.channels.find((c) => c.type !== "im") || ui.data.channels[0] || null;
  }

  function renderMessages(channel) {
    const ephemerals = ui.data.ephemerals.filter((m) => m.channel === channel.id && !(m.thread_ts && m.thread_ts !== m.ts));
    const timeline = channel.messages.map((m) => ({ m, ephemeral: false }))
      .concat(ephemerals.map((m) => ({ m, ephemeral: true })))
      .sort((a, b) => Number(a.m.ts) - Number(b.m.ts));
    const sig = JSON.stringify([channel.id, timeline, ui.data.users.length]);
    if (sig === ui.listSig) return;
    ui.listSig = sig;
    const box = $("messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    clear(box);
    if (!timeline.length) box.appendChild(h("div", { className: "muted empty" }, L("No messages yet.")));
    for (const { m, ephemeral } of timeline) box.appendChild(renderMessage(m, { ephemeral }));
    if (atBottom || !box.dataset.channel || box.dataset.channel !== channel.id) box.scrollTop = box.scrollHeight;
    box.dataset.channel = channel.id;
  }

  function openThread(ts) {
    ui.thread = ts;
    ui.threadSig = null;
    render();
    $("reply-box").focus();
  }

  function renderHome() {
    const home = ui.data.home;
    const sig = JSON.stringify([HOME, home && home.id, home && home.hash, ui.me]);
    if (sig === ui.listSig) return;
    ui.listSig = sig;
    const box = clear($("messages"));
    box.dataset.channel = HOME;
    if (!home) {
      box.appendChild(h("div", { className: "muted empty" }, L("The app has not published a Home tab for you yet.")));
      return;
    }
    const ctx = {
      surface: "home",
      onAction: (block, el, value) => act(plainText(el.text) || el.action_id, "/_emu/view-action", {
        view_id: home.id, action_id: el.action_id, block_id: block.block_id,
        ...(value === null || value === undefined ? {} : { selected: value }),
      }).catch(() => {}),
    };
    box.appendChild(h("div", { className: "home", testid: "app-home-view", "data-view-id": home.id }, renderBlocks(home.blocks, ctx)));
  }

  function renderThread(channel) {
    const pane = $("thread");
    const parent = ui.thread ? channel.messages.find((m) => m.ts === ui.thread) : null;
    if (!parent) {
      pane.hidden = true;
      ui.threadSig = null;
      return;
    }
    pane.hidden = false;
    const ephemerals = ui.data.ephemerals.filter((m) => m.channel === channel.id && m.thread_ts === parent.ts);
    const replies = (parent.replies || []).map((m) => ({ m, ephemeral: false }))
      .concat(ephemerals.map((m) => ({ m, ephemeral: true })))
      .sort((a, b) => Number(a.m.ts) - Number(b.m.ts));
    const sig = JSON.stringify([parent, replies]);
    if (sig === ui.threadSig) return;
    ui.threadSig = sig;
    const box = clear($("thread-messages"));
    box.dataset.threadTs = parent.ts;
    box.appendChild(renderMessage(parent, { inThread: true }));
    box.appendChild(h("div", { className: "thread-divider" }, Ln("{count} reply", "{count} replies", parent.reply_count || 0)));
    for (const { m, ephemeral } of replies) box.appendChild(renderMessage(m, { ephemeral, inThread: true }));
    box.scrollTop = box.scrollHeight;
  }

  // -- sidebar -------------------------------------------------------------------------------------

  function renderSidebar(channel) {
    const data = ui.data;
    $("team-name").textContent = data.team.name;
    const person = $("person");
    const people = data.users.filter((u) => !u.is_bot);
    const wanted = JSON.stringify([i18n.lang, people.map((u) => u.id)]);
    if (person.dataset.people !== wanted) {
      clear(person);
      for (const user of people) {
        const who = personOf(user.id);
        const label = who ? `${user.name} — ${roleName(who.role)}` : user.name;
        person.appendChild(h("option", { value: user.id }, label));
      }
      person.dataset.people = wanted;
    }
    person.value = ui.me;
    renderLocalTime();
    const approval = data.emulator.approval_channel;
    const channels = clear($("channels"));
    for (const ch of data.channels.filter((c) => c.type !== "im")) {
      channels.appendChild(h("li", {}, h("button", {
        type: "button", testid: `channel-${ch.id}`, "data-name": ch.name,
        "aria-current": ch.id === channel.id ? "true" : "false",
        onclick: () => selectChannel(ch.id),
      }, ch.type === "group" ? "🔒" : "#", ch.name, ch.id === approval ? h("span", { className: "badge", testid: "approval-badge", title: L("approval channel") }, L("approvals")) : null)));
    }
    const dms = clear($("dms"));
    const dm = data.channels.find((c) => c.type === "im");
    if (dm) {
      dms.appendChild(h("li", {}, h("button", {
        type: "button", testid: `channel-${dm.id}`, "data-name": "dm",
        "aria-current": dm.id === channel.id ? "true" : "false",
        onclick: () => selectChannel(dm.id),
      }, h("span", { className: "icon" }, "●"), userName(data.bot.user_id), h("span", { className: "app-tag" }, L("APP")))));
    } else {
      dms.appendChild(h("li", { className: "muted empty-dm" }, L("No DM with the bot yet")));
    }
    dms.appendChild(h("li", {}, h("button", {
      type: "button", testid: "channel-home", "data-name": "home",
      "aria-current": channel.id === HOME ? "true" : "false",
      onclick: () => openHome(),
    }, h("span", { className: "icon" }, "⌂"), L("{bot} Home", { bot: userName(data.bot.user_id) }))));
    const emu = data.emulator;
    const mode = $("mode");
    mode.textContent = emu.uses_socket ? `Socket Mode (${emu.socket_connections.length})` : emu.mode === "http" ? "HTTP" : emu.mode;
    mode.title = emu.uses_socket ? L("The bot is connected over Socket Mode.")
      : L("The bot answers over HTTP (request URLs), as a Slack app with a public URL.");
    // Block Kit the bot sent that Slack would refuse: a problem to see, not a status line.
    const invalid = $("validation-warning");
    invalid.hidden = !data.validation_failures;
    invalid.textContent = `⚠ ${data.validation_failures}`;
    invalid.title = L("{count} payloads the bot sent failed Slack's validation; /_emu/state lists them", { count: data.validation_failures });
  }

  // Under "Viewing as": the person's time zone and their time now, which the page's times use.
  function renderLocalTime() {
    const zone = viewerZone();
    $("person-zone").textContent = L("Local time {time}, {zone}", { time: clockTime(new Date(), zone, false), zone: zone || "—" });
  }

  function openHome() {
    selectChannel(HOME);
    act(L("{bot} Home", { bot: userName(ui.data.bot.user_id) }), "/_emu/home", {}).catch(() => {}); // app_home_opened: the app (re)publishes
  }

  function selectChannel(id) {
    ui.channel = id;
    ui.thread = null;
    localStorage.setItem("emu.channel", id);
    render();
  }

  // -- modals --------------------------------------------------------------------------------------

  function draftFor(viewId) {
    if (!ui.drafts[viewId]) ui.drafts[viewId] = {};
    return ui.drafts[viewId];
  }

  function setDraft(viewId, blockId, actionId, value) {
    const draft = draftFor(viewId);
    draft[blockId] = draft[blockId] || {};
    draft[blockId][actionId] = value;
  }

  function draftValue(view, blockId, actionId) {
    const draft = ui.drafts[view.id];
    if (draft && draft[blockId] && actionId in draft[blockId]) return { found: true, value: draft[blockId][actionId] };
    return { found: false };
  }

  // The current value of an input element: typed draft, else the view's state, else its initial.
  function currentValue(view, blockId, el) {
    const d = draftValue(view, blockId, el.action_id);
    if (d.found) return d.value;
    const state = ((view.state || {}).values || {})[blockId];
    const s = state && state[el.action_id];
    if (s && s.type === el.type) {
      if ("value" in s) return s.value;
      if ("selected_option" in s) return s.selected_option ? (el.type === "external_select" ? s.selected_option : s.selected_option.value) : null;
      if ("selected_options" in s) return (s.selected_options || []).map((o) => o.value);
      for (const key of ["selected_user", "selected_conversation", "selected_channel", "selected_date", "selected_time"]) {
        if (key in s) return s[key];
      }
    }
    switch (el.type) {
      case "plain_text_input":
      case "number_input":
      case "email_text_input":
      case "url_text_input":
        return el.initial_value === undefined ? "" : String(el.initial_value);
      case "static_select":
      case "radio_buttons":
        return el.initial_option ? el.initial_option.value : null;
      case "external_select":
        return el.initial_option || null;
      case "multi_static_select":
      case "checkboxes":
        return (el.initial_options || []).map((o) => o.value);
      case "users_select":
        return el.initial_user || null;
      case "conversations_select":
        return el.initial_conversation || null;
      case "channels_select":
        return el.initial_channel || null;
      case "datepicker":
        return el.initial_date || null;
      case "timepicker":
        return el.initial_time || null;
      default:
        return null;
    }
  }

  function viewAction(view, block, el, value) {
    const body = { view_id: view.id, action_id: el.action_id, block_id: block.block_id };
    if (value !== null && value !== undefined) body.selected = value;
    return act(plainText(el.text) || el.action_id, "/_emu/view-action", body).catch(() => {});
  }

  // Called when an input element changes: remember it and tell the emulator, which keeps it in
  // the view's state and sends block_actions only for dispatch_action inputs, as Slack does.
  function inputChanged(view, block, el, value) {
    setDraft(view.id, block.block_id, el.action_id, value);
    viewAction(view, block, el, value === "" ? null : value);
  }

  function renderInputElement(view, block) {
    const el = block.element || {};
    const testid = `modal-input-${block.block_id}`;
    const value = currentValue(view, block.block_id, el);
    const id = `in-${view.id}-${block.block_id}`;
    switch (el.type) {
      case "plain_text_input":
      case "number_input":
      case "email_text_input":
      case "url_text_input": {
        const attrs = {
          id, testid, name: block.block_id, "data-action-id": el.action_id,
          placeholder: plainText(el.placeholder) || null,
          maxlength: el.max_length || null,
        };
        const control = el.multiline ? h("textarea", attrs) : h("input", Object.assign(attrs, {
          type: "text", inputmode: el.type === "number_input" ? (el.is_decimal_allowed ? "decimal" : "numeric") : null,
        }));
        control.value = value === null || value === undefined ? "" : String(value);
        control.addEventListener("input", () => setDraft(view.id, block.block_id, el.action_id, control.value));
        control.addEventListener("change", () => inputChanged(view, block, el, control.value));
        return control;
      }
      case "static_select": {
        const select = selectWithOptions(el, value, { id, testid, name: block.block_id, "data-action-id": el.action_id });
        select.addEventListener("change", () => inputChanged(view, block, el, select.value || null));
        return select;
      }
      case "multi_static_select": {
        const chosen = new Set(value || []);
        const select = h("select", { id, testid, multiple: true, name: block.block_id, "data-action-id": el.action_id });
        for (const option of optionsOf(el)) select.appendChild(h("option", { value: option.value, selected: chosen.has(option.value) }, plainText(option.text)));
        select.addEventListener("change", () => inputChanged(view, block, el, Array.from(select.selectedOptions).map((o) => o.value)));
        return select;
      }
      case "external_select":
        return externalSelect(view, block, el, value, id, testid);
      case "checkboxes":
      case "radio_buttons": {
        const multi = el.type === "checkboxes";
        const chosen = new Set(multi ? value || [] : value ? [value] : []);
        const group = h("div", { id, testid, role: multi ? "group" : "radiogroup", "data-action-id": el.action_id });
        for (const option of el.options || []) {
          const input = h("input", {
            type: multi ? "checkbox" : "radio", name: `${view.id}-${block.block_id}`, value: option.value,
            testid: `${multi ? "checkbox" : "radio"}-${block.block_id}-${option.value}`,
            checked: chosen.has(option.value),
          });
          input.addEventListener("change", () => {
            const picked = Array.from(group.querySelectorAll("input")).filter((i) => i.checked).map((i) => i.value);
            inputChanged(view, block, el, multi ? picked : picked[0] || null);
          });
          group.appendChild(h("label", { className: "choice" }, input, textObject(option.text),
            option.description ? h("span", { className: "muted" }, ` — ${plainText(option.description)}`) : null));
        }
        return group;
      }
      case "users_select":
      case "conversations_select":
      case "channels_select": {
        const select = pickerSelect(el, value, { id, testid, "data-action-id": el.action_id });
        select.addEventListener("change", () => inputChanged(view, block, el, select.value || null));
        return select;
      }
      case "datepicker":
      case "timepicker": {
        const input = h("input", { id, testid, type: el.type === "datepicker" ? "date" : "time", "data-action-id": el.action_id });
        input.value = value || "";
        input.addEventListener("change", () => inputChanged(view, block, el, input.value || null));
        return input;
      }
      default:
        return h("span", { className: "muted" }, `[${el.type} input]`);
    }
  }

  function externalSelect(view, block, el, value, id, testid) {
    const list = h("ul", { className: "suggestions", testid: `suggestions-${block.block_id}` });
    const chosen = h("div", { className: "selected-option", testid: `selected-${block.block_id}` },
      value ? L("Selected: {option}", { option: plainText(value.text) || value.value }) : "");
    const input = h("input", { id, testid, type: "text", role: "combobox", "data-action-id": el.action_id,
      placeholder: plainText(el.placeholder) || L("Type to search…"), "aria-autocomplete": "list" });
    let timer = null;
    let seq = 0;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const mine = ++seq;
        const minimum = el.min_query_length === undefined ? 3 : el.min_query_length;
        if (input.value.length < minimum) {
          clear(list);
          return;
        }
        try {
          const result = await api("/_emu/suggest", { user: ui.me, view_id: view.id, action_id: el.action_id, text: input.value });
          if (mine !== seq) return;
          clear(list);
          for (const option of result.options || []) {
            list.appendChild(h("li", {}, h("button", {
              type: "button", testid: `suggestion-${option.value}`, "data-value": option.value,
              onclick: () => {
                clear(list);
                input.value = plainText(option.text);
                chosen.textContent = L("Selected: {option}", { option: plainText(option.text) });
                inputChanged(view, block, el, option);
              },
            }, plainText(option.text))));
          }
          if (!list.firstChild) list.appendChild(h("li", { className: "muted" }, L("No matches")));
        } catch (err) {
          toast(L("Suggestions: {error}", { error: err.message }), "error");
        }
      }, 250);
    });
    return h("div", { className: "external-select" }, input, list, chosen);
  }

  function renderInputBlock(view, block) {
    const error = (view.errors || {})[block.block_id];
    const el = block.element || {};
    return h("div", { className: `input-block${error ? " has-error" : ""}`, testid: `input-${block.block_id}`, "data-block-id": block.block_id },
      h("label", { className: "input-label", for: `in-${view.id}-${block.block_id}` }, plainText(block.label),
        block.optional ? h("span", { className: "optional" }, L("(optional)")) : null),
      renderInputElement(view, block),
      block.hint ? h("div", { className: "hint" }, plainText(block.hint)) : null,
      error ? h("div", { className: "field-error", testid: `error-${block.block_id}`, role: "alert" }, error) : null);
  }

  function collectValues(view) {
    // Everything the person touched; untouched inputs keep their value in the emulator.
    const out = {};
    const draft = ui.drafts[view.id] || {};
    for (const block of view.blocks || []) {
      if (block.type !== "input" || !block.element) continue;
      const values = draft[block.block_id];
      if (!values || !(block.element.action_id in values)) continue;
      let value = values[block.element.action_id];
      if (value === "") value = null;
      out[block.block_id] = { [block.element.action_id]: value };
    }
    return out;
  }

  async function submitView(view) {
    const what = L("Submitting “{title}”", { title: plainText(view.title) });
    const result = await act(what, "/_emu/submit", { view_id: view.id, values: collectValues(view) }).catch(() => null);
    // Refused as Slack's client refuses (a required field empty…): the errors are on the view.
    if (result && result.refused) ui.modalSig = undefined;
  }

  function renderModal() {
    const root = $("modal-root");
    const views = ui.data.views || [];
    const top = views.length ? views[views.length - 1] : null;
    const sig = top ? JSON.stringify([top.id, top.hash, top.errors, views.length, ui.me]) : null;
    if (sig === ui.modalSig) return;
    ui.modalSig = sig;
    clear(root);
    if (!top) return;
    // Drafts of views that are gone can go too.
    for (const id of Object.keys(ui.drafts)) if (!views.some((v) => v.id === id)) delete ui.drafts[id];
    const view = top;
    const ctx = {
      surface: "modal",
      input: (block) => renderInputBlock(view, block),
      onAction: (block, el, value) => viewAction(view, block, el, value),
    };
    const focused = document.activeElement && document.activeElement.id;
    append(root, h("div", { className: "overlay", testid: "modal-overlay" },
      h("form", {
        className: "modal", testid: "modal", "data-view-id": view.id, "data-callback-id": view.callback_id || "",
        role: "dialog", "aria-modal": "true", novalidate: true,
        onsubmit: (ev) => {
          ev.preventDefault();
          submitView(view);
        },
      },
      h("div", { className: "modal-head" },
        h("h2", { testid: "modal-title" }, plainText(view.title)),
        h("button", { type: "button", className: "btn", testid: "modal-x", "aria-label": L("Close"), onclick: () => act(L("Close"), "/_emu/close", { view_id: view.id }).catch(() => {}) }, "✕")),
      h("div", { className: "modal-body", testid: "modal-body" }, renderBlocks(view.blocks, ctx)),
      h("div", { className: "modal-foot" },
        h("button", { type: "button", className: "btn", testid: "modal-close", onclick: () => act(L("Close"), "/_emu/close", { view_id: view.id }).catch(() => {}) },
          plainText(view.close) || (views.length > 1 ? L("Back") : L("Cancel"))),
        view.submit ? h("button", { type: "submit", className: "btn primary", testid: "modal-submit" }, plainText(view.submit)) : null))));
    if (focused) {
      const again = document.getElementById(focused);
      if (again) again.focus();
    }
  }

  // -- ZStack panel --------------------------------------------------------------------------------

  async function zget(path) {
    const resp = await fetch(`/_emu/zstack/${path}`);
    const data = await resp.json().catch(() => ({}));
    return { ok: resp.ok, status: resp.status, data };
  }

  async function zpost(path, body, what) {
    const resp = await fetch(`/_emu/zstack/${path}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (!resp.ok) toast(L("{what} did not work: {error}", { what, error: `HTTP ${resp.status} ${await resp.text()}` }), "error");
    else toast(what);
    renderZStack(true);
  }

  function table(headers, rows, testid) {
    return h("table", { testid }, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
      h("tbody", {}, rows.length ? rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c === null || c === undefined ? "" : String(c)))))
        : h("tr", {}, h("td", { colspan: headers.length, className: "muted" }, L("none")))));
  }

  let zstackTimer = null;

  async function renderZStack(force) {
    const panel = $("zstack");
    $("zstack-toggle").setAttribute("aria-expanded", ui.zstackOpen ? "true" : "false");
    $("zstack-toggle").textContent = ui.zstackOpen ? "ZStack ◂" : "ZStack ▸";
    panel.hidden = !ui.zstackOpen;
    clearTimeout(zstackTimer);
    if (!ui.zstackOpen) return;
    zstackTimer = setTimeout(renderZStack, 2000);
    const typing = document.activeElement && document.activeElement.tagName === "INPUT";
    if (!force && panel.contains(document.activeElement) && typing) return; // someone is typing
    const [state, counters] = await Promise.all([zget("state"), zget("counters")]).catch(() => [{ ok: false, data: {} }, { ok: false, data: {} }]);
    clear(panel);
    panel.appendChild(h("h2", {}, L("ZStack simulator")));
    if (!state.ok) {
      panel.appendChild(h("div", { testid: "zstack-status", "data-connected": "false" },
        state.data && state.data.error === "not_connected" ? L("Not connected: the page has no ZStack simulator to show.")
          : L("Not reachable ({reason}).", { reason: state.data.message || state.status })));
      return;
    }
    const s = state.data;
    const c = counters.data || {};
    panel.appendChild(h("div", { testid: "zstack-status", "data-connected": "true" }, L("Connected; ZStack's clock {now}, clone mode {mode}", { now: s.now, mode: s.mode.clone })));
    panel.appendChild(h("h3", {}, L("Faults and modes")));
    const latency = h("input", { type: "number", min: "0", step: "0.1", value: "0", testid: "zstack-latency", "aria-label": L("Latency in seconds"), className: "latency" });
    panel.appendChild(h("div", { className: "row" }, L("Latency (s)"), latency,
      h("button", { type: "button", className: "btn", testid: "zstack-latency-apply", onclick: () => zpost("latency", { seconds: Number(latency.value || 0) }, L("Latency set to {seconds} s", { seconds: latency.value || 0 })) }, L("Apply"))));
    panel.appendChild(h("div", { className: "row" },
      h("button", { type: "button", className: "btn danger", testid: "zstack-fail-next", onclick: () => zpost("fail-next-clones", { count: 1 }, L("The next clone will fail")) }, L("Fail the next clone")),
      h("span", { className: "muted", testid: "zstack-pending-failures", "data-count": s.pending_failures }, L("pending: {count}", { count: s.pending_failures }))));
    const accounts = Array.from(new Set((s.sessions || []).map((x) => x.account)));
    const account = h("select", { testid: "zstack-expire-account", "aria-label": L("Account") }, accounts.map((a) => h("option", { value: a }, a)));
    panel.appendChild(h("div", { className: "row" }, L("Expire sessions of"), account,
      h("button", { type: "button", className: "btn", testid: "zstack-expire", disabled: !accounts.length, onclick: () => zpost("sessions/expire", { account: account.value }, L("Sessions of {account} expired", { account: account.value })) }, L("Expire")),
      h("button", { type: "button", className: "btn", testid: "zstack-expire-all", onclick: () => zpost("sessions/expire", { all: true }, L("All sessions expired")) }, L("All"))));
    const mode = h("select", { testid: "zstack-mode", "aria-label": L("Clone mode") },
      ["async", "sync"].map((m) => h("option", { value: m, selected: m === s.mode.clone }, m)));
    mode.addEventListener("change", () => zpost("mode", { clone: mode.value }, L("Clone mode: {mode}", { mode: mode.value })));
    panel.appendChild(h("div", { className: "row" }, L("Clone mode"), mode,
      h("button", { type: "button", className: "btn", testid: "zstack-reset", onclick: () => zpost("reset", {}, L("Simulator reset")) }, L("Reset"))));
    panel.appendChild(h("h3", {}, L("Model services")));
    panel.appendChild(table([L("name"), "uuid", L("owner")], (s.model_services || []).map((m) => [m.inventory.name, String(m.inventory.uuid || "").slice(0, 8), m.owner_account]), "zstack-services"));
    panel.appendChild(h("h3", {}, L("Sessions")));
    panel.appendChild(table([L("session"), L("Account"), L("user"), L("valid")], (s.sessions || []).map((x) => [x.uuid, x.account, x.user, x.valid ? L("yes") : L("expired")]), "zstack-sessions"));
    panel.appendChild(h("h3", {}, L("Jobs")));
    panel.appendChild(table([L("job"), L("operation"), L("state")], (s.jobs || []).map((j) => [String(j.uuid).slice(0, 8), j.operation, j.state]), "zstack-jobs"));
    panel.appendChild(h("h3", {}, L("Counters")));
    panel.appendChild(table([L("operation"), L("requests")], Object.entries(c.requests_by_operation || {}), "zstack-counters"));
  }

  // -- the welcome panel ---------------------------------------------------------------------------

  // Who the people are, the ZStack logins and the first steps, for someone who has just opened
  // the page (what the terminal prints too). Hidden with "Hide", back with the header's "Guide".
  function renderWelcome() {
    const panel = $("welcome");
    const guide = i18n.welcome;
    const toggle = $("welcome-toggle");
    toggle.hidden = !guide;
    toggle.setAttribute("aria-expanded", guide && ui.welcomeOpen ? "true" : "false");
    panel.hidden = !guide || !ui.welcomeOpen;
    if (panel.hidden) {
      ui.welcomeSig = null;
      return;
    }
    const minute = Math.floor(Date.now() / 60000); // the people's clocks
    const sig = JSON.stringify([i18n.lang, ui.data.users, ui.data.usergroups, ui.data.emulator.approval_channel, minute]);
    if (sig === ui.welcomeSig) return;
    ui.welcomeSig = sig;
    const people = guide.people.map((p) => ({ p, user: userById(p.user) })).filter((x) => x.user);
    const requester = (people.find((x) => x.p.role === "requester") || {}).user || null;
    const approval = channelById(ui.data.emulator.approval_channel);
    const channel = h("b", {}, approval ? `#${approval.name}` : L("approval channel"));
    const login = guide.logins.find((x) => x.suggested) || guide.logins.find((x) => x.kind === "account");
    const person = requester ? h("b", {}, requester.name) : "";
    const command = (text) => h("button", {
      type: "button", className: "command", testid: "welcome-command", "data-command": text,
      onclick: () => useCommand(text, requester && requester.id),
    }, text);
    const steps = h("ol", { className: "steps", testid: "welcome-steps" },
      login ? h("li", {}, Lnodes("As {person}, type {command} in any channel and log in, e.g. as the account {account} with the password {password}.", {
        person, command: command("/zstack login"), account: h("code", {}, login.account), password: h("code", {}, login.password),
      })) : null,
      h("li", {}, Lnodes("Type {command}, give a reason and submit: the request card appears in {channel}.", {
        command: command(`/clone-model ${guide.source}`), channel,
      })),
      h("li", {}, Lnodes("Switch to an approver, open the card's thread in {channel} and approve: the new model service appears there and in {person}'s DM.", {
        channel: channel.cloneNode(true), person: person ? person.cloneNode(true) : "",
      })));
    const langs = ui.data.langs || {};
    const reader = people.find((x) => langs[x.user.id] === "zh");
    const rows = people.map(({ p, user }) => h("tr", { testid: "welcome-person", "data-user": user.id },
      h("td", { className: "nowrap" }, h("b", {}, user.name), " ", h("span", { className: "muted" }, user.real_name || "")),
      h("td", {}, roleName(p.role), p.group ? h("span", { className: "muted" }, ` · ${L("member of {group}", { group: groupHandle(p.group) })}`) : null),
      h("td", { testid: "welcome-zone" }, user.tz && knownZone(user.tz)
        ? L("{zone}, now {time}", { zone: user.tz, time: clockTime(new Date(), user.tz, false) }) : "—"),
      h("td", { className: "nowrap" }, langs[user.id] === "zh" ? L("Chinese") : L("English"), h("span", { className: "muted" }, ` · ${user.locale || "—"}`))));
    const kinds = { account: L("Account"), iam_user: L("IAM user of an account"), iam2: L("Project user (IAM2)") };
    const logins = guide.logins.map((x) => h("tr", { testid: "welcome-login", className: x.suggested ? "suggested" : null },
      h("td", {}, kinds[x.kind] || x.kind), h("td", {}, x.account ? h("code", {}, x.account) : "—"),
      h("td", {}, x.user ? h("code", {}, x.user) : "—"), h("td", {}, h("code", {}, x.password))));
    const head = (...names) => h("thead", {}, h("tr", {}, names.map((name) => h("th", {}, name))));
    clear(panel);
    append(panel,
      h("div", { className: "welcome-head" },
        h("h2", { testid: "welcome-title" }, L("Welcome to the Clone Bot sandbox")),
        h("button", { type: "button", className: "btn", testid: "welcome-hide", onclick: () => showWelcome(false) }, L("Hide"))),
      h("p", {}, L("This page is a Slack workspace with the bot in it, on your machine. Choose who you are under “Viewing as”; each person sees their own channels, DMs and forms.")),
      h("h3", {}, L("First steps")), steps,
      h("p", { className: "muted" }, L("Click a command to put it in the message box.")),
      h("p", { className: "muted" }, L("The ZStack panel (top right) can make the next clone fail, to show a cause chain.")),
      h("div", { className: "welcome-tables" },
        h("div", {}, h("h3", {}, L("People")),
          h("table", { testid: "welcome-people" }, head(L("Name"), L("Role"), L("Time zone"), L("Language")), h("tbody", {}, rows)),
          reader ? h("p", { className: "muted" }, L("Each person sees this page and the bot's messages to them in their language: {person} reads Chinese.", { person: reader.user.name })) : null),
        guide.logins.length ? h("div", {}, h("h3", {}, L("ZStack logins")),
          h("p", { className: "muted" }, Lnodes("The fields of the {command} form:", { command: h("code", {}, "/zstack login") })),
          h("table", { testid: "welcome-logins" }, head(L("Log in as"), L("Account name"), L("User name"), L("Password")), h("tbody", {}, logins))) : null));
  }

  function showWelcome(open) {
    ui.welcomeOpen = open;
    localStorage.setItem("emu.welcome", open ? "open" : "hidden");
    renderWelcome();
  }

  // A command from the welcome panel goes into the message box, as the person the step names.
  function useCommand(text, userId) {
    if (userId && userId !== ui.me) switchPerson(userId);
    if (ui.channel === HOME) selectChannel((ui.data.channels.find((c) => c.type !== "im") || {}).id || null);
    const box = $("message-box");
    box.value = text;
    box.focus();
  }

  // -- wiring --------------------------------------------------------------------------------------

  // The page speaks the language of the person it acts as; a switch redraws everything.
  function followLanguage() {
    const lang = ui.data.lang || "en";
    if (lang === i18n.lang) return;
    i18n.lang = lang;
    ui.listSig = null;
    ui.threadSig = null;
    ui.modalSig = undefined;
    ui.welcomeSig = null;
    labelStaticText();
    renderZStack(true);
  }

  function render() {
    if (!ui.data) return;
    const channel = currentChannel();
    if (!channel) return;
    followLanguage();
    if (ui.channel !== channel.id) {
      ui.channel = channel.id;
      ui.thread = null;
    }
    renderSidebar(channel);
    renderWelcome();
    const bot = userName(ui.data.bot.user_id);
    $("channel-title").textContent = channel.type === HOME ? L("{bot} Home", { bot }) : channel.type === "im" ? bot : `#${channel.name}`;
    $("channel-title").dataset.channel = channel.id;
    $("composer").hidden = channel.type === HOME;
    $("message-box").placeholder = channel.type === "im" ? L("Message {bot}", { bot }) : L("Message #{channel}, or /clone-model …", { channel: channel.name });
    if (channel.type === HOME) renderHome();
    else renderMessages(channel);
    renderThread(channel);
    renderModal();
  }

  function switchPerson(userId) {
    ui.me = userId;
    localStorage.setItem("emu.person", userId);
    ui.thread = null;
    ui.listSig = null;
    ui.threadSig = null;
    // Not null: null is "no modal", and the new person's empty stack must still clear the old one.
    ui.modalSig = undefined;
    refresh();
  }

  async function send(text, threadTs) {
    const channel = currentChannel();
    if (!channel || !text.trim()) return;
    const trimmed = text.trim();
    if (trimmed.startsWith("/") && !threadTs) {
      const space = trimmed.indexOf(" ");
      const command = space < 0 ? trimmed : trimmed.slice(0, space);
      const args = space < 0 ? "" : trimmed.slice(space + 1).trim();
      await act(command, "/_emu/command", { channel: channel.id, command, text: args }).catch(() => {});
    } else {
      await act(L("Message"), "/_emu/message", { channel: channel.id, text, ...(threadTs ? { thread_ts: threadTs } : {}) }).catch(() => {});
    }
  }

  async function start() {
    $("person").addEventListener("change", (ev) => switchPerson(ev.target.value));
    $("composer").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const box = $("message-box");
      const text = box.value;
      box.value = "";
      send(text, null);
    });
    $("reply-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const box = $("reply-box");
      const text = box.value;
      box.value = "";
      if (ui.thread) send(text, ui.thread);
    });
    $("thread-close").addEventListener("click", () => {
      ui.thread = null;
      render();
    });
    $("zstack-toggle").addEventListener("click", () => {
      ui.zstackOpen = !ui.zstackOpen;
      localStorage.setItem("emu.zstack", ui.zstackOpen ? "open" : "closed");
      renderZStack();
    });
    $("welcome-toggle").addEventListener("click", () => showWelcome(!ui.welcomeOpen));
    // The words first, so that nothing is drawn in the wrong language.
    await loadPageText();
    labelStaticText();
    const events = new EventSource("/_emu/events");
    events.addEventListener("state", () => refresh());
    events.addEventListener("open", () => { $("live").dataset.live = "true"; });
    events.addEventListener("error", () => { $("live").dataset.live = "false"; });
    refresh();
    renderZStack();
    setInterval(() => {
      if (!ui.data) return;
      renderLocalTime();
      renderWelcome();
    }, 30000);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
