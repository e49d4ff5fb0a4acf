//! The HTML page: one file, inline CSS and script, the traces as JSON in a
//! `<script type="application/json">`. A Content-Security-Policy forbids every request, so
//! opening it reaches no network whatever the traces hold.

use super::TraceView;

const CSS: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

pub(super) fn render(traces: &[TraceView]) -> String {
    let data = embeddable_json(traces);
    let mut out = String::with_capacity(data.len() + CSS.len() + SCRIPT.len() + 1024);
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>modelmetry traces</title><style>",
    );
    out.push_str(CSS);
    out.push_str(
        "</style></head><body>\
         <header><b>modelmetry</b> traces <span id=\"count\"></span>\
         <input id=\"filter\" type=\"search\" placeholder=\"filter by name, session, user\"></header>\
         <div id=\"app\"><nav id=\"traces\"></nav><main><div id=\"summary\"></div>\
         <div id=\"waterfall\"></div><section id=\"details\"><p class=\"hint\">Click a span \
         to see its messages, input, output, usage, cost, events and findings.</p></section>\
         </main></div>\n<script type=\"application/json\" id=\"modelmetry-data\">",
    );
    out.push_str(&data);
    out.push_str("</script>\n<script>");
    out.push_str(SCRIPT);
    out.push_str("</script></body></html>\n");
    out
}

/// The traces as JSON that cannot end its `<script>` element early: every `<`, `>` and `&`
/// is written as a `\u` escape (they only occur inside JSON strings, where the escape means
/// the same character), so no `</script>` or `<!--` can appear in it.
fn embeddable_json(traces: &[TraceView]) -> String {
    let json = serde_json::to_string(traces).unwrap_or_else(|_| "[]".to_owned());
    let mut out = String::with_capacity(json.len() + 64);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::View;

    #[test]
    fn a_script_end_tag_in_the_data_cannot_close_the_data_element() {
        let line = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"</script><script>alert(1)</script><!--","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
        let (view, _) = View::from_jsonl(line);
        let html = view.html();
        let data = html
            .split("id=\"modelmetry-data\">")
            .nth(1)
            .and_then(|rest| rest.split("</script>").next())
            .expect("the data element");
        assert!(!data.contains('<'), "{data}");
        let back: serde_json::Value = serde_json::from_str(data).expect("still JSON");
        assert_eq!(
            back[0]["name"], "</script><script>alert(1)</script><!--",
            "the same text once parsed"
        );
        assert_eq!(
            html.matches("</script>").count(),
            2,
            "the data's and the code's"
        );
    }
}
