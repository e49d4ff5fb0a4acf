//! `modelmetry view <traces.jsonl>... [-o <out>] [--format html|perfetto]`: OTLP/JSON lines as
//! a self-contained HTML page, or as Chrome Trace Event JSON for Perfetto.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use modelmetry::unversioned::view::View;

const USAGE: &str = "\
usage: modelmetry view <traces.jsonl>... [-o <out>] [--format html|perfetto]

Reads OTLP/JSON lines (one ExportTraceServiceRequest a line, as MODELMETRY_EXPORTER=file
writes them; `-` reads stdin) and writes:
  --format html      a self-contained HTML page: trace list, waterfall, span details (default)
  --format perfetto  Chrome Trace Event JSON, for ui.perfetto.dev or chrome://tracing
  -o <out>           where to write (`-`: stdout); default: the first input's name with
                     .html or .perfetto.json
";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Html,
    Perfetto,
}

struct Args {
    inputs: Vec<String>,
    out: Option<String>,
    format: Format,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    match args.next().as_deref() {
        Some("view") => {}
        Some("-h" | "--help" | "help") | None => return Err(String::new()),
        Some(other) => return Err(format!("unknown command `{other}`")),
    }
    let mut parsed = Args {
        inputs: Vec::new(),
        out: None,
        format: Format::Html,
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "-o" | "--output" => {
                parsed.out = Some(args.next().ok_or("`-o` needs a path")?);
            }
            "-f" | "--format" => {
                parsed.format = match args.next().as_deref() {
                    Some("html") => Format::Html,
                    Some("perfetto" | "chrome") => Format::Perfetto,
                    other => {
                        return Err(format!(
                            "`--format {}`: use html or perfetto",
                            other.unwrap_or("")
                        ));
                    }
                }
            }
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with('-') && flag != "-" => {
                return Err(format!("unknown option `{flag}`"));
            }
            _ => parsed.inputs.push(a),
        }
    }
    if parsed.inputs.is_empty() {
        return Err("name a traces file (OTLP/JSON lines)".into());
    }
    Ok(parsed)
}

fn default_out(input: &str, format: Format) -> PathBuf {
    let ext = match format {
        Format::Html => "html",
        Format::Perfetto => "perfetto.json",
    };
    if input == "-" {
        return PathBuf::from(format!("traces.{ext}"));
    }
    PathBuf::from(input).with_extension(ext)
}

fn run(args: Args) -> Result<String, String> {
    let mut view = View::new();
    let mut skipped = 0;
    for input in &args.inputs {
        let mut text = String::new();
        let read = if input == "-" {
            std::io::stdin().read_to_string(&mut text).map(|_| ())
        } else {
            std::fs::read_to_string(input).map(|t| text = t)
        };
        read.map_err(|e| format!("cannot read {input}: {e}"))?;
        skipped += view.add_jsonl(&text);
    }
    let body = match args.format {
        Format::Html => view.html(),
        Format::Perfetto => view.perfetto().to_string(),
    };
    let out = args
        .out
        .clone()
        .map_or_else(|| default_out(&args.inputs[0], args.format), PathBuf::from);
    if out.as_os_str() == "-" {
        std::io::stdout()
            .write_all(body.as_bytes())
            .map_err(|e| format!("cannot write to stdout: {e}"))?;
    } else {
        std::fs::write(&out, body).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    let mut note = format!(
        "{} trace(s), {} span(s)",
        view.trace_count(),
        view.span_count()
    );
    if skipped > 0 {
        note.push_str(&format!(", {skipped} line(s) not OTLP/JSON skipped"));
    }
    if out.as_os_str() != "-" {
        note.push_str(&format!(" -> {}", out.display()));
    }
    Ok(note)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("modelmetry: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(note) => {
            eprintln!("modelmetry: {note}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("modelmetry: {e}");
            ExitCode::FAILURE
        }
    }
}
