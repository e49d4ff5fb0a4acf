//! The rewrite of an attributed `async fn` into a plain `fn` that returns its future, so that
//! the span opens (and takes the current span as its parent) when the function is called, not
//! when the future is first polled: `tokio::spawn(research(topic))` then nests `research`
//! under its caller, whichever thread polls it.
//!
//! ```text
//! async fn f(&self, (a, b): (u8, u8), mut c: String) -> R { body }
//! // becomes
//! #[allow(refining_impl_trait)]
//! fn f<'__modelmetry_l0>(&'__modelmetry_l0 self, __modelmetry_arg1: (u8, u8), c: String)
//!     -> impl Future<Output = R> + Captures<(&'__modelmetry_l0 (), *const Self)>
//! {
//!     let span = AsyncScope::span("f", Kind::Other);     // now: parent fixed, clock read
//!     span.wrap(async move {
//!         let __modelmetry_arg1 = __modelmetry_arg1;       // every argument moves into the
//!         let (a, b) = __modelmetry_arg1;                  // future, as an `async fn`'s do
//!         let mut c = c;
//!         /* input; body; output or error, as before */
//!     })
//! }
//! ```
//!
//! The future must capture what the `async fn`'s future captured, in edition 2021 as in 2024
//! (an edition 2021 `-> impl Trait` captures no lifetime it does not name): elided lifetimes of
//! the arguments are named, and every lifetime of the signature (and `Self`, which carries the
//! impl's) is named in a `Captures` bound. In a trait impl that bound is a refinement the
//! trait does not promise (hence the `allow`); it only adds what the trait's own
//! `impl Future` already captures. The future is `Send` exactly when the body's is (an opaque
//! type leaks its auto traits).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{FnArg, GenericParam, Lifetime, LifetimeParam, Pat, ReturnType, Signature};

/// The signature, rewritten; the statements that move every argument into the future.
pub(crate) struct AsyncSignature {
    pub(crate) sig: Signature,
    pub(crate) rebind: TokenStream,
}

pub(crate) fn rewrite_signature(mut sig: Signature) -> AsyncSignature {
    sig.asyncness = None;

    // Name the elided lifetimes of the arguments.
    let mut namer = NameElided::default();
    let mut has_self = false;
    let mut rebind = TokenStream::new();
    for (i, input) in sig.inputs.iter_mut().enumerate() {
        match input {
            FnArg::Receiver(r) => {
                has_self = true;
                if let Some((_, lifetime @ None)) = &mut r.reference {
                    let named = namer.fresh();
                    *lifetime = Some(named.clone());
                    if let syn::Type::Reference(ty) = &mut *r.ty {
                        ty.lifetime = Some(named);
                    }
                } else if r.colon_token.is_some() {
                    namer.visit_type_mut(&mut r.ty);
                }
                if r.reference.is_none() {
                    // `self` by value moves into the future even if the body never names it,
                    // and drops with it, as in an `async fn`.
                    rebind.extend(quote!(let _ = &self;));
                }
            }
            FnArg::Typed(t) => {
                namer.visit_type_mut(&mut t.ty);
                match &mut *t.pat {
                    Pat::Ident(p) if p.subpat.is_none() && p.by_ref.is_none() => {
                        let ident = &p.ident;
                        let mutability = p.mutability.take();
                        rebind.extend(quote!(let #mutability #ident = #ident;));
                    }
                    pat => {
                        let arg = format_ident!("__modelmetry_arg{}", i, span = Span::mixed_site());
                        let original = std::mem::replace(
                            pat,
                            Pat::Ident(syn::PatIdent {
                                attrs: Vec::new(),
                                by_ref: None,
                                mutability: None,
                                ident: arg.clone(),
                                subpat: None,
                            }),
                        );
                        rebind.extend(quote! {
                            let #arg = #arg;
                            let #original = #arg;
                        });
                    }
                }
            }
        }
    }
    // The output's elided lifetimes, named as elision resolves them (the receiver's, else the
    // arguments' only one), so that no output elides a lifetime its inputs now name.
    let receiver = sig.inputs.iter().find_map(|input| match input {
        FnArg::Receiver(r) => r.reference.as_ref().and_then(|(_, l)| l.clone()),
        FnArg::Typed(_) => None,
    });
    let target = receiver.or_else(|| {
        let mut all = NamedLifetimes::default();
        for input in &sig.inputs {
            if let FnArg::Typed(t) = input {
                all.visit_type(&t.ty);
            }
        }
        (all.found.len() == 1).then(|| all.found[0].clone())
    });
    if let (Some(target), ReturnType::Type(_, ty)) = (target, &mut sig.output) {
        NameElided::elide_to(target).visit_type_mut(ty);
    }

    let named = namer.named;
    for (i, lifetime) in named.iter().enumerate() {
        sig.generics.params.insert(
            i,
            GenericParam::Lifetime(LifetimeParam::new(lifetime.clone())),
        );
    }

    // Every lifetime the future may hold: the function's own, and those its arguments name.
    let mut lifetimes: Vec<Lifetime> = Vec::new();
    for param in &sig.generics.params {
        if let GenericParam::Lifetime(l) = param {
            lifetimes.push(l.lifetime.clone());
        }
    }
    let mut named_in_args = NamedLifetimes::default();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => named_in_args.visit_type(&r.ty),
            FnArg::Typed(t) => named_in_args.visit_type(&t.ty),
        }
    }
    for l in named_in_args.found {
        if !lifetimes.contains(&l) {
            lifetimes.push(l);
        }
    }
    let mentions_self = has_self || mentions_self(&sig);

    let output = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let arrow = match &sig.output {
        ReturnType::Type(arrow, _) => quote!(#arrow),
        ReturnType::Default => quote!(->),
    };
    let captures = if lifetimes.is_empty() && !mentions_self {
        TokenStream::new()
    } else {
        let self_ty = mentions_self.then(|| quote!(*const Self,));
        quote! {
            + ::modelmetry::__private::Captures<(#(&#lifetimes (),)* #self_ty)>
        }
    };
    let ty: syn::Type = syn::parse_quote! {
        impl ::core::future::Future<Output = #output> #captures
    };
    sig.output = syn::parse2(quote!(#arrow #ty)).expect("a return type");
    AsyncSignature { sig, rebind }
}

/// Names each elided lifetime (`&T`, `'_`) of a type: in an argument, a fresh one each, as
/// `async fn` captures them; in the output, the one elision picks. Leaves alone those of
/// `fn(&T)` and `Fn(&T)`, which are higher-ranked, not the function's.
#[derive(Default)]
struct NameElided {
    /// The output's lifetime; `None`: fresh ones, collected in `named`.
    to: Option<Lifetime>,
    named: Vec<Lifetime>,
}

impl NameElided {
    fn elide_to(to: Lifetime) -> Self {
        NameElided {
            to: Some(to),
            named: Vec::new(),
        }
    }

    fn fresh(&mut self) -> Lifetime {
        if let Some(to) = &self.to {
            return to.clone();
        }
        let l = Lifetime::new(
            &format!("'__modelmetry_l{}", self.named.len()),
            Span::call_site(),
        );
        self.named.push(l.clone());
        l
    }
}

impl VisitMut for NameElided {
    fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
        if r.lifetime.is_none() {
            r.lifetime = Some(self.fresh());
        }
        syn::visit_mut::visit_type_reference_mut(self, r);
    }

    fn visit_lifetime_mut(&mut self, l: &mut Lifetime) {
        if l.ident == "_" {
            *l = self.fresh();
        }
    }

    fn visit_type_bare_fn_mut(&mut self, _: &mut syn::TypeBareFn) {}

    fn visit_parenthesized_generic_arguments_mut(
        &mut self,
        _: &mut syn::ParenthesizedGenericArguments,
    ) {
    }

    fn visit_type_impl_trait_mut(&mut self, t: &mut syn::TypeImplTrait) {
        // `impl Trait` in argument position cannot hold an elided lifetime (rustc refuses
        // it); in the output it can, and takes the output's.
        if self.to.is_some() {
            syn::visit_mut::visit_type_impl_trait_mut(self, t);
        }
    }
}

/// Named lifetimes of the arguments' types (the impl's among them), except `'static` and those
/// bound by a `for<..>` or a `fn(..)` type.
#[derive(Default)]
struct NamedLifetimes {
    found: Vec<Lifetime>,
    bound: Vec<Lifetime>,
}

impl<'ast> Visit<'ast> for NamedLifetimes {
    fn visit_lifetime(&mut self, l: &'ast Lifetime) {
        if l.ident != "static"
            && l.ident != "_"
            && !self.bound.contains(l)
            && !self.found.contains(l)
        {
            self.found.push(l.clone());
        }
    }

    fn visit_type_bare_fn(&mut self, _: &'ast syn::TypeBareFn) {}

    fn visit_bound_lifetimes(&mut self, b: &'ast syn::BoundLifetimes) {
        for param in &b.lifetimes {
            if let GenericParam::Lifetime(l) = param {
                self.bound.push(l.lifetime.clone());
            }
        }
    }
}

/// Whether `Self` appears in the signature (an associated function of an impl with lifetimes).
fn mentions_self(sig: &Signature) -> bool {
    fn walk(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Ident(i) => i == "Self",
            proc_macro2::TokenTree::Group(g) => walk(g.stream()),
            _ => false,
        })
    }
    let mut tokens = TokenStream::new();
    for input in &sig.inputs {
        quote::ToTokens::to_tokens(input, &mut tokens);
    }
    quote::ToTokens::to_tokens(&sig.output, &mut tokens);
    walk(tokens)
}
