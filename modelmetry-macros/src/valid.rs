//! Checks of the options against the function they annotate, and the parameters to capture.

use syn::spanned::Spanned;
use syn::{FnArg, Ident, Pat, Signature};

use crate::args::{FnArgs, Macro};

/// A parameter binding to capture as part of the input: its name and its identifier (the
/// user's own token, so it resolves to the user's binding).
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) ident: Ident,
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
