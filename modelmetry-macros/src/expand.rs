//! The function rewrite of `#[trace]` and `#[span]`.
//!
//! The signature is kept token for token; only the body changes. For a function that returns
//! a value, the body runs in a closure called at once, so that `return` and `?` leave the
//! closure (not the function) and the value can be inspected on its way out. A synchronous
//! `#[trace]`:
//!
//! ```text
//! fn f(a: A) -> R {
//!     let scope = Scope::trace("f", false);                // checks is_enabled() first
//!     if scope.is_active() { /* session, tags; input if scope.captures_content() */ }
//!     let ret = (move || -> R { body })();                  // typed by a never-run `return`
//!     if scope.is_active() { /* Ok/plain value -> output, Err -> severity error */ }
//!     ret                                                   // scope drops: the trace closes
//! }
//! ```
//!
//! A synchronous `#[span]`, the hot path, runs all of that in a closure that
//! `SpanScope::run` calls between the span's open and close (see [`sync_span`]). A function
//! returning nothing (or `!`) keeps its body as it is. An `async fn` becomes a `fn` that opens
//! its span when called and returns its body as an async block the span follows across polls,
//! on any executor (`expand_async.rs`).

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, LitStr, ReturnType, Type};

use crate::args::{FnArgs, Macro, NameArg};
use crate::tokens::{kind_tokens, local, mentions_impl, type_hint, use_traits};
use crate::valid::{self, Param, StreamReturn};
use crate::{expand_async, expand_stream};

/// Expand `#[trace]` / `#[span]`; on any error, the error and the item unchanged.
pub(crate) fn instrument(which: Macro, args: TokenStream, item: TokenStream) -> TokenStream {
    match try_instrument(which, args, item.clone()) {
        Ok(tokens) => tokens,
        Err(e) => fallback(e, item),
    }
}

/// The compile error and the item as written: the user sees this one error, not the errors
/// of code that no longer exists (missing functions, unused imports, ...).
pub(crate) fn fallback(error: syn::Error, item: TokenStream) -> TokenStream {
    let mut out = error.to_compile_error();
    out.extend(item);
    out
}

fn try_instrument(which: Macro, args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = FnArgs::parse(which, args)?;
    let func: ItemFn = parse_fn(which, item)?;
    let params = valid::check(which, &args, &func.sig)?;
    let stream = valid::stream_return(&args, &func.sig)?;
    let hint = match which {
        Macro::Span => valid::unmarked_stream(&args, &func.sig).map(stream_hint),
        Macro::Trace => None,
    };
    Ok(rewrite(which, &args, func, &params, stream.as_ref(), hint))
}

fn parse_fn(which: Macro, item: TokenStream) -> syn::Result<ItemFn> {
    match syn::parse2::<ItemFn>(item.clone()) {
        Ok(f) => Ok(f),
        Err(e) => {
            if let Ok(decl) = syn::parse2::<syn::TraitItemFn>(item.clone()) {
                if decl.default.is_none() {
                    return Err(syn::Error::new_spanned(
                        &decl.sig,
                        format!(
                            "{} needs a function body; in a trait, put it on the functions that implement this one",
                            which.attr()
                        ),
                    ));
                }
            }
            let at = item
                .into_iter()
                .next()
                .map_or_else(Span::call_site, |t| t.span());
            if e.to_string().starts_with("expected `fn`") {
                return Err(syn::Error::new(
                    at,
                    format!("{} goes on a function", which.attr()),
                ));
            }
            Err(e)
        }
    }
}

/// What the function returns, as far as the rewrite cares.
enum Returns {
    /// Nothing (or `()`), or `!`: there is no value to record.
    Nothing,
    /// A type that can be named in the body (`None::<R>` types the never-run `return`).
    Named(Box<Type>),
    /// A type that mentions `impl Trait`: inferred from the body, with what can be named
    /// pinned (`Result<impl Display, E>` types the body as `Result<_, E>`, so that the error's
    /// type is known where the expansion describes it, even before the body's `?` settle it).
    Opaque(Option<Box<Type>>),
}

/// `ty` with every `impl Trait` in it replaced by `_`; `None` when nothing else is left.
fn nameable_part(ty: &Type) -> Option<Box<Type>> {
    struct Infer;
    impl syn::visit_mut::VisitMut for Infer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(t) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](t.impl_token.span),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut hinted = ty.clone();
    syn::visit_mut::VisitMut::visit_type_mut(&mut Infer, &mut hinted);
    match hinted {
        Type::Infer(_) => None,
        Type::Paren(ref p) if matches!(*p.elem, Type::Infer(_)) => None,
        hinted => Some(Box::new(hinted)),
    }
}

fn returns(output: &ReturnType) -> Returns {
    match output {
        ReturnType::Default => Returns::Nothing,
        ReturnType::Type(_, ty) => match &**ty {
            Type::Never(_) => Returns::Nothing,
            Type::Tuple(t) if t.elems.is_empty() => Returns::Nothing,
            ty if mentions_impl(ty.to_token_stream()) => Returns::Opaque(nameable_part(ty)),
            _ => Returns::Named(ty.clone()),
        },
    }
}

fn rewrite(
    which: Macro,
    args: &FnArgs,
    func: ItemFn,
    params: &[Param],
    stream: Option<&StreamReturn>,
    stream_hint: Option<TokenStream>,
) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let name = name_tokens(args, &sig.ident);
    let is_async = sig.asyncness.is_some();
    let returns = returns(&sig.output);
    let stmts = &block.stmts;

    let scope = local("__modelmetry_scope");
    let ret = local("__modelmetry_ret");
    let on_entry = on_entry(args, params, &scope);

    // The body, run so that its value can be inspected: a closure (sync) or an async block,
    // typed by a never-run `return` of the declared type so type errors point at user code.
    let hint = match &returns {
        Returns::Named(ty) | Returns::Opaque(Some(ty)) => type_hint(ty),
        _ => TokenStream::new(),
    };
    let on_exit = match &returns {
        Returns::Nothing => TokenStream::new(),
        _ => on_exit(args, &scope, &ret),
    };

    // An `async fn` becomes a `fn` returning its future: what opens the span runs at the call.
    let declared = sig.clone();
    let (sig, rebind) = if is_async {
        let rewritten = expand_async::rewrite_signature(sig);
        (rewritten.sig, rewritten.rebind)
    } else {
        (sig, TokenStream::new())
    };

    let body = if let Some(stream) = stream {
        let (at_call, rest) = expand_stream::body(
            args, &name, &declared, is_async, &block, &scope, &on_entry, stream,
        );
        if is_async {
            // The declared type, so that a boxed stream is coerced to it, as it was where the
            // `async fn` returned it.
            let rest = match &returns {
                Returns::Named(ty) => {
                    let out = local("__modelmetry_out");
                    quote!(let #out: #ty = { #rest }; #out)
                }
                _ => rest,
            };
            quote! {
                #at_call
                async move {
                    #rebind
                    #rest
                }
            }
        } else {
            quote!(#at_call #rest)
        }
    } else if !is_async && which == Macro::Span {
        sync_span(
            args,
            &name,
            &sig.output,
            &returns,
            &block,
            &on_entry,
            &on_exit,
        )
    } else if !is_async {
        let flush = args.flush;
        let open = quote!(::modelmetry::__private::Scope::trace(#name, #flush));
        match &returns {
            Returns::Nothing => quote! {
                let #scope = #open;
                #on_entry
                #block
            },
            _ => {
                let run = in_closure(&on_entry, &hint, stmts, &on_exit, &ret);
                quote! {
                    let #scope = #open;
                    #run
                }
            }
        }
    } else {
        let current = match which {
            Macro::Span => quote!(::modelmetry::__private::Scope::current_span()),
            Macro::Trace => quote!(::modelmetry::__private::Scope::current_trace()),
        };
        // Each scope lives in a block of its own: it is not `Send`, and must not be held
        // across an `.await`.
        let inner = match &returns {
            Returns::Nothing => quote! {
                {
                    let #scope = #current;
                    #on_entry
                }
                #block
            },
            _ => quote! {
                {
                    let #scope = #current;
                    #on_entry
                }
                let #ret = async move {
                    #hint
                    #(#stmts)*
                }
                .await;
                {
                    let #scope = #current;
                    #on_exit
                }
                #ret
            },
        };
        let scope_open = local("__modelmetry_async");
        let open = match which {
            Macro::Span => {
                let kind = kind_tokens(args);
                quote!(::modelmetry::__private::AsyncScope::span(#name, #kind))
            }
            Macro::Trace => quote!(::modelmetry::__private::AsyncScope::trace(#name)),
        };
        let wrapped = quote! {
            ::modelmetry::__private::AsyncScope::wrap(#scope_open, async move {
                #rebind
                #inner
            })
        };
        match which {
            Macro::Trace if args.flush => {
                let root = local("__modelmetry_root");
                let fut = local("__modelmetry_fut");
                quote! {
                    let #root = !::modelmetry::__private::in_trace();
                    let #scope_open = #open;
                    let #fut = #wrapped;
                    async move {
                        let #ret = #fut.await;
                        ::modelmetry::__private::flush_if_root(#root);
                        #ret
                    }
                }
            }
            _ => quote! {
                let #scope_open = #open;
                #wrapped
            },
        }
    };

    // The body's braces keep the user's spans, so the item's span stays the user's own: lints
    // on the item (`dead_code` on a function never called) still fire, and errors about the
    // body as a whole point at it.
    let body = match stream_hint {
        Some(hint) => quote!(#hint #body),
        None => body,
    };
    let mut braces = Group::new(Delimiter::Brace, body);
    braces.set_span(block.brace_token.span.join());
    // In a trait impl, the rewritten `async fn`'s `Captures` bound says more than the trait
    // (see expand_async.rs).
    let allow = if is_async {
        quote!(#[allow(refining_impl_trait)])
    } else {
        TokenStream::new()
    };
    quote! {
        #(#attrs)*
        #allow
        #vis #sig #braces
    }
}

/// `on_entry`, then the body's statements in a closure called at once (it catches `return`
/// and `?`; a `Once` moved into it makes it `FnOnce`, so the body may move out of captures),
/// its value bound to `ret`, then `on_exit`, and the value. `hint` types the closure by a
/// never-run `return` of the declared type, so type errors point at the user's code.
fn in_closure(
    on_entry: &TokenStream,
    hint: &TokenStream,
    stmts: &[syn::Stmt],
    on_exit: &TokenStream,
    ret: &syn::Ident,
) -> TokenStream {
    let once = local("__modelmetry_once");
    quote! {
        #on_entry
        let #once = ::modelmetry::__private::Once::new();
        // The closure exists to catch `return` and `?`; clippy skips expanded code today,
        // and this keeps it quiet if that changes.
        #[allow(clippy::redundant_closure_call)]
        let #ret = (move || {
            ::modelmetry::__private::Once::take(#once);
            #hint
            #(#stmts)*
        })();
        #on_exit
        #ret
    }
}

/// The body of a synchronous `#[span]` function: a closure that takes the span's scope and runs
/// the body (itself in a closure, if it returns a value, so that `return` and `?` stop there
/// and the value can be inspected), run by `SpanScope::run` when tracing is on, and with no
/// span when it is off:
///
/// ```text
/// fn f(a: A) -> R {
///     let once = Once::new();
///     let run = move |scope: &SpanScope| {
///         Once::take(once);                    // makes the closure FnOnce
///         if scope.is_active() { /* model, metadata; input if scope.captures_content() */ }
///         let ret = (move || -> R { body })();  // FnOnce too, by a `Once` of its own
///         if scope.is_active() { /* output or error */ }
///         ret
///     };
///     if !is_enabled() { return run(&SpanScope::off()); }
///     SpanScope::run("f", Kind::Other, run)    // opens, runs, closes; not inlined
/// }
/// ```
fn sync_span(
    args: &FnArgs,
    name: &TokenStream,
    output: &ReturnType,
    returns: &Returns,
    block: &syn::Block,
    on_entry: &TokenStream,
    on_exit: &TokenStream,
) -> TokenStream {
    let scope = local("__modelmetry_scope");
    let ret = local("__modelmetry_ret");
    let once = local("__modelmetry_once");
    let run = local("__modelmetry_run");
    let kind = kind_tokens(args);
    let stmts = &block.stmts;
    let body = match returns {
        Returns::Nothing => quote! {
            #on_entry
            #block
        },
        Returns::Named(ty) | Returns::Opaque(Some(ty)) => {
            in_closure(on_entry, &type_hint(ty), stmts, on_exit, &ret)
        }
        Returns::Opaque(None) => in_closure(on_entry, &TokenStream::new(), stmts, on_exit, &ret),
    };
    // `-> !`: the closure says so (edition 2021 would infer `()` for a body that diverges),
    // and its call is not `return`ed (that `return` would be unreachable).
    let (never, ret_kw) = match output {
        ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)) => {
            (quote!(-> !), TokenStream::new())
        }
        _ => (TokenStream::new(), quote!(return)),
    };
    let (name_let, start) = match &args.name {
        Some(NameArg::Expr(_)) => {
            let n = local("__modelmetry_name");
            (
                quote!(let #n = #name;),
                quote!(::modelmetry::__private::SpanScope::run_named(#n, #kind, #run)),
            )
        }
        _ => (
            TokenStream::new(),
            quote!(::modelmetry::__private::SpanScope::run(#name, #kind, #run)),
        ),
    };
    quote! {
        #name_let
        let #once = ::modelmetry::__private::Once::new();
        let #run = move |#scope: &::modelmetry::__private::SpanScope| #never {
            ::modelmetry::__private::Once::take(#once);
            #body
        };
        if !::modelmetry::__private::is_enabled() {
            #ret_kw #run(&::modelmetry::__private::SpanScope::off());
        }
        #start
    }
}

/// The span's name: a literal as it is, the function's name by default, or an expression
/// evaluated (by reference) only when tracing is on.
pub(crate) fn name_tokens(args: &FnArgs, ident: &syn::Ident) -> TokenStream {
    match &args.name {
        Some(NameArg::Lit(lit)) => lit.to_token_stream(),
        None => LitStr::new(&ident.to_string(), ident.span()).to_token_stream(),
        Some(NameArg::Expr(expr)) => quote_spanned! {expr.span()=>
            ::modelmetry::__private::lazy_name(|| ::modelmetry::__private::name_text(&(#expr)))
        },
    }
}

/// A warning, on stable Rust, for a function that returns an iterator or a stream without
/// `stream`: the use of a deprecated constant, spanned on the return type, whose note says
/// what to do. `stream` or `stream = false` makes it go away (as does `#[allow(deprecated)]`).
fn stream_hint(ty: &Type) -> TokenStream {
    let at = ty.span();
    let name = syn::Ident::new("modelmetry_span_closes_before_the_first_item", at);
    quote_spanned! {at=>
        {
            #[deprecated(note = "this function returns an iterator or a stream, and its span \
                closes when it returns, before the first item is produced: add `stream` to the \
                attribute to trace the items as they are consumed, or `stream = false` to keep \
                the span as it is")]
            #[allow(non_upper_case_globals)]
            const #name: () = ();
            #name
        };
    }
}

/// The capture of `value` (an expression of reference type) as JSON, `Debug` text or a
/// placeholder, chosen at compile time.
fn capture(value: TokenStream) -> TokenStream {
    quote! {
        (&&&::modelmetry::__private::Capture(#value)).__modelmetry_capture()
    }
}

const CAPTURE_TRAITS: &str = "CaptureSerialize CaptureDebug CaptureOpaque";

/// What is recorded when the function starts: options, then the input.
pub(crate) fn on_entry(args: &FnArgs, params: &[Param], scope: &syn::Ident) -> TokenStream {
    let mut set = TokenStream::new();
    // Each setter call is spanned on the user's expression, so a type error names it alone.
    if let Some(model) = &args.model {
        set.extend(quote_spanned!(model.span()=> #scope.set_model(&(#model));));
    }
    if let Some(provider) = &args.provider {
        set.extend(quote_spanned!(provider.span()=> #scope.set_provider(&(#provider));));
    }
    if let Some(session) = &args.session {
        set.extend(quote_spanned!(session.span()=> #scope.set_session(&(#session));));
    }
    if let Some(user) = &args.user {
        set.extend(quote_spanned!(user.span()=> #scope.set_user(&(#user));));
    }
    if !args.tags.is_empty() {
        let tags = &args.tags;
        set.extend(quote!(#scope.add_tags([#(::modelmetry::__private::tag_ref(&(#tags))),*]);));
    }
    if !args.metadata.is_empty() {
        // Not captured at all in a trace head sampling dropped.
        let entries = args.metadata.iter().map(|(key, value)| {
            let captured = capture(quote!(&(#value)));
            quote!(#scope.set_metadata(#key, #captured);)
        });
        set.extend(quote! {
            if ::modelmetry::__private::metadata_enabled() {
                #(#entries)*
            }
        });
    }
    if !params.is_empty() {
        let fields = params.iter().map(|p| {
            let name = &p.name;
            let ident = &p.ident;
            let captured = if p.redacted {
                quote!(::modelmetry::__private::redacted(&#ident))
            } else {
                capture(quote!(&#ident))
            };
            quote!((#name, #captured))
        });
        let input = local("__modelmetry_input");
        set.extend(quote! {
            if #scope.captures_content() {
                // Capturing `_name` is no use of it the user wrote (clippy's pedantic
                // `used_underscore_binding` would say so, on the user's parameter).
                #[allow(clippy::used_underscore_binding)]
                let #input = ::modelmetry::__private::input([#(#fields),*]);
                #scope.set_input(#input);
            }
        });
    }
    if set.is_empty() {
        return TokenStream::new();
    }
    let traits = use_traits(CAPTURE_TRAITS);
    quote! {
        if #scope.is_active() {
            #traits
            #set
        }
    }
}

/// What is recorded when the function returns: its value as output, or its error.
fn on_exit(args: &FnArgs, scope: &syn::Ident, ret: &syn::Ident) -> TokenStream {
    let v = local("__modelmetry_v");
    let e = local("__modelmetry_e");
    let ok = if args.no_output {
        quote!(::core::result::Result::Ok(_) => {})
    } else {
        let captured = capture(quote!(#v));
        quote! {
            ::core::result::Result::Ok(#v) => {
                if #scope.captures_content() {
                    #scope.set_output(#captured);
                }
            }
        }
    };
    let traits = use_traits(&format!(
        "{CAPTURE_TRAITS} OutcomeOfResult OutcomeOfValue ErrorBoxed ErrorChain ErrorDisplay ErrorDebug ErrorOpaque"
    ));
    quote! {
        if #scope.is_active() {
            #traits
            match (&&::modelmetry::__private::Outcome(&#ret)).__modelmetry_outcome() {
                #ok
                // A plain value's outcome has an uninhabited error type.
                #[allow(unreachable_patterns)]
                ::core::result::Result::Err(#e) => {
                    #scope.set_error((&&&&&::modelmetry::__private::ErrorText(#e)).__modelmetry_error());
                }
            }
        }
    }
}
