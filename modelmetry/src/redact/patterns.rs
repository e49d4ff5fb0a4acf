//! The redaction patterns, and the pass that applies them to every string of a finished trace.
//!
//! The presets are matched by hand-written scanners (no regular-expression engine: the five
//! shapes are simple, a scanner allocates nothing when nothing matches, and the default build
//! stays free of a heavy dependency). Each match is replaced by `<redacted:{name}>`. A user's
//! own regular expressions (feature `regex`) are matched by the `regex` crate, compiled once
//! when the pattern is built, within size limits (see [`RedactPattern::regex`]).

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::record::{FinishedTrace, Name, SignalBody, SpanData, TraceInfo};
use crate::values::{FindingValue, Message, Options, Part};

/// What [`Config::redact_patterns`](crate::Config::redact_patterns) replaces in every string
/// the SDK sends or writes. Each match becomes `<redacted:{name}>` (e.g. `<redacted:email>`).
///
/// | pattern | name | matches |
/// | --- | --- | --- |
/// | [`ApiKey`](RedactPattern::ApiKey) | `api_key` | `sk-` or `sk_` followed by at least 16 of `A-Z a-z 0-9 _ -` (OpenAI, Anthropic `sk-ant-…`, Stripe `sk_live_…`), not inside a longer word |
/// | [`BearerToken`](RedactPattern::BearerToken) | `bearer` | the token after `Bearer ` (any case): at least 8 of `A-Z a-z 0-9 - . _ ~ + / =`; `Bearer ` is kept |
/// | [`Email`](RedactPattern::Email) | `email` | `local@domain.tld`: local part of `A-Z a-z 0-9 . _ % + -`, a domain with a dot and a final label of 2+ letters |
/// | [`CardNumber`](RedactPattern::CardNumber) | `card` | 13 to 19 digits, optionally grouped by single spaces or dashes, passing the Luhn check |
/// | [`Ipv4`](RedactPattern::Ipv4) | `ipv4` | four dot-separated numbers 0-255, not inside a longer run of digits and dots |
/// | [`Literal`](RedactPattern::Literal) | `literal` | this exact text (a known secret), anywhere |
/// | `Regex` (feature `regex`, built by `RedactPattern::regex`) | `regex` | each non-empty match of your regular expression |
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedactPattern {
    /// API keys: `sk-…`, `sk_…`.
    ApiKey,
    /// Bearer tokens (`Authorization: Bearer …`).
    BearerToken,
    /// E-mail addresses.
    Email,
    /// Payment card numbers (Luhn-checked).
    CardNumber,
    /// IPv4 addresses.
    Ipv4,
    /// An exact text (an empty one matches nothing).
    Literal(String),
    /// A regular expression of yours (feature `regex`), built by [`RedactPattern::regex`].
    #[cfg(feature = "regex")]
    Regex(RegexPattern),
}

/// A compiled regular expression for redaction (feature `regex`): see [`RedactPattern::regex`].
/// Two are equal when their pattern texts are.
#[cfg(feature = "regex")]
#[derive(Clone, Debug)]
pub struct RegexPattern(regex::Regex);

#[cfg(feature = "regex")]
impl RegexPattern {
    /// The largest compiled program a [`RedactPattern::regex`] may have (4 MiB; the `regex`
    /// crate's own default is 10 MiB): `\w{1000}` (the Unicode word class, about 50 KB
    /// compiled, repeated) would take 50 MB. `\w{64}` fits; the ASCII `[A-Za-z0-9_]` or
    /// `(?-u:\w)` is a hundred times smaller.
    pub const SIZE_LIMIT: usize = 4 << 20;

    /// The most memory the lazy DFA of one [`RedactPattern::regex`] may use, per thread that
    /// runs the redaction pass at the same time (2 MiB, the `regex` crate's default): past it the cache is cleared and
    /// rebuilt, or matching falls back to a slower engine, so memory stays bounded whatever the
    /// text.
    pub const DFA_SIZE_LIMIT: usize = 2 << 20;

    /// The pattern's text, as given.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

#[cfg(feature = "regex")]
impl PartialEq for RegexPattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

#[cfg(feature = "regex")]
impl Eq for RegexPattern {}

impl RedactPattern {
    /// Every built-in preset: API keys, bearer tokens, e-mail addresses, card numbers, IPv4
    /// addresses.
    pub fn presets() -> Vec<RedactPattern> {
        vec![
            RedactPattern::ApiKey,
            RedactPattern::BearerToken,
            RedactPattern::Email,
            RedactPattern::CardNumber,
            RedactPattern::Ipv4,
        ]
    }

    /// An exact text to replace wherever it appears.
    pub fn literal(text: impl Into<String>) -> RedactPattern {
        RedactPattern::Literal(text.into())
    }

    /// A regular expression of yours (feature `regex`): each non-empty match, in every string
    /// the SDK sends or writes, becomes `<redacted:regex>`. The syntax is the
    /// [`regex`](https://docs.rs/regex) crate's, with Unicode on: `\w`, `\d`, `\s`, `\b` and
    /// `(?i)` work; `\p{..}` classes (scripts, general categories) and look-around do not.
    ///
    /// ```
    /// use modelmetry::RedactPattern;
    /// let internal = RedactPattern::regex(r"\bACME-[0-9]{6}\b").expect("a valid pattern");
    /// let config = modelmetry::Config::from_env().redact_patterns([internal]);
    /// # drop(config);
    /// let err = RedactPattern::regex("ACME-[0-9").unwrap_err().to_string();
    /// assert!(err.contains("ACME-[0-9"), "{err}");
    /// ```
    ///
    /// A pattern that does not parse, or whose compiled program would exceed
    /// [`RegexPattern::SIZE_LIMIT`] (4 MiB), is an [`Error::Config`](crate::Error::Config) naming the
    /// pattern and what is wrong, never a panic. Matching takes time linear in the text (no
    /// backtracking: a hostile pattern cannot stall the pass), and the lazy DFA's memory is
    /// capped by [`RegexPattern::DFA_SIZE_LIMIT`] per thread running the pass.
    #[cfg(feature = "regex")]
    pub fn regex(pattern: &str) -> Result<RedactPattern, crate::Error> {
        RedactPattern::regex_for("RedactPattern::regex", pattern)
    }

    /// [`RedactPattern::regex`], with `setting` named in the error.
    #[cfg(feature = "regex")]
    pub(crate) fn regex_for(
        setting: &'static str,
        pattern: &str,
    ) -> Result<RedactPattern, crate::Error> {
        regex::RegexBuilder::new(pattern)
            .size_limit(RegexPattern::SIZE_LIMIT)
            .dfa_size_limit(RegexPattern::DFA_SIZE_LIMIT)
            .build()
            .map(|re| RedactPattern::Regex(RegexPattern(re)))
            .map_err(|e| {
                let why = match e {
                    regex::Error::CompiledTooBig(limit) => format!(
                        "its compiled form would exceed the limit of {limit} bytes (repeat Unicode classes such as `\\w` fewer times, or use an ASCII class such as `[A-Za-z0-9_]`)"
                    ),
                    other => other.to_string(),
                };
                crate::Error::Config {
                    setting,
                    reason: format!("`{pattern}` is not a usable regular expression: {why}"),
                }
            })
    }

    /// A preset by its name (`api_key`, `bearer`, `email`, `card`, `ipv4`), as
    /// `MODELMETRY_REDACT_PATTERNS` lists them.
    pub fn preset(name: &str) -> Option<RedactPattern> {
        Some(match name.trim() {
            "api_key" | "api_keys" => RedactPattern::ApiKey,
            "bearer" | "bearer_token" => RedactPattern::BearerToken,
            "email" | "emails" => RedactPattern::Email,
            "card" | "card_number" => RedactPattern::CardNumber,
            "ipv4" => RedactPattern::Ipv4,
            _ => return None,
        })
    }

    fn replacement(&self) -> &'static str {
        match self {
            RedactPattern::ApiKey => "<redacted:api_key>",
            RedactPattern::BearerToken => "<redacted:bearer>",
            RedactPattern::Email => "<redacted:email>",
            RedactPattern::CardNumber => "<redacted:card>",
            RedactPattern::Ipv4 => "<redacted:ipv4>",
            RedactPattern::Literal(_) => "<redacted:literal>",
            #[cfg(feature = "regex")]
            RedactPattern::Regex(_) => "<redacted:regex>",
        }
    }

    /// Add the byte ranges this pattern matches in `s` to `out`.
    fn find(&self, s: &str, out: &mut Vec<(usize, usize, &'static str)>) {
        let b = s.as_bytes();
        let r = self.replacement();
        match self {
            RedactPattern::ApiKey => {
                let mut from = 0;
                while let Some(at) = s[from..].find("sk").map(|i| i + from) {
                    from = at + 2;
                    if at > 0 && is_key_char(b[at - 1]) {
                        continue;
                    }
                    if !matches!(b.get(at + 2), Some(b'-' | b'_')) {
                        continue;
                    }
                    let end = run(b, at + 3, is_key_char);
                    if end - (at + 3) >= 16 {
                        out.push((at, end, r));
                        from = end;
                    }
                }
            }
            RedactPattern::BearerToken => {
                let mut i = 0;
                while i + 7 <= b.len() {
                    if b[i] | 0x20 == b'b' && b[i..i + 7].eq_ignore_ascii_case(b"bearer ") {
                        let start = run(b, i + 7, |c| c == b' ');
                        let end = run(b, start, is_token_char);
                        if end - start >= 8 {
                            out.push((start, end, r));
                            i = end;
                            continue;
                        }
                    }
                    i += 1;
                }
            }
            RedactPattern::Email => {
                let mut from = 0;
                while let Some(at) = s[from..].find('@').map(|i| i + from) {
                    from = at + 1;
                    let mut start = at;
                    while start > 0 && is_local_char(b[start - 1]) {
                        start -= 1;
                    }
                    let end = run(b, at + 1, is_domain_char);
                    // The domain ends in a label of two or more letters, after a dot.
                    let domain = s[at + 1..end].trim_end_matches(['.', '-']);
                    let end = at + 1 + domain.len();
                    let tld_ok = domain.rfind('.').is_some_and(|dot| {
                        let tld = &domain[dot + 1..];
                        dot > 0 && tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic())
                    });
                    if start < at && tld_ok {
                        out.push((start, end, r));
                        from = end;
                    }
                }
            }
            RedactPattern::CardNumber => {
                let mut i = 0;
                while i < b.len() {
                    if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
                        i += 1;
                        continue;
                    }
                    // Digits, with single spaces or dashes between groups.
                    let mut digits = [0u8; 20];
                    let mut n = 0;
                    let mut j = i;
                    let mut end = i;
                    while j < b.len() && n < 20 {
                        if b[j].is_ascii_digit() {
                            digits[n] = b[j] - b'0';
                            n += 1;
                            j += 1;
                            end = j;
                        } else if matches!(b[j], b' ' | b'-')
                            && b.get(j + 1).is_some_and(u8::is_ascii_digit)
                        {
                            j += 1;
                        } else {
                            break;
                        }
                    }
                    let bounded = !b.get(end).is_some_and(u8::is_ascii_alphanumeric);
                    if bounded && (13..=19).contains(&n) && luhn(&digits[..n]) {
                        out.push((i, end, r));
                    }
                    i = end.max(i + 1);
                }
            }
            RedactPattern::Ipv4 => {
                let mut i = 0;
                while i < b.len() {
                    let boundary = i == 0 || !(b[i - 1].is_ascii_digit() || b[i - 1] == b'.');
                    if b[i].is_ascii_digit() && boundary {
                        if let Some(end) = ipv4_at(b, i) {
                            out.push((i, end, r));
                            i = end;
                            continue;
                        }
                    }
                    i += 1;
                }
            }
            RedactPattern::Literal(text) => {
                if !text.is_empty() {
                    out.extend(
                        s.match_indices(text.as_str())
                            .map(|(at, m)| (at, at + m.len(), r)),
                    );
                }
            }
            #[cfg(feature = "regex")]
            RedactPattern::Regex(re) => {
                // An empty match (`a*` where there is no `a`) has nothing to hide.
                out.extend(
                    re.0.find_iter(s)
                        .filter(|m| !m.is_empty())
                        .map(|m| (m.start(), m.end(), r)),
                );
            }
        }
    }
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

fn is_local_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-')
}

/// The end of the run of bytes from `from` for which `f` holds.
fn run(b: &[u8], from: usize, f: impl Fn(u8) -> bool) -> usize {
    let mut i = from.min(b.len());
    while i < b.len() && f(b[i]) {
        i += 1;
    }
    i
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &d)| {
            let d = u32::from(d);
            if k % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// The end of an IPv4 address starting at `i`, if one does.
fn ipv4_at(b: &[u8], i: usize) -> Option<usize> {
    let mut at = i;
    for part in 0..4 {
        let end = run(b, at, |c| c.is_ascii_digit());
        let len = end - at;
        if !(1..=3).contains(&len) {
            return None;
        }
        let n: u32 = std::str::from_utf8(&b[at..end]).ok()?.parse().ok()?;
        if n > 255 {
            return None;
        }
        at = end;
        if part < 3 {
            if b.get(at) != Some(&b'.') {
                return None;
            }
            at += 1;
        }
    }
    // Not part of a longer dotted run (a version number `1.2.3.4.5`).
    let longer = b.get(at).is_some_and(u8::is_ascii_digit)
        || (b.get(at) == Some(&b'.') && b.get(at + 1).is_some_and(u8::is_ascii_digit));
    (!longer).then_some(at)
}

/// `s` with every match of `patterns` replaced, or `None` when nothing matched (no allocation).
pub(crate) fn scrub(patterns: &[RedactPattern], s: &str) -> Option<String> {
    let mut found = Vec::new();
    for p in patterns {
        p.find(s, &mut found);
    }
    if found.is_empty() {
        return None;
    }
    found.sort_unstable_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for (start, end, replacement) in found {
        if end <= at {
            continue; // inside a match already replaced
        }
        let start = start.max(at);
        out.push_str(&s[at..start]);
        out.push_str(replacement);
        at = end;
    }
    out.push_str(&s[at..]);
    Some(out)
}

/// One pass of the patterns over a trace: every string it carries.
pub(super) struct Pass<'a> {
    pub(super) patterns: &'a [RedactPattern],
    /// Strings changed.
    pub(super) changed: u64,
}

impl Pass<'_> {
    pub(super) fn trace(&mut self, trace: &mut FinishedTrace) {
        if let Some(info) = trace.info.as_deref_mut() {
            self.info(info);
        }
        for span in &mut trace.spans {
            self.name(&mut span.name);
            if let Some(data) = span.data.as_deref_mut() {
                self.span(data);
            }
        }
        for signal in &mut trace.signals {
            match &mut signal.body {
                SignalBody::Event { name, metadata } => {
                    self.name(name);
                    self.map(metadata);
                }
                SignalBody::Finding(f) => {
                    self.name(&mut f.name);
                    if let FindingValue::Text(t) = &mut f.value {
                        self.text(t);
                    }
                    self.opt(&mut f.comment);
                    self.opt(&mut f.description);
                    self.map(&mut f.metadata);
                }
            }
        }
    }

    fn info(&mut self, info: &mut TraceInfo) {
        self.name(&mut info.name);
        self.opt(&mut info.session_id);
        self.opt(&mut info.user_id);
        info.tags.iter_mut().for_each(|t| self.text(t));
        self.map(&mut info.metadata);
        self.opt_value(&mut info.input);
        self.opt_value(&mut info.output);
        self.opt(&mut info.message);
    }

    fn span(&mut self, data: &mut SpanData) {
        self.opt_value(&mut data.input);
        self.opt_value(&mut data.output);
        self.map(&mut data.metadata);
        self.opt(&mut data.message);
        let llm = &mut data.llm;
        for m in &mut llm.messages {
            self.message(m);
        }
        if let Some(o) = llm.options.as_mut() {
            self.options(o);
        }
        for d in &mut llm.documents {
            self.text(&mut d.identifier);
            self.text(&mut d.title);
            self.text(&mut d.content_type);
            self.opt_value(&mut d.content);
            self.map(&mut d.metadata);
        }
        for q in &mut llm.queries {
            self.text(&mut q.text_representation);
        }
        llm.embedding_inputs.iter_mut().for_each(|t| self.text(t));
        self.opt(&mut llm.response_id);
        self.opt(&mut llm.response_model);
        llm.finish_reasons.iter_mut().for_each(|t| self.text(t));
    }

    /// Every text of a model call's options, field by field (no JSON round trip: this runs
    /// for every model-call span). A text field added to `Options` must be added here (and to
    /// the test `options_every_text_field`).
    fn options(&mut self, o: &mut Options) {
        for s in [
            &mut o.api_version,
            &mut o.base_url,
            &mut o.deployment_id,
            &mut o.function_call,
            &mut o.model,
            &mut o.provider,
            &mut o.tool_choice,
            &mut o.user,
        ] {
            self.opt(s);
        }
        for list in [&mut o.functions, &mut o.model_list].into_iter().flatten() {
            list.iter_mut().for_each(|s| self.text(s));
        }
        for m in [&mut o.logit_bias, &mut o.response_format, &mut o.stop]
            .into_iter()
            .flatten()
        {
            self.map(m);
        }
        for t in o.tools.iter_mut().flatten() {
            self.text(&mut t.name);
            self.text(&mut t.description);
            self.value(&mut t.parameters);
        }
    }

    /// A message's texts, names and tool calls. Binary data parts (base64) are not scanned.
    fn message(&mut self, m: &mut Message) {
        let (contents, name) = match m {
            Message::System(x) => (&mut x.contents, Some(&mut x.name)),
            Message::User(x) => (&mut x.contents, Some(&mut x.name)),
            Message::Assistant(x) => {
                if let Some(calls) = x.tool_calls.as_mut() {
                    for call in calls {
                        self.text(&mut call.id);
                        self.text(&mut call.function.name);
                        self.value(&mut call.function.arguments);
                    }
                }
                (&mut x.contents, Some(&mut x.name))
            }
            Message::Tool(x) => {
                self.text(&mut x.tool_call_id);
                (&mut x.contents, None)
            }
        };
        if let Some(name) = name {
            self.opt(name);
        }
        for part in contents {
            match part {
                Part::Text(t) => self.text(&mut t.text),
                Part::Data(d) => self.text(&mut d.mime_type),
            }
        }
    }

    fn text(&mut self, s: &mut String) {
        if let Some(new) = scrub(self.patterns, s) {
            *s = new;
            self.changed += 1;
        }
    }

    fn opt(&mut self, s: &mut Option<String>) {
        if let Some(s) = s.as_mut() {
            self.text(s);
        }
    }

    fn name(&mut self, n: &mut Name) {
        if let Some(new) = scrub(self.patterns, n) {
            *n = Cow::Owned(new);
            self.changed += 1;
        }
    }

    fn opt_value(&mut self, v: &mut Option<Value>) {
        if let Some(v) = v.as_mut() {
            self.value(v);
        }
    }

    fn value(&mut self, v: &mut Value) {
        match v {
            Value::String(s) => self.text(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.value(x)),
            Value::Object(m) => self.map(m),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// A map's values, and its keys (a key that matches is replaced, its value kept).
    fn map(&mut self, m: &mut Map<String, Value>) {
        let renamed: Vec<(String, String)> = m
            .keys()
            .filter_map(|k| scrub(self.patterns, k).map(|new| (k.clone(), new)))
            .collect();
        for (old, new) in renamed {
            if let Some(v) = m.remove(&old) {
                m.insert(new, v);
                self.changed += 1;
            }
        }
        m.values_mut().for_each(|x| self.value(x));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> String {
        scrub(&RedactPattern::presets(), s).unwrap_or_else(|| s.to_owned())
    }

    #[test]
    fn presets_replace_what_they_name() {
        assert_eq!(
            all("key sk-abcdefghijklmnop1234 end"),
            "key <redacted:api_key> end"
        );
        assert_eq!(
            all("sk-ant-api03-abcdefghijklmnopqrstu"),
            "<redacted:api_key>"
        );
        assert_eq!(all("sk_live_0123456789abcdefgh"), "<redacted:api_key>");
        assert_eq!(
            all("Authorization: Bearer eyJhbGciOi.J9x-y_z"),
            "Authorization: Bearer <redacted:bearer>"
        );
        assert_eq!(all("bearer  abcdefgh1234"), "bearer  <redacted:bearer>");
        assert_eq!(
            all("write to jane.doe+x@mail.example.co.uk."),
            "write to <redacted:email>."
        );
        assert_eq!(all("card 4111 1111 1111 1111!"), "card <redacted:card>!");
        assert_eq!(all("4111-1111-1111-1111"), "<redacted:card>");
        assert_eq!(all("4111111111111111"), "<redacted:card>");
        assert_eq!(all("from 192.168.0.1:80"), "from <redacted:ipv4>:80");
        assert_eq!(all("255.255.255.255"), "<redacted:ipv4>");
    }

    #[test]
    fn near_misses_stay() {
        for s in [
            "risk-assessment-of-the-quarterly-plan", // `sk-` inside a word
            "sk-short",
            "Bearer abc",
            "user@localhost",
            "@handle",
            "a@b.c",
            "4111 1111 1111 1112", // fails Luhn
            "1234567890",
            "version 1.2.3.4.5",
            "256.1.1.1",
            "1.2.3",
            "ordinary text, nothing secret",
            "",
        ] {
            assert_eq!(all(s), s, "{s:?}");
        }
    }

    #[test]
    fn literal_and_overlaps() {
        let p = [RedactPattern::literal("hunter2"), RedactPattern::Email];
        assert_eq!(
            scrub(&p, "hunter2 hunter2@example.com").as_deref(),
            Some("<redacted:literal> <redacted:email>")
        );
        assert_eq!(scrub(&[RedactPattern::literal("")], "abc"), None);
    }

    #[test]
    fn options_every_text_field() {
        // Every field of `Options` set, through its JSON, to text holding a secret (a map
        // field to a map holding it, a list to a list of it).
        let secret = "x@example.com";
        let mut v = serde_json::to_value(Options::default().model("m")).unwrap();
        let fields = [
            "APIVersion",
            "BaseURL",
            "DeploymentID",
            "FunctionCall",
            "Functions",
            "LogitBias",
            "Model",
            "ModelList",
            "Provider",
            "ResponseFormat",
            "Stop",
            "ToolChoice",
            "Tools",
            "User",
        ];
        for f in fields {
            v[f] = match f {
                "Functions" | "ModelList" => serde_json::json!([secret]),
                "LogitBias" | "ResponseFormat" | "Stop" => serde_json::json!({"k": secret}),
                "Tools" => serde_json::json!([
                    {"Name": secret, "Description": secret, "Parameters": {"d": secret}}
                ]),
                _ => serde_json::json!(secret),
            };
        }
        let mut o: Options = serde_json::from_value(v).expect("every field named");
        let patterns = [RedactPattern::Email];
        let mut pass = Pass {
            patterns: &patterns,
            changed: 0,
        };
        pass.options(&mut o);
        let after = serde_json::to_value(&o).unwrap();
        assert!(!after.to_string().contains(secret), "{after}");
        assert_eq!(after.as_object().unwrap().len(), fields.len());
    }

    #[cfg(feature = "regex")]
    #[test]
    fn a_regex_replaces_its_matches_with_the_same_marker() {
        let p = [
            RedactPattern::regex(r"(?i)\bacme-[0-9]{6}\b").expect("valid"),
            RedactPattern::Email,
        ];
        assert_eq!(
            scrub(
                &p,
                "ids ACME-123456 and acme-654321, not ACME-1234567; a@example.com"
            )
            .as_deref(),
            Some("ids <redacted:regex> and <redacted:regex>, not ACME-1234567; <redacted:email>")
        );
        assert_eq!(scrub(&p, "nothing here"), None);
        // Unicode classes (`unicode-perl`) and case folding (`unicode-case`) work.
        let w = [RedactPattern::regex(r"(?i)clé:\s*\w+").expect("valid")];
        assert_eq!(
            scrub(&w, "CLÉ: ünïcode ok").as_deref(),
            Some("<redacted:regex> ok")
        );
        // Overlapping a preset: the longer match wins, nothing of either is left.
        let o = [
            RedactPattern::regex(r"token=\S+").expect("valid"),
            RedactPattern::ApiKey,
        ];
        assert_eq!(
            scrub(&o, "token=sk-abcdefghijklmnop1234 end").as_deref(),
            Some("<redacted:regex> end")
        );
    }

    #[cfg(feature = "regex")]
    #[test]
    fn a_regex_that_matches_empty_text_replaces_nothing_empty() {
        let p = [RedactPattern::regex("x*").expect("valid")];
        assert_eq!(scrub(&p, "abc"), None);
        assert_eq!(scrub(&p, "axxb").as_deref(), Some("a<redacted:regex>b"));
    }

    #[cfg(feature = "regex")]
    #[test]
    fn a_bad_regex_is_an_error_naming_it() {
        let err = RedactPattern::regex("secret-[0-9").expect_err("unclosed class");
        let text = err.to_string();
        assert!(text.contains("RedactPattern::regex"), "{text}");
        assert!(text.contains("`secret-[0-9`"), "{text}");
        assert!(text.contains("unclosed character class"), "{text}");
        // Look-around is not supported: an error, not a panic.
        assert!(RedactPattern::regex("(?=x)").is_err());
    }

    #[cfg(feature = "regex")]
    #[test]
    fn a_regex_too_big_to_compile_is_refused() {
        // The Unicode word class repeated a thousand times: 50 MB without the limit.
        let err = RedactPattern::regex(r"\w{1000}").expect_err("over the size limit");
        let text = err.to_string();
        assert!(text.contains("exceed the limit of 4194304 bytes"), "{text}");
        // What secret-shaped patterns need stays well inside it.
        for ok in [
            r"\w{64}",
            r"[A-Za-z0-9_]{1000}",
            r"(?i)(password|passwd|secret|token)\s*[:=]\s*\S+",
            r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){3,7}\b",
            r"ghp_[A-Za-z0-9]{36}",
        ] {
            assert!(RedactPattern::regex(ok).is_ok(), "{ok}");
        }
    }

    #[cfg(feature = "regex")]
    #[test]
    fn a_regex_is_counted_by_the_pass() {
        let patterns = [RedactPattern::regex("internal-[a-z]+").expect("valid")];
        let mut pass = Pass {
            patterns: &patterns,
            changed: 0,
        };
        let mut m = Message::user("see internal-roadmap");
        pass.message(&mut m);
        let mut v = serde_json::json!({"internal-key": ["internal-x", 1, "plain"]});
        pass.value(&mut v);
        assert_eq!(pass.changed, 3); // the message text, the key, the array's string
        let after = format!("{}{}", serde_json::to_string(&m).unwrap(), v);
        assert!(!after.contains("internal-"), "{after}");
        assert_eq!(
            patterns[0],
            RedactPattern::regex("internal-[a-z]+").unwrap()
        );
    }

    #[test]
    fn multibyte_text_is_safe() {
        let s = "é sk-ééééééééééééééééé 日本 1.2.3.4 x@y.zz ü";
        let out = all(s);
        assert!(out.contains("<redacted:ipv4>"));
        assert!(out.contains("<redacted:email>"));
    }
}
