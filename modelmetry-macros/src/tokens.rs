//! Token pieces every expansion shares (`expand.rs`, `expand_stream.rs`, `finding.rs`) and
//! the checks in `valid.rs` use: below them all, so none imports another's.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::Type;
use syn::spanned::Spanned;

use crate::args::FnArgs;

/// Whether `tokens` name an `impl Trait` type anywhere.
pub(crate) fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|t| match t {
        TokenTree::Ident(i) => i == "impl",
        TokenTree::Group(g) => mentions_impl(g.stream()),
        _ => false,
    })
}

/// Names of the expansion's own locals: mixed-site, so the user's body can neither see nor
/// shadow them.
pub(crate) fn local(name: &str) -> syn::Ident {
    syn::Ident::new(name, Span::mixed_site())
}

/// A never-run `return` of type `ty`, which types the body it starts.
pub(crate) fn type_hint(ty: &Type) -> TokenStream {
    let r = syn::Ident::new("__modelmetry_r", Span::mixed_site().located_at(ty.span()));
    // Spanned on the declared type: a mismatch is explained by "return type inferred to be
    // `R` here", pointing at the user's `-> R`.
    quote_spanned! {ty.span()=>
        if let ::core::option::Option::Some(#r) = ::core::option::Option::None::<#ty> {
            // Never runs; for a body that diverges, rustc would call it unreachable.
            #[allow(unreachable_code)]
            return #r;
        }
    }
}

pub(crate) fn kind_tokens(args: &FnArgs) -> TokenStream {
    let variant = args.kind.as_ref().map_or("Other", |(_, v)| v);
    let variant = syn::Ident::new(variant, Span::call_site());
    quote!(::modelmetry::__private::Kind::#variant)
}

/// `use ::modelmetry::__private::{A as _, B as _}` for the space-separated trait names, so the
/// autoref method calls resolve.
pub(crate) fn use_traits(names: &str) -> TokenStream {
    let names = names
        .split(' ')
        .map(|n| syn::Ident::new(n, Span::call_site()));
    // Not every block uses every trait (`output = false` uses no capture trait).
    quote! {
        #[allow(unused_imports)]
        use ::modelmetry::__private::{#(#names as _),*};
    }
}
