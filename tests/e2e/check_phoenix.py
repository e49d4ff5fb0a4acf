"""Check the chatbot's trace as Arize Phoenix stored it (GET /v1/projects/default/spans).

    python3 check_phoenix.py spans.json [--count-only]

With --count-only, exit 0 once the whole trace has arrived (for polling), 1 before.
"""
import json
import sys

EXPECTED = {
    "chatbot.turn": 1,
    "chat gpt-4o-mini": 2,
    "execute_tool GetOrderInformation": 1,
    "chat omni-moderation-latest": 1,
}


def spans(path):
    try:
        with open(path) as f:
            return json.load(f).get("data", [])
    except (OSError, ValueError):
        return []


def fail(message, data):
    print("phoenix e2e: FAILED:", message, file=sys.stderr)
    for s in data:
        print("  ", s.get("name"), s.get("context"), "parent", s.get("parent_id"), file=sys.stderr)
    sys.exit(1)


def main():
    data = spans(sys.argv[1])
    if "--count-only" in sys.argv:
        sys.exit(0 if len(data) >= sum(EXPECTED.values()) else 1)

    names = {}
    for s in data:
        names[s["name"]] = names.get(s["name"], 0) + 1
    if names != EXPECTED:
        fail(f"span names {names}, expected {EXPECTED}", data)

    traces = {s["context"]["trace_id"] for s in data}
    if len(traces) != 1:
        fail(f"one trace expected, got {traces}", data)
    root = next(s for s in data if s["name"] == "chatbot.turn")
    if root.get("parent_id"):
        fail("the trace's root has a parent", data)
    for s in data:
        if s is not root and s.get("parent_id") != root["context"]["span_id"]:
            fail(f"{s['name']} is not under chatbot.turn", data)

    a = root["attributes"]
    if a.get("gen_ai.conversation.id") != "conversation-42" or a.get("user.id") != "customer-7":
        fail(f"root attributes {a}", data)

    for s in data:
        if s["name"].startswith("chat "):
            a = s["attributes"]
            if a.get("gen_ai.operation.name") != "chat" or not a.get("gen_ai.request.model"):
                fail(f"{s['name']} attributes {a}", data)
    generate = [s for s in data if s["name"] == "chat gpt-4o-mini"]
    for s in generate:
        a = s["attributes"]
        if a.get("gen_ai.provider.name") != "openai" or not a.get("gen_ai.usage.input_tokens"):
            fail(f"{s['name']} usage/provider {a}", data)
        if "gen_ai.input.messages" not in a or "gen_ai.output.messages" not in a:
            fail(f"{s['name']} has no content attributes", data)
    tool = next(s for s in data if s["name"] == "execute_tool GetOrderInformation")
    if tool["attributes"].get("gen_ai.tool.name") != "GetOrderInformation":
        fail(f"tool attributes {tool['attributes']}", data)

    def evaluations(span):
        return {
            e["attributes"].get("gen_ai.evaluation.name"): e["attributes"]
            for e in span.get("events", [])
            if e["name"] == "gen_ai.evaluation.result"
        }

    score = evaluations(root).get("response_safe_score")
    if not score or score.get("gen_ai.evaluation.score.value") != 0.93:
        fail(f"root evaluation events {root.get('events')}", data)
    # The first model call records its token counts as findings on its span (the streamed
    # answer records usage only): span-level findings arrive as that span's evaluation events.
    with_findings = [s for s in generate if evaluations(s)]
    if len(with_findings) != 1:
        fail(f"findings on {len(with_findings)} chat spans, expected 1", data)
    ev = evaluations(with_findings[0])
    if "input_tokens" not in ev or "output_tokens" not in ev:
        fail(f"chat span evaluation events {with_findings[0].get('events')}", data)

    print(f"phoenix e2e: ok ({len(data)} spans in one trace, names, parents, gen_ai.* attributes and evaluation events as expected)")


main()
