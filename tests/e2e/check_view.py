"""Check the HTML view in headless Chromium (stdlib only; see view_chromium.sh)."""

import json
import subprocess
import sys
import time
from html.parser import HTMLParser

browser, out, cli = sys.argv[1], sys.argv[2], sys.argv[3]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-extensions", "--disable-background-networking"]


def chromium(*args):
    run = subprocess.run([browser, *FLAGS, *args], capture_output=True, text=True, timeout=180)
    if run.returncode != 0:
        sys.exit(f"chromium failed ({run.returncode}): {run.stderr[-2000:]}")
    return run.stdout


class Dom(HTMLParser):
    """Rows of the waterfall, traces of the list, the details' parts, body attributes."""

    def __init__(self):
        super().__init__()
        self.rows, self.traces, self.body = [], 0, {}
        self.stack, self.text = [], {"span-messages": [], "cost": [], "details": []}
        self.marks = []  # [text] of each sampling/redaction badge (data-mark), in order

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "body":
            self.body = a
        if "row" in cls and "data-span-id" in a:
            self.rows.append(a)
        if "trace" in cls and "data-trace-id" in a:
            self.traces += 1
        mark = None
        if a.get("id") == "span-messages":
            mark = "span-messages"
        elif a.get("data-fact") == "cost":
            mark = "cost"
        elif a.get("id") == "details":
            mark = "details"
        if "data-mark" in a:
            self.marks.append([])
            mark = ("badge", len(self.marks) - 1)
        if tag not in ("br", "img", "input", "meta", "link", "hr"):
            self.stack.append(mark)

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for mark in set(m for m in self.stack if m):
            if isinstance(mark, tuple):
                self.marks[mark[1]].append(data)
            else:
                self.text[mark].append(data)


def dom(url):
    d = Dom()
    d.feed(chromium("--dump-dom", url))
    return d


def spans_of(path):
    spans = []
    with open(path) as f:
        for line in f:
            for rs in json.loads(line)["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    spans.extend(ss["spans"])
    return spans


def name_of(span):
    for kv in span.get("attributes", []):
        if kv["key"] == "modelmetry.span.name":
            return kv["value"]["stringValue"]
    return span["name"]


# ---- the chatbot's trace, a span clicked ----------------------------------------------------
spans = spans_of(f"{out}/chatbot.jsonl")
clicked = next(s for s in spans if name_of(s) == "llm.generate")
url = f"file://{out}/chatbot.html#span={clicked['spanId']}"
d = dom(url)
by_id = {r["data-span-id"]: (i, r) for i, r in enumerate(d.rows)}
assert len(d.rows) == len(spans), f"{len(d.rows)} bars for {len(spans)} spans"
assert set(by_id) == {s["spanId"] for s in spans}, "one bar per span, each span once"
for s in spans:
    i, row = by_id[s["spanId"]]
    parent = s.get("parentSpanId", "")
    assert row["data-parent-id"] == parent, f"{name_of(s)}: parent {row['data-parent-id']} != {parent}"
    if parent:
        pi, prow = by_id[parent]
        assert pi < i, f"{name_of(s)} drawn before its parent"
        assert int(row["data-depth"]) == int(prow["data-depth"]) + 1, f"{name_of(s)} not nested one deeper"
    else:
        assert row["data-depth"] == "0"
assert d.body.get("data-selected-span") == clicked["spanId"], "the click selected the span"
assert "sel" in next(r for r in d.rows if r["data-span-id"] == clicked["spanId"])["class"].split()
messages = "".join(d.text["span-messages"])
assert "Where is my order #A-1042?" in messages, messages
assert "GetOrderInformation" in messages, "the tool call shows in the chat"
cost = "".join(d.text["cost"])
assert cost.startswith("0.0000288"), f"cost shown: {cost!r}"
print(f"view: {len(d.rows)} bars for {len(spans)} spans, nested as the file says; "
      f"clicked {name_of(clicked)}: messages and cost {cost} shown")

shot = f"{out}/chatbot-view.png"
chromium("--window-size=1400,1000", f"--screenshot={shot}", url)
print(f"view: screenshot {shot}")


# ---- load time: 1,000 traces, and a trace of 500 spans ---------------------------------------
def otlp_line(trace_id, spans):
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})


def span(trace_id, i, parent, start_ms, dur_ms, kind):
    base = 1_700_000_000_000_000_000
    attrs = [{"key": "modelmetry.span.kind", "value": {"stringValue": kind}},
             {"key": "modelmetry.span.name", "value": {"stringValue": f"{kind}.{i}"}}]
    if kind == "llm":
        attrs += [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
                  {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "120"}},
                  {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "18"}},
                  {"key": "modelmetry.cost.total", "value": {"doubleValue": 0.0000288}},
                  {"key": "gen_ai.input.messages", "value": {"stringValue": json.dumps(
                      [{"role": "user", "parts": [{"type": "text", "content": "question " * 40}]}])}}]
    s = {"traceId": trace_id, "spanId": f"{i + 1:016x}", "name": f"{kind}.{i}", "kind": 1,
         "startTimeUnixNano": str(base + start_ms * 1_000_000),
         "endTimeUnixNano": str(base + (start_ms + dur_ms) * 1_000_000), "attributes": attrs}
    if parent is not None:
        s["parentSpanId"] = f"{parent + 1:016x}"
    return s


def measure(label, lines, expect_rows, expect_traces):
    src, page = f"{out}/{label}.jsonl", f"{out}/{label}.html"
    with open(src, "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run([cli, "view", src, "-o", page], check=True, capture_output=True)
    started = time.monotonic()
    d = dom(f"file://{page}")
    wall = time.monotonic() - started
    assert len(d.rows) == expect_rows, f"{label}: {len(d.rows)} rows"
    assert d.traces == expect_traces, f"{label}: {d.traces} traces listed"
    import os
    print(f"view: {label}: {os.path.getsize(page):,} bytes; in the page: script {d.body['data-render-ms']} ms, "
          f"load {d.body['data-load-ms']} ms after navigation; chromium run {wall:.1f} s")


many = []
for t in range(1000):
    tid = f"{t + 1:032x}"
    many.append(otlp_line(tid, [span(tid, 0, None, t * 1000, 140, "trace"),
                                span(tid, 1, 0, t * 1000, 40, "llm"),
                                span(tid, 2, 0, t * 1000 + 40, 15, "tool"),
                                span(tid, 3, 0, t * 1000 + 55, 64, "llm"),
                                span(tid, 4, 0, t * 1000 + 120, 20, "llm")]))
measure("load-1000-traces", many, 5, 1000)

tid = "f" * 32
big = [span(tid, 0, None, 0, 60_000, "agent")]
for i in range(1, 500):
    parent = 0 if i % 10 == 1 else (i - (i - 1) % 10)  # an agent step every 10, its calls under it
    start = (i // 10) * 1000 + (i % 10) * 20
    big.append(span(tid, i, parent if parent != i else 0, start, 300 if i % 10 == 1 else 120,
                    "chain" if i % 10 == 1 else ("llm" if i % 2 else "tool")))
measure("load-500-spans", [otlp_line(tid, big)], 500, 1)


# ---- sampling and redaction badges, from the metadata attributes the OTLP mapping writes ------
tid = "5" * 32
root = span(tid, 0, None, 0, 100, "trace")
root["attributes"] += [
    {"key": "modelmetry.metadata.modelmetry.sample_rate", "value": {"doubleValue": 0.1}},
    {"key": "modelmetry.metadata.modelmetry.kept_by", "value": {"stringValue": "error"}},
    {"key": "modelmetry.metadata.modelmetry.redacted", "value": {"stringValue": '{"values":2}'}}]
plain = "6" * 32
src, page = f"{out}/marks.jsonl", f"{out}/marks.html"
with open(src, "w") as f:
    f.write(otlp_line(tid, [root, span(tid, 1, 0, 10, 50, "llm")]) + "\n")
    f.write(otlp_line(plain, [span(plain, 0, None, 200, 100, "trace")]) + "\n")
subprocess.run([cli, "view", src, "-o", page], check=True, capture_output=True)
badges = ["".join(t) for t in dom(f"file://{page}#trace={tid}").marks]
want = ["sampled 0.1", "kept: error", "redacted 2"]
assert badges == want + want, f"badges in the list and the header: {badges}"
print(f"view: sampling and redaction badges shown: {badges[:3]} (list and header; none on the plain trace)")
