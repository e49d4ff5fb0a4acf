"use strict";
(function () {
  var t0 = performance.now();
  var traces = JSON.parse(document.getElementById("modelmetry-data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var current = null;

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function ms(v) {
    if (v == null) return "";
    if (v >= 1000) return (v / 1000).toFixed(2) + "s";
    if (v >= 10) return v.toFixed(0) + "ms";
    return v.toFixed(1) + "ms";
  }
  function money(v, cur) {
    if (v == null) return "";
    return (+v.toPrecision(3)).toString() + " " + (cur || "");
  }
  function when(msEpoch) {
    var d = new Date(msEpoch);
    return isNaN(d) ? "" : d.toISOString().replace("T", " ").slice(0, 19);
  }
  function parsed(v) {
    if (typeof v !== "string") return v;
    var c = v.charAt(0);
    if (c !== "[" && c !== "{") return v;
    try { return JSON.parse(v); } catch (e) { return v; }
  }
  function pretty(v) {
    v = parsed(v);
    return typeof v === "string" ? v : JSON.stringify(v, null, 2);
  }

  // Sampling and redaction: what a trace stands for (kept at a rate, or by a tail rule) and
  // what it hides (strings a redaction pattern changed).
  function marks(t) {
    var out = [];
    if (t.sample_rate != null) out.push('<span class="mark sampled" data-mark="sampled" title="kept while sampling: head sampling keeps this share of traces">sampled ' + esc(+t.sample_rate.toPrecision(3)) + "</span>");
    if (t.kept_by) out.push('<span class="mark kept" data-mark="kept" title="kept by a tail rule (head sampling had dropped it; no content)">kept: ' + esc(t.kept_by) + "</span>");
    if (t.redacted != null) out.push('<span class="mark redacted" data-mark="redacted" title="strings a redaction pattern changed">redacted ' + esc(t.redacted) + "</span>");
    return out.join("");
  }

  // ---- the list of traces ---------------------------------------------------------------
  function renderList() {
    var q = $("filter").value.toLowerCase();
    var html = [];
    var shown = 0;
    for (var i = 0; i < traces.length; i++) {
      var t = traces[i];
      if (q && (t.name + " " + (t.session || "") + " " + (t.user || "") + " " + t.id +
        (t.sample_rate != null ? " sampled" : "") + (t.kept_by ? " kept:" + t.kept_by : "") + (t.redacted != null ? " redacted" : "")).toLowerCase().indexOf(q) < 0) continue;
      shown++;
      html.push('<div class="trace' + (current === t ? " sel" : "") + '" data-trace="' + i + '" data-trace-id="' + esc(t.id) + '">' +
        '<div class="top"><span>' + (t.errors ? '<span class="err" title="error">&#9888; </span>' : "") + esc(t.name || "(no root)") +
        "</span><span>" + ms(t.duration_ms) + "</span></div>" +
        '<div class="sub"><span>' + when(t.start_ms) + "</span>" +
        (t.cost != null ? "<span>cost " + esc(money(t.cost, t.currency)) + "</span>" : "") +
        (t.input_tokens || t.output_tokens ? "<span>tokens " + t.input_tokens + "&rarr;" + t.output_tokens + "</span>" : "") +
        (t.session ? "<span>session " + esc(t.session) + "</span>" : "") +
        (t.user ? "<span>user " + esc(t.user) + "</span>" : "") +
        "<span>" + t.spans.length + " spans</span>" + marks(t) + "</div></div>");
    }
    $("traces").innerHTML = html.join("");
    $("count").textContent = shown + " of " + traces.length;
  }

  // ---- the waterfall ---------------------------------------------------------------------
  function selectTrace(i) {
    current = traces[i];
    renderList();
    var t = current;
    $("summary").innerHTML = "<b>" + esc(t.name) + "</b> &middot; " + when(t.start_ms) + " &middot; " + ms(t.duration_ms) +
      (t.cost != null ? " &middot; cost " + esc(money(t.cost, t.currency)) : "") +
      " &middot; tokens " + t.input_tokens + "&rarr;" + t.output_tokens +
      (t.session ? " &middot; session " + esc(t.session) : "") + (t.user ? " &middot; user " + esc(t.user) : "") +
      (t.errors ? ' &middot; <span class="err">' + t.errors + " error(s)</span>" : "") +
      " &middot; trace " + esc(t.id) + (marks(t) ? ' <span id="trace-marks">' + marks(t) + "</span>" : "");
    var total = t.duration_ms > 0 ? t.duration_ms : 1;
    var pct = function (v) { return (100 * v / total).toFixed(3) + "%"; };
    var ticks = [];
    for (var k = 0; k <= 4; k++) ticks.push('<span class="tick' + (k === 4 ? " last" : "") + '" style="left:' + (k * 25) + '%">' + ms(total * k / 4) + "</span>");
    var rows = ['<div class="axis"><div class="label">span</div><div class="ticks">' + ticks.join("") + "</div></div>"];
    for (var j = 0; j < t.spans.length; j++) {
      var s = t.spans[j];
      var ttft = s.ttft_ms != null && s.duration_ms > 0
        ? '<span class="ttft" title="time to first token ' + ms(s.ttft_ms) + '" style="left:' + Math.min(100, 100 * s.ttft_ms / s.duration_ms).toFixed(2) + '%"></span>' : "";
      rows.push('<div class="row" data-span="' + j + '" data-span-id="' + esc(s.id) + '" data-parent-id="' + esc(s.parent || "") +
        '" data-depth="' + s.depth + '" data-lane="' + s.lane + '">' +
        '<div class="label" style="padding-left:' + (6 + 14 * s.depth) + 'px" title="' + esc(s.otel_name) + '">' +
        '<span class="kind k-' + esc(s.kind) + '">' + esc(s.kind) + "</span>" + (s.error ? '<span class="err">&#9888; </span>' : "") + esc(s.name) + "</div>" +
        '<div class="track"><div class="bar k-' + esc(s.kind) + (s.error ? " error" : "") + '" style="left:' + pct(s.start_ms) + ";width:" + pct(s.duration_ms) + '">' + ttft + "</div>" +
        (s.start_ms + s.duration_ms > 0.7 * total
          ? '<span class="dur before" style="left:' + pct(s.start_ms) + '">'
          : '<span class="dur" style="left:' + pct(s.start_ms + s.duration_ms) + '">') + ms(s.duration_ms) + (s.model ? " " + esc(s.model) : "") + "</span></div></div>");
    }
    $("waterfall").innerHTML = rows.join("");
    $("details").innerHTML = '<p class="hint">Click a span to see its messages, input, output, usage, cost, events and findings.</p>';
  }

  // ---- one span's details ----------------------------------------------------------------
  function chat(title, messages) {
    messages = parsed(messages);
    if (!Array.isArray(messages)) return "";
    var out = [];
    messages.forEach(function (m) {
      var role = m.role || "message";
      var body = [];
      (m.parts || []).forEach(function (p) {
        if (p.type === "text" || p.type === "reasoning") body.push(esc(p.content != null ? p.content : ""));
        else if (p.type === "tool_call") body.push('<div class="call">tool call <b>' + esc(p.name || "") + "</b> " + esc(p.id || "") + "<pre>" + esc(pretty(p.arguments)) + "</pre></div>");
        else if (p.type === "tool_call_response") body.push('<div class="call">tool result ' + esc(p.id || "") + "<pre>" + esc(pretty(p.response)) + "</pre></div>");
        else body.push("<pre>" + esc(pretty(p)) + "</pre>");
      });
      if (typeof m.content === "string") body.push(esc(m.content));
      out.push('<div class="msg ' + esc(role) + '"><span class="role">' + esc(role) + (m.finish_reason ? " &middot; " + esc(m.finish_reason) : "") + "</span>" + body.join("") + "</div>");
    });
    return "<h3>" + title + '</h3><div class="chat">' + out.join("") + "</div>";
  }
  function block(title, v) {
    return v === undefined ? "" : "<h3>" + title + "</h3><pre>" + esc(pretty(v)) + "</pre>";
  }
  function selectSpan(j) {
    var t = current, s = t.spans[j], a = s.attributes;
    var rows = document.querySelectorAll("#waterfall .row.sel");
    for (var r = 0; r < rows.length; r++) rows[r].classList.remove("sel");
    var row = document.querySelector('#waterfall .row[data-span="' + j + '"]');
    if (row) row.classList.add("sel");
    var facts = [["kind", s.kind], ["name", s.name], ["span name", s.otel_name], ["start", "+" + ms(s.start_ms)], ["duration", ms(s.duration_ms)]];
    if (s.model) facts.push(["model", s.model]);
    if (a["gen_ai.provider.name"]) facts.push(["provider", a["gen_ai.provider.name"]]);
    if (s.ttft_ms != null) facts.push(["time to first token", ms(s.ttft_ms)]);
    if (s.cost != null) facts.push(["cost", money(s.cost, a["modelmetry.cost.currency"])]);
    if (s.error) facts.push(["error", s.error]);
    var usage = Object.keys(a).filter(function (k) { return k.indexOf("gen_ai.usage.") === 0; }).sort();
    var html = ["<h2>" + esc(s.name) + '</h2><dl class="facts" id="span-facts">'];
    facts.forEach(function (f) { html.push("<dt>" + esc(f[0]) + '</dt><dd data-fact="' + esc(f[0]) + '"' + (f[0] === "error" ? ' class="err"' : "") + ">" + esc(f[1]) + "</dd>"); });
    html.push("</dl>");
    if (usage.length) {
      html.push('<h3>usage</h3><dl class="facts" id="span-usage">');
      usage.forEach(function (k) { html.push("<dt>" + esc(k.slice(13).replace(/_/g, " ").replace(/\./g, " ")) + '</dt><dd data-usage="' + esc(k) + '">' + esc(a[k]) + "</dd>"); });
      html.push("</dl>");
    }
    var msgs = chat("system", a["gen_ai.system_instructions"] && [{ role: "system", parts: parsed(a["gen_ai.system_instructions"]) }]) +
      chat("input messages", a["gen_ai.input.messages"]) + chat("output messages", a["gen_ai.output.messages"]);
    if (msgs) html.push('<div id="span-messages">' + msgs + "</div>");
    html.push(block("input", a["modelmetry.input"]), block("output", a["modelmetry.output"]),
      block("tool call arguments", a["gen_ai.tool.call.arguments"]), block("tool call result", a["gen_ai.tool.call.result"]),
      block("retrieval query", a["gen_ai.retrieval.query.text"]), block("retrieved documents", a["gen_ai.retrieval.documents"]));
    var findings = s.events.filter(function (e) { return e.name === "gen_ai.evaluation.result"; });
    var events = s.events.filter(function (e) { return e.name !== "gen_ai.evaluation.result"; });
    if (findings.length) {
      html.push('<h3>findings</h3><table class="attrs" id="span-findings">');
      findings.forEach(function (f) {
        var fa = f.attributes, v = fa["gen_ai.evaluation.score.value"];
        if (v === undefined) v = fa["gen_ai.evaluation.score.label"];
        html.push("<tr><td>" + esc(fa["gen_ai.evaluation.name"] || "") + "</td><td>" + esc(v === undefined ? "" : v) +
          (fa["gen_ai.evaluation.explanation"] ? " &middot; " + esc(fa["gen_ai.evaluation.explanation"]) : "") + "</td></tr>");
      });
      html.push("</table>");
    }
    if (events.length) {
      html.push('<h3>events</h3><table class="attrs" id="span-events">');
      events.forEach(function (e) {
        html.push("<tr><td>+" + ms(e.at_ms) + " " + esc(e.name) + "</td><td>" + (Object.keys(e.attributes).length ? "<pre>" + esc(JSON.stringify(e.attributes, null, 2)) + "</pre>" : "") + "</td></tr>");
      });
      html.push("</table>");
    }
    html.push('<h3>attributes</h3><table class="attrs">');
    Object.keys(a).sort().forEach(function (k) {
      var v = a[k];
      html.push("<tr><td>" + esc(k) + "</td><td>" + esc(typeof v === "string" ? v : JSON.stringify(v)) + "</td></tr>");
    });
    html.push("</table>");
    $("details").innerHTML = html.join("");
    document.body.setAttribute("data-selected-span", s.id);
  }

  // ---- events and the URL hash (#trace=<id or index>&span=<id or name>) ------------------
  $("traces").addEventListener("click", function (e) {
    var el = e.target.closest(".trace");
    if (el) { selectTrace(+el.getAttribute("data-trace")); }
  });
  $("waterfall").addEventListener("click", function (e) {
    var el = e.target.closest(".row");
    if (el) selectSpan(+el.getAttribute("data-span"));
  });
  $("filter").addEventListener("input", renderList);
  function fromHash() {
    var h = {};
    location.hash.slice(1).split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) h[kv.slice(0, i)] = decodeURIComponent(kv.slice(i + 1));
    });
    var ti = 0;
    if (h.trace) {
      ti = traces.findIndex(function (t, i) { return t.id === h.trace || String(i) === h.trace; });
      if (ti < 0) ti = 0;
    }
    if (traces.length) {
      var el = document.querySelector('.trace[data-trace="' + ti + '"]');
      if (el) el.click(); else selectTrace(ti);
    }
    if (h.span && current) {
      var sj = current.spans.findIndex(function (s) { return s.id === h.span || s.name === h.span; });
      var row = document.querySelector('#waterfall .row[data-span="' + sj + '"]');
      if (row) row.click();
    }
  }
  window.addEventListener("hashchange", fromHash);
  renderList();
  fromHash();
  if (!traces.length) $("waterfall").innerHTML = '<p class="hint" style="padding:10px">No traces.</p>';
  document.body.setAttribute("data-render-ms", (performance.now() - t0).toFixed(1));
  document.body.setAttribute("data-load-ms", performance.now().toFixed(1));
})();
