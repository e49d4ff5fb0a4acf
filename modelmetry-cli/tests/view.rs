//! The `modelmetry` binary, run as a user runs it: OTLP/JSON lines in, a page or a Perfetto
//! trace out, and clear errors on bad arguments.

use std::path::PathBuf;
use std::process::Command;

fn dir(label: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("modelmetry-cli-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Two traces, one with two concurrent LLM calls and an error.
fn traces_file(d: &std::path::Path) -> PathBuf {
    let span = |trace: &str, id: &str, parent: &str, name: &str, s: u64, e: u64, error: bool| {
        let base: u64 = 1_700_000_000_000_000_000;
        let mut v = serde_json::json!({
            "traceId": trace, "spanId": id, "parentSpanId": parent, "name": name, "kind": 1,
            "startTimeUnixNano": (base + s * 1_000_000).to_string(),
            "endTimeUnixNano": (base + e * 1_000_000).to_string(),
            "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}],
        });
        if error {
            v["status"] = serde_json::json!({"code": 2, "message": "boom </script>"});
        }
        v
    };
    let line = |spans: Vec<serde_json::Value>| {
        serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).to_string()
    };
    let t1 = "0af7651916cd43dd8448eb211c80319c";
    let t2 = "1af7651916cd43dd8448eb211c80319c";
    let text = [
        line(vec![
            span(t1, "00000000000000a0", "", "turn", 0, 100, false),
            span(
                t1,
                "00000000000000a1",
                "00000000000000a0",
                "chat gpt-4o",
                0,
                60,
                false,
            ),
            span(
                t1,
                "00000000000000a2",
                "00000000000000a0",
                "chat gpt-4o",
                10,
                70,
                true,
            ),
        ]),
        "this line is not OTLP".to_owned(),
        line(vec![span(t2, "00000000000000b0", "", "other", 0, 5, false)]),
    ]
    .join("\n");
    let path = d.join("traces.jsonl");
    std::fs::write(&path, text).expect("write");
    path
}

fn modelmetry(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_modelmetry"))
        .args(args)
        .output()
        .expect("run modelmetry")
}

#[test]
fn view_writes_a_self_contained_page() {
    let d = dir("html");
    let input = traces_file(&d);
    let out = d.join("traces.html");
    let run = modelmetry(&["view", input.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{said}");
    assert!(
        said.contains("2 trace(s), 4 span(s), 1 line(s) not OTLP/JSON skipped"),
        "{said}"
    );
    let page = std::fs::read_to_string(&out).expect("page");
    assert!(page.contains("Content-Security-Policy") && page.contains("default-src 'none'"));
    assert!(!page.contains("boom </script>"), "escaped in the data");
    assert!(page.contains("boom \\u003c/script\\u003e"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no address to fetch"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn view_format_perfetto_writes_trace_events() {
    let d = dir("perfetto");
    let input = traces_file(&d);
    let run = modelmetry(&["view", input.to_str().unwrap(), "--format", "perfetto"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(d.join("traces.perfetto.json")).expect("default name");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let events = json["traceEvents"].as_array().expect("traceEvents");
    let complete: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(complete.len(), 4);
    for e in events {
        for field in ["name", "ph", "ts", "dur", "pid", "tid"] {
            assert!(e.get(field).is_some(), "{field} missing in {e}");
        }
    }
    let calls: Vec<_> = complete
        .iter()
        .filter(|e| e["name"] == "chat gpt-4o")
        .collect();
    assert_ne!(
        calls[0]["tid"], calls[1]["tid"],
        "concurrent calls on two tracks"
    );
    assert_eq!(calls[0]["args"]["model"], "gpt-4o");
    assert!(
        complete
            .iter()
            .any(|e| e["args"]["error"] == "boom </script>")
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_arguments_say_what_is_wrong() {
    let run = modelmetry(&["view"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("name a traces file"));
    let run = modelmetry(&["view", "x.jsonl", "--format", "svg"]);
    assert_eq!(run.status.code(), Some(2));
    let run = modelmetry(&["view", "/no/such/file.jsonl", "-o", "-"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("cannot read /no/such/file.jsonl"));
    let run = modelmetry(&["--help"]);
    assert!(run.status.success());
    assert!(String::from_utf8_lossy(&run.stdout).contains("usage: modelmetry view"));
}
