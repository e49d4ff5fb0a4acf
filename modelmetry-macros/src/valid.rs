//! Checks of the options against the function they annotate, and the parameters to capture.

use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, Pat, Signature, Token, Type, TypeParamBound};

use crate::args::{FnArgs, Macro};

/// A parameter binding to capture as part of the input: its name and its identifier (the
/// user's own token, so it resolves to the user's binding).
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) ident: Ident,
    /// Named in `redact(...)`: recorded as a placeholder with its type's name, never captured.
    pub(crate) redacted: bool,
}

/// Check `args` against `sig`; return the parameters to capture, in order.
pub(crate) fn check(which: Macro, args: &FnArgs, sig: &Signature) -> syn::Result<Vec<Param>> {
    if let Some(c) = &sig.constness {
        return Err(syn::Error::new(
            c.span,
            format!(
                "{} cannot instrument a `const fn`: a span reads the clock and the thread's context, which const evaluation cannot",
                which.attr()
            ),
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(
            v.span(),
            format!("{} cannot instrument a variadic function", which.attr()),
        ));
    }

    let mut bindings: Vec<Ident> = Vec::new();
    let mut has_self = false;
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(_) => has_self = true,
            FnArg::Typed(t) => collect(&t.pat, &mut bindings),
        }
    }

    if let (Some(_), Some(first)) = (args.skip_all, args.skip.first()) {
        return Err(syn::Error::new(
            first.span(),
            "`skip(...)` says nothing more when `skip_all` is given: keep one of them",
        ));
    }
    for name in &args.redact {
        if args.skip_all.is_some() || args.skip.contains(name) {
            return Err(syn::Error::new(
                name.span(),
                format!(
                    "`redact({name})`: `{name}` is skipped, so nothing of it is recorded; keep one of them"
                ),
            ));
        }
        if !bindings.iter().any(|b| b == name) {
            let known: Vec<String> = bindings.iter().map(unraw).collect();
            return Err(syn::Error::new(
                name.span(),
                format!(
                    "`redact({name})`: the function has no parameter `{name}`; its parameters are: {}",
                    known.join(", ")
                ),
            ));
        }
    }
    for name in &args.skip {
        let exists = if name == "self" {
            has_self
        } else {
            bindings.iter().any(|b| b == name)
        };
        if !exists {
            let known: Vec<String> = bindings.iter().map(unraw).collect();
            let list = if known.is_empty() {
                "it has none".to_owned()
            } else {
                format!("its parameters are: {}", known.join(", "))
            };
            return Err(syn::Error::new(
                name.span(),
                format!("`skip({name})`: the function has no parameter `{name}`; {list}"),
            ));
        }
    }

    if args.skip_all.is_some() {
        return Ok(Vec::new());
    }
    Ok(bindings
        .into_iter()
        .filter(|b| !args.skip.iter().any(|s| s == b))
        .map(|ident| Param {
            name: unraw(&ident),
            redacted: args.redact.contains(&ident),
            ident,
        })
        .collect())
}

fn unraw(ident: &Ident) -> String {
    use syn::ext::IdentExt;
    ident.unraw().to_string()
}

/// The identifiers a parameter pattern binds (`(a, b): (u8, u8)` binds `a` and `b`).
fn collect(pat: &Pat, out: &mut Vec<Ident>) {
    match pat {
        Pat::Ident(p) => {
            out.push(p.ident.clone());
            if let Some((_, sub)) = &p.subpat {
                collect(sub, out);
            }
        }
        Pat::Tuple(t) => t.elems.iter().for_each(|p| collect(p, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| collect(p, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| collect(&f.pat, out)),
        Pat::Slice(s) => s.elems.iter().for_each(|p| collect(p, out)),
        Pat::Reference(r) => collect(&r.pat, out),
        Pat::Paren(p) => collect(&p.pat, out),
        Pat::Type(t) => collect(&t.pat, out),
        // `_`, `..`, literals, ranges, macros: nothing to capture.
        _ => {}
    }
}

/// Whether a `stream` function's items come from an iterator or an async stream.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    Iterator,
    Stream,
}

/// How the wrapped stream is handed back as the declared type.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrapping {
    /// `impl Iterator<..>` / `impl Stream<..>`: the wrapper is returned as it is.
    Opaque,
    /// `Box<dyn Iterator<..>>`: boxed, then coerced.
    Boxed,
    /// `Pin<Box<dyn Stream<..>>>`: pinned in a box, then coerced.
    PinBoxed,
}

/// What a `#[span(stream)]` function returns.
pub(crate) struct StreamReturn {
    pub(crate) flavour: Flavour,
    pub(crate) wrapping: Wrapping,
    /// The declared `Item = T`, when given.
    pub(crate) item: Option<Type>,
    /// `Result<stream, E>`: an `Err` is a request that failed before there was a stream.
    pub(crate) in_result: bool,
}

const STREAM_EXPECTED: &str = "`stream` needs a function that returns an iterator or a stream, \
as one of: `impl Iterator<Item = T>`, `impl Stream<Item = T>`, `Box<dyn Iterator<Item = T>>`, \
`Pin<Box<dyn Stream<Item = T>>>`, or a `Result` of one of these";

/// Check the options that go with `stream`, and what the function returns; `None` without
/// `stream`.
pub(crate) fn stream_return(args: &FnArgs, sig: &Signature) -> syn::Result<Option<StreamReturn>> {
    if args.stream.is_none() {
        if let Some((key, _)) = &args.fold {
            return Err(syn::Error::new(
                key.span(),
                "`fold` says how a stream's items become the output: it goes with `stream`",
            ));
        }
        return Ok(None);
    }
    if let (Some((key, _)), true) = (&args.fold, args.no_output) {
        return Err(syn::Error::new(
            key.span(),
            "`fold` makes the output that `output = false` turns off: keep one of them",
        ));
    }
    let ty = match &sig.output {
        syn::ReturnType::Type(_, ty) => ty,
        syn::ReturnType::Default => {
            return Err(syn::Error::new(
                sig.ident.span(),
                format!("{STREAM_EXPECTED}; `{}` returns nothing", sig.ident),
            ));
        }
    };
    if let Some((flavour, wrapping, item)) = stream_shape(ty) {
        return Ok(Some(StreamReturn {
            flavour,
            wrapping,
            item,
            in_result: false,
        }));
    }
    if let Some(ok) = result_ok_type(ty) {
        if let Some((flavour, wrapping, item)) = stream_shape(ok) {
            return Ok(Some(StreamReturn {
                flavour,
                wrapping,
                item,
                in_result: true,
            }));
        }
    }
    let hint = match &**ty {
        Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Pin") => {
            " (a pinned box holds an async stream, not an iterator: for an iterator, return \
             `Box<dyn Iterator<Item = ...>>`)"
        }
        Type::Path(_) => {
            " (the function returns its stream wrapped in the span that lives as long as it, \
             which no other named type can hold: for a named iterator type, declare \
             `-> impl Iterator<Item = ...>`)"
        }
        _ => "",
    };
    Err(syn::Error::new_spanned(
        ty,
        format!("{STREAM_EXPECTED}{hint}"),
    ))
}

/// The declared return type, when the function returns an iterator or a stream but has no
/// `stream` (nor `stream = false`): its span closes before the first item, which is worth a
/// hint.
pub(crate) fn unmarked_stream<'a>(args: &FnArgs, sig: &'a Signature) -> Option<&'a Type> {
    if args.stream.is_some() || args.not_stream {
        return None;
    }
    let syn::ReturnType::Type(_, ty) = &sig.output else {
        return None;
    };
    let shaped = stream_shape(ty).is_some()
        || result_ok_type(ty).is_some_and(|ok| stream_shape(ok).is_some());
    shaped.then_some(&**ty)
}

/// `impl Iterator`/`impl Stream`, `Box<dyn Iterator>`/`Box<dyn Stream>`, `Pin<Box<dyn Stream>>`,
/// with the declared item type.
fn stream_shape(ty: &Type) -> Option<(Flavour, Wrapping, Option<Type>)> {
    match ty {
        Type::Paren(p) => stream_shape(&p.elem),
        Type::Group(g) => stream_shape(&g.elem),
        Type::ImplTrait(t) => flavour(&t.bounds).map(|(f, item)| (f, Wrapping::Opaque, item)),
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            let arg = first_type_arg(last)?;
            if last.ident == "Box" {
                let Type::TraitObject(object) = arg else {
                    return None;
                };
                flavour(&object.bounds).map(|(f, item)| (f, Wrapping::Boxed, item))
            } else if last.ident == "Pin" {
                // A pinned box of an iterator is no iterator: only streams come pinned.
                match stream_shape(arg)? {
                    (Flavour::Stream, Wrapping::Boxed, item) => {
                        Some((Flavour::Stream, Wrapping::PinBoxed, item))
                    }
                    _ => None,
                }
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The `Ok` type of `Result<T, E>` (or of an alias such as `io::Result<T>`).
fn result_ok_type(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Paren(p) => result_ok_type(&p.elem),
        Type::Group(g) => result_ok_type(&g.elem),
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            (last.ident == "Result")
                .then(|| first_type_arg(last))
                .flatten()
        }
        _ => None,
    }
}

fn first_type_arg(segment: &syn::PathSegment) -> Option<&Type> {
    let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

/// `Iterator` or `Stream` among the bounds, by the trait's last path segment, with its
/// `Item = T` (`None` when not given, or when `T` is itself an `impl Trait`).
fn flavour(bounds: &Punctuated<TypeParamBound, Token![+]>) -> Option<(Flavour, Option<Type>)> {
    bounds.iter().find_map(|b| {
        let TypeParamBound::Trait(t) = b else {
            return None;
        };
        let last = t.path.segments.last()?;
        let flavour = if last.ident == "Iterator" {
            Flavour::Iterator
        } else if last.ident == "Stream" {
            Flavour::Stream
        } else {
            return None;
        };
        let item = match &last.arguments {
            syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
                syn::GenericArgument::AssocType(a) if a.ident == "Item" => Some(a.ty.clone()),
                _ => None,
            }),
            _ => None,
        };
        let item = item.filter(|t| !crate::tokens::mentions_impl(t.to_token_stream()));
        Some((flavour, item))
    })
}
