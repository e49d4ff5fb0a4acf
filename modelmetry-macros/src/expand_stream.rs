//! The function rewrite of `#[span(stream)]`: the span opens when the function is called, the
//! body runs with it current, and the returned iterator or stream is handed the span, which
//! then lives exactly as long as it does.
//!
//! ```text
//! fn f(a: A) -> impl Iterator<Item = T> {
//!     let mut span = StreamSpan::open("f", Kind::Llm);          // nothing when tracing is off
//!     let ret = span.in_scope(move || { /* input */ body });    // async: span.in_future(..).await
//!     span.wrap(ret, /* the fold, chosen at compile time from T */)
//! }
//! ```
//!
//! `Box<dyn ..>` and `Pin<Box<dyn ..>>` returns box the wrapper (coerced where the function
//! returns it); a `Result` of a stream wraps the `Ok` stream and closes the span as an error
//! on `Err`, at once.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Block, Ident, ReturnType, Signature, Type};

use crate::args::FnArgs;
use crate::tokens::{kind_tokens, local, mentions_impl, type_hint, use_traits};
use crate::valid::{Flavour, StreamReturn, Wrapping};

const CHOICE_TRAITS: &str = "SplitResult SplitPlain FoldText FoldJson FoldNothing \
                             DescribeBoxed DescribeChain DescribeDisplay DescribeDebug DescribeOpaque";

/// The new body of a `#[span(stream)]` function: what runs when it is called (the span opens,
/// the fold is made), and the rest (for an `async fn`, the body of the future it returns).
// Each argument is one part of the function being rewritten.
#[allow(clippy::too_many_arguments)]
pub(crate) fn body(
    args: &FnArgs,
    name: &TokenStream,
    sig: &Signature,
    is_async: bool,
    block: &Block,
    scope: &Ident,
    on_entry: &TokenStream,
    stream: &StreamReturn,
) -> (TokenStream, TokenStream) {
    let span = local("__modelmetry_span");
    let ret = local("__modelmetry_ret");
    // With the span of the user's expression (hygiene included: a mixed-site name would make
    // rustc report a type error about the fold on the whole attribute), so that such an error
    // points at the expression.
    let user_fold = Ident::new(
        "__modelmetry_user_fold",
        args.fold
            .as_ref()
            .map_or_else(Span::mixed_site, |(_, e)| e.span()),
    );
    let stmts = &block.stmts;
    let kind = kind_tokens(args);

    let entry = if on_entry.is_empty() {
        TokenStream::new()
    } else {
        quote! {
            let #scope = ::modelmetry::__private::Scope::current_span();
            #on_entry
        }
    };
    let hint = match &sig.output {
        ReturnType::Type(_, ty) => hint(ty),
        ReturnType::Default => TokenStream::new(),
    };
    // Evaluated when the function is called, before the body (which takes the parameters).
    let fold_let = match &args.fold {
        Some((_, expr)) => quote_spanned!(expr.span()=> let #user_fold = #expr;),
        None => TokenStream::new(),
    };

    let run = if is_async {
        let entry = if entry.is_empty() {
            entry
        } else {
            quote!(#span.in_scope(|| { #entry });)
        };
        quote! {
            #entry
            let #ret = #span.in_future(async move {
                #hint
                #(#stmts)*
            })
            .await;
        }
    } else {
        let once = local("__modelmetry_once");
        quote! {
            let #once = ::modelmetry::__private::Once::new();
            let #ret = #span.in_scope(move || {
                { #entry }
                ::modelmetry::__private::Once::take(#once);
                #hint
                #(#stmts)*
            });
        }
    };
    let finish = finish(args, stream, &span, &ret, &user_fold);
    let at_call = quote! {
        let mut #span = ::modelmetry::__private::StreamSpan::open(#name, #kind);
        #fold_let
    };
    (at_call, quote!(#run #finish))
}

/// The body's declared type with each `impl Trait` left to inference, as a never-run
/// `return`: for `Result<impl Iterator<..>, E>`, the body's `?` then knows its error type.
fn hint(ty: &Type) -> TokenStream {
    let ty = match ty {
        Type::ImplTrait(_) => return TokenStream::new(),
        Type::Path(p) => {
            let mut p = p.clone();
            if let Some(last) = p.path.segments.last_mut() {
                if let syn::PathArguments::AngleBracketed(a) = &mut last.arguments {
                    for arg in &mut a.args {
                        if let syn::GenericArgument::Type(t @ Type::ImplTrait(_)) = arg {
                            *t = Type::Infer(syn::TypeInfer {
                                underscore_token: Default::default(),
                            });
                        }
                    }
                }
            }
            Type::Path(p)
        }
        other => other.clone(),
    };
    if mentions_impl(ty.to_token_stream()) {
        return TokenStream::new();
    }
    type_hint(&ty)
}

/// What follows the body: the stream wrapped (or, for `Err`, the span closed as an error).
fn finish(
    args: &FnArgs,
    stream: &StreamReturn,
    span: &Ident,
    ret: &Ident,
    user_fold: &Ident,
) -> TokenStream {
    if !stream.in_result {
        return wrap(args, stream, span, ret, user_fold);
    }
    let s = local("__modelmetry_stream");
    let e = local("__modelmetry_e");
    let wrapped = wrap(args, stream, span, &s, user_fold);
    let traits = use_traits("ErrorBoxed ErrorChain ErrorDisplay ErrorDebug ErrorOpaque");
    quote! {
        match #ret {
            ::core::result::Result::Ok(#s) => ::core::result::Result::Ok(#wrapped),
            // No stream: the request failed. The span closes now, as an error.
            ::core::result::Result::Err(#e) => {
                if ::modelmetry::__private::is_enabled() {
                    #traits
                    #span.fail(&(&&&&&::modelmetry::__private::ErrorText(&#e)).__modelmetry_error());
                }
                ::core::result::Result::Err(#e)
            }
        }
    }
}

/// `s` handed its span, with its fold, as the declared type.
fn wrap(
    args: &FnArgs,
    stream: &StreamReturn,
    span: &Ident,
    s: &Ident,
    user_fold: &Ident,
) -> TokenStream {
    let items = local("__modelmetry_items");
    let fold = local("__modelmetry_fold");
    // The declared item type, so that the choice sees it even when the body's items are
    // inferred from it (`.map(..).collect()` into `Item = String`).
    let item = match &stream.item {
        Some(ty) => ty.to_token_stream(),
        None => quote!(_),
    };
    let items_of = match stream.flavour {
        Flavour::Iterator => quote!(::modelmetry::__private::iter_items::<#item, _>),
        Flavour::Stream => quote!(::modelmetry::__private::stream_items::<#item, _>),
    };
    let choose = match &args.fold {
        // Checked against the items, so that a fold of other items is an error on the user's
        // expression.
        Some((_, expr)) => quote_spanned! {expr.span()=>
            let #fold = ::modelmetry::__private::user_fold(&#items, #user_fold);
        },
        None => {
            let ok = local("__modelmetry_ok");
            let err = local("__modelmetry_err");
            let shape = local("__modelmetry_shape");
            let (ok_pat, ok_fold) = if args.no_output {
                (quote!(_), quote!(::modelmetry::__private::Nothing))
            } else {
                (ok.to_token_stream(), quote!((&&&#ok).__modelmetry_fold()))
            };
            let traits = use_traits(CHOICE_TRAITS);
            quote! {
                #traits
                let (#ok_pat, #err, #shape) = (&&#items).__modelmetry_split();
                let #fold = #shape.fold(#ok_fold, (&&&&&#err).__modelmetry_describe());
            }
        }
    };
    let wrapped = quote!(#span.wrap(#s, #fold));
    let wrapped = match stream.wrapping {
        Wrapping::Opaque => wrapped,
        Wrapping::Boxed => quote!(::modelmetry::__private::boxed(#wrapped)),
        Wrapping::PinBoxed => quote!(::modelmetry::__private::boxed_pin(#wrapped)),
    };
    quote! {
        {
            let #items = #items_of(&#s);
            #choose
            #wrapped
        }
    }
}
