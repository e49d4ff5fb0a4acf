//! The options of `#[trace(...)]` and `#[span(...)]`: parsed, checked for unknown, duplicate
//! and mistyped options, each error spanned on the offending token.

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprArray, Ident, Lit, LitBool, LitStr, Token};

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Macro {
    Trace,
    Span,
}

impl Macro {
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Macro::Trace => "#[trace]",
            Macro::Span => "#[span]",
        }
    }
}

/// The kinds `kind = "..."` accepts: (spelling, variant of `Kind`).
pub(crate) const KINDS: &[(&str, &str)] = &[
    ("llm", "Llm"),
    ("completion", "Llm"),
    ("embeddings", "Embeddings"),
    ("retriever", "Retriever"),
    ("retrieval", "Retriever"),
    ("tool", "Tool"),
    ("agent", "Agent"),
    ("chain", "Chain"),
    ("other", "Other"),
];

const KIND_LIST: &str =
    "llm (alias completion), embeddings, retriever (alias retrieval), tool, agent, chain, other";

/// Every option: its name, and whether `#[trace]` / `#[span]` take it.
const OPTIONS: &[(&str, bool, bool)] = &[
    ("name", true, true),
    ("kind", false, true),
    ("model", false, true),
    ("provider", false, true),
    ("session", true, false),
    ("user", true, false),
    ("tags", true, false),
    ("flush", true, false),
    ("metadata", true, true),
    ("skip", true, true),
    ("skip_all", true, true),
    ("redact", true, true),
    ("output", true, true),
    ("stream", false, true),
    ("fold", false, true),
];

fn option_list(which: Macro) -> String {
    let names: Vec<&str> = OPTIONS
        .iter()
        .filter(|(_, t, s)| match which {
            Macro::Trace => *t,
            Macro::Span => *s,
        })
        .map(|(n, _, _)| *n)
        .collect();
    names.join(", ")
}

/// `name = ...`: a literal (a `&'static str`, free), or an expression evaluated only when
/// tracing is on.
pub(crate) enum NameArg {
    Lit(LitStr),
    Expr(Expr),
}

/// The parsed options of one attribute.
#[derive(Default)]
pub(crate) struct FnArgs {
    pub(crate) name: Option<NameArg>,
    /// The `Kind` variant, with the literal it came from.
    pub(crate) kind: Option<(LitStr, &'static str)>,
    pub(crate) model: Option<Expr>,
    pub(crate) provider: Option<Expr>,
    pub(crate) session: Option<Expr>,
    pub(crate) user: Option<Expr>,
    pub(crate) tags: Vec<Expr>,
    pub(crate) flush: bool,
    pub(crate) metadata: Vec<(String, Expr)>,
    pub(crate) skip: Vec<Ident>,
    /// The `skip_all` token, when given.
    pub(crate) skip_all: Option<Span>,
    /// `redact(...)`: parameters recorded as `"<redacted: {type}>"`, never captured.
    pub(crate) redact: Vec<Ident>,
    /// `output = false`.
    pub(crate) no_output: bool,
    /// The `stream` token, when given.
    pub(crate) stream: Option<Span>,
    /// `stream = false`: the function returns an iterator or a stream, and its span is meant
    /// to close when it returns (no hint).
    pub(crate) not_stream: bool,
    /// `fold = <expr>`, with its key.
    pub(crate) fold: Option<(Ident, Expr)>,
}

impl FnArgs {
    pub(crate) fn parse(which: Macro, tokens: TokenStream) -> syn::Result<FnArgs> {
        let parser = |input: ParseStream<'_>| parse_options(which, input);
        parser.parse2(tokens)
    }
}

fn parse_options(which: Macro, input: ParseStream<'_>) -> syn::Result<FnArgs> {
    let mut args = FnArgs::default();
    let mut seen: Vec<String> = Vec::new();
    while !input.is_empty() {
        let key: Ident = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!(
                    "expected an option of {}: {}",
                    which.attr(),
                    option_list(which)
                ),
            )
        })?;
        let name = key.to_string();
        check_known(which, &key, &name)?;
        if seen.contains(&name) {
            return Err(syn::Error::new(
                key.span(),
                format!("duplicate option `{name}`: give it once"),
            ));
        }
        seen.push(name.clone());
        match name.as_str() {
            "name" => args.name = Some(name_value(&key, input)?),
            "kind" => args.kind = Some(kind_value(&key, input)?),
            "model" => args.model = Some(expr_value(&key, input)?),
            "provider" => args.provider = Some(expr_value(&key, input)?),
            "session" => args.session = Some(expr_value(&key, input)?),
            "user" => args.user = Some(expr_value(&key, input)?),
            "tags" => args.tags = tags_value(&key, input)?,
            "flush" => {
                no_value(&key, input)?;
                args.flush = true;
            }
            "metadata" => args.metadata = metadata_list(&key, input)?,
            "skip" => args.skip = skip_list(&key, input)?,
            "redact" => args.redact = param_list(&key, input, "redact", "redacted")?,
            "skip_all" => {
                no_value(&key, input)?;
                args.skip_all = Some(key.span());
            }
            "output" => args.no_output = !bool_value(&key, input)?,
            "stream" => {
                // `stream` alone, or `stream = true`/`stream = false`.
                if !input.peek(Token![=]) {
                    no_value(&key, input)?;
                    args.stream = Some(key.span());
                } else if bool_value(&key, input)? {
                    args.stream = Some(key.span());
                } else {
                    args.not_stream = true;
                }
            }
            "fold" => {
                let value = expr_value(&key, input)?;
                args.fold = Some((key, value));
            }
            _ => unreachable!("check_known accepted `{name}`"),
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(args)
}

fn check_known(which: Macro, key: &Ident, name: &str) -> syn::Result<()> {
    let Some(&(_, trace, span)) = OPTIONS.iter().find(|(n, _, _)| *n == name) else {
        return Err(syn::Error::new(
            key.span(),
            format!(
                "unknown option `{name}` of {}; expected one of: {}",
                which.attr(),
                option_list(which)
            ),
        ));
    };
    let (ok, other) = match which {
        Macro::Trace => (trace, Macro::Span),
        Macro::Span => (span, Macro::Trace),
    };
    if ok {
        return Ok(());
    }
    Err(syn::Error::new(
        key.span(),
        format!(
            "`{name}` is an option of {}, not of {}; {} takes: {}",
            other.attr(),
            which.attr(),
            which.attr(),
            option_list(which)
        ),
    ))
}

/// `key = <expr>`: the `=` and the expression.
fn expr_value(key: &Ident, input: ParseStream<'_>) -> syn::Result<Expr> {
    if !input.peek(Token![=]) {
        return Err(syn::Error::new(
            key.span(),
            format!("`{key}` needs a value: `{key} = ...`"),
        ));
    }
    input.parse::<Token![=]>()?;
    input.parse()
}

fn string_value(key: &Ident, input: ParseStream<'_>, example: &str) -> syn::Result<LitStr> {
    match expr_value(key, input)? {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{key}` takes a string literal: `{example}`"),
        )),
    }
}

fn name_value(key: &Ident, input: ParseStream<'_>) -> syn::Result<NameArg> {
    match expr_value(key, input)? {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(NameArg::Lit(s)),
        other @ Expr::Lit(_) => Err(syn::Error::new(
            other.span(),
            format!(
                "`{key}` takes a string literal (`{key} = \"chatbot.turn\"`) or an expression that displays as the name (`{key} = format!(\"tool.{{tool}}\")`)"
            ),
        )),
        other => Ok(NameArg::Expr(other)),
    }
}

fn kind_value(key: &Ident, input: ParseStream<'_>) -> syn::Result<(LitStr, &'static str)> {
    let lit = string_value(key, input, "kind = \"llm\"")?;
    let value = lit.value();
    match KINDS.iter().find(|(k, _)| *k == value) {
        Some(&(_, variant)) => Ok((lit, variant)),
        None => Err(syn::Error::new(
            lit.span(),
            format!("unknown kind `{value}`; expected one of: {KIND_LIST}"),
        )),
    }
}

fn bool_value(key: &Ident, input: ParseStream<'_>) -> syn::Result<bool> {
    match expr_value(key, input)? {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Bool(LitBool { value, .. }),
            ..
        }) => Ok(value),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{key}` takes `true` or `false`: `{key} = false`"),
        )),
    }
}

fn tags_value(key: &Ident, input: ParseStream<'_>) -> syn::Result<Vec<Expr>> {
    match expr_value(key, input)? {
        Expr::Array(ExprArray { elems, .. }) => Ok(elems.into_iter().collect()),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{key}` takes an array: `{key} = [\"support\", \"orders\"]`"),
        )),
    }
}

fn no_value(key: &Ident, input: ParseStream<'_>) -> syn::Result<()> {
    if input.peek(Token![=]) || input.peek(syn::token::Paren) {
        return Err(syn::Error::new(
            input.span(),
            format!("`{key}` takes no value: write `{key}` alone"),
        ));
    }
    Ok(())
}

/// The parenthesised contents after `key`, or an error showing the expected form.
fn parenthesised<'a>(
    key: &Ident,
    input: ParseStream<'a>,
    example: &str,
) -> syn::Result<syn::parse::ParseBuffer<'a>> {
    if !input.peek(syn::token::Paren) {
        let at = if input.is_empty() {
            key.span()
        } else {
            input.span()
        };
        return Err(syn::Error::new(
            at,
            format!("`{key}` takes a list: `{example}`"),
        ));
    }
    let content;
    syn::parenthesized!(content in input);
    Ok(content)
}

fn skip_list(key: &Ident, input: ParseStream<'_>) -> syn::Result<Vec<Ident>> {
    param_list(key, input, "skip", "skipped")
}

/// `skip(a, b)` or `redact(a, b)`: parameter names, each once.
fn param_list(
    key: &Ident,
    input: ParseStream<'_>,
    option: &str,
    done: &str,
) -> syn::Result<Vec<Ident>> {
    let example = format!("{option}(api_key, client)");
    let content = parenthesised(key, input, &example)?;
    let names = Punctuated::<Ident, Token![,]>::parse_terminated_with(&content, |p| {
        if p.peek(Token![self]) {
            let s: Token![self] = p.parse()?;
            return Ok(Ident::new("self", s.span));
        }
        p.parse::<Ident>()
    })
    .map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("`{option}` takes parameter names: `{example}`"),
        )
    })?;
    let mut out: Vec<Ident> = Vec::new();
    for name in names {
        if out.contains(&name) {
            return Err(syn::Error::new(
                name.span(),
                format!("`{name}` is {done} twice"),
            ));
        }
        out.push(name);
    }
    Ok(out)
}

/// `metadata(key = <expr>, "key.with.dots" = <expr>, ...)`.
pub(crate) fn metadata_list(
    key: &Ident,
    input: ParseStream<'_>,
) -> syn::Result<Vec<(String, Expr)>> {
    let content = parenthesised(key, input, "metadata(model_version = \"v2\", retries = 3)")?;
    let mut out: Vec<(String, Expr)> = Vec::new();
    while !content.is_empty() {
        let (name, span) = key_name(&content, "a metadata key")?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(syn::Error::new(
                span,
                format!("duplicate metadata key `{name}`"),
            ));
        }
        if !content.peek(Token![=]) {
            return Err(syn::Error::new(
                span,
                format!("metadata key `{name}` needs a value: `{name} = ...`"),
            ));
        }
        content.parse::<Token![=]>()?;
        out.push((name, content.parse()?));
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(out)
}

/// A key: an identifier (raw identifiers lose their `r#`) or a string literal.
pub(crate) fn key_name(input: ParseStream<'_>, what: &str) -> syn::Result<(String, Span)> {
    use syn::ext::IdentExt;
    if input.peek(LitStr) {
        let s: LitStr = input.parse()?;
        if s.value().is_empty() {
            return Err(syn::Error::new(s.span(), format!("{what} cannot be empty")));
        }
        return Ok((s.value(), s.span()));
    }
    if input.peek(Ident::peek_any) {
        let id = input.call(Ident::parse_any)?;
        return Ok((id.unraw().to_string(), id.span()));
    }
    Err(input.error(format!("{what} is an identifier or a string literal")))
}
