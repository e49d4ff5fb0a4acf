//! Sizes as JSON, measured without building the JSON: the budget's arithmetic, shared by the
//! serializer and the record-level cut (`truncate.rs`).

use serde::Serialize;

/// The length of `value` as JSON, measured without building it (non-finite numbers count as
/// `null`, as serde_json writes them).
pub(crate) fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        // A value serde_json refuses (non-string map keys) is measured as far as it got.
        Err(_) => count.0,
    }
}

/// The length of `s` as a JSON string, quotes included, escaped as serde_json escapes.
pub(crate) fn json_str_len(s: &str) -> usize {
    2 + s.bytes().map(escaped_len).sum::<usize>()
}

fn escaped_len(b: u8) -> usize {
    match b {
        b'"' | b'\\' | 0x08 | 0x0c | b'\n' | b'\r' | b'\t' => 2,
        0..=0x1f => 6,
        _ => 1,
    }
}

/// `s` if its JSON string (quotes included) fits `budget` bytes; else its longest prefix that
/// fits, ending in `…` when there is room for it. `budget` must be at least 2.
pub(crate) fn cut_str(s: &str, budget: usize) -> String {
    const ELLIPSIS: &str = "…";
    if json_str_len(s) <= budget {
        return s.to_owned();
    }
    let avail = budget.saturating_sub(2);
    let (room, mark) = if avail > ELLIPSIS.len() {
        (avail - ELLIPSIS.len(), true)
    } else {
        (avail, false)
    };
    let mut used = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        let mut buf = [0u8; 4];
        let w: usize = c.encode_utf8(&mut buf).bytes().map(escaped_len).sum();
        if used + w > room {
            break;
        }
        used += w;
        end = i + c.len_utf8();
    }
    let mut out = String::with_capacity(end + ELLIPSIS.len());
    out.push_str(&s[..end]);
    if mark {
        out.push_str(ELLIPSIS);
    }
    out
}
