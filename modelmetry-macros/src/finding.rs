//! `finding!` and `event!`: parsing and expansion.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, Token};

use crate::args::{key_name, metadata_list};
use crate::tokens::local;

/// `finding!(name = value, ...; comment = ..., description = ..., metadata(...))`.
pub(crate) struct Findings {
    findings: Vec<(String, Expr)>,
    comment: Option<Expr>,
    description: Option<Expr>,
    metadata: Vec<(String, Expr)>,
}

impl Parse for Findings {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "finding! needs at least one finding: `finding!(response_safe_score = 0.93)`",
            ));
        }
        let mut findings: Vec<(String, Expr)> = Vec::new();
        while !input.is_empty() && !input.peek(Token![;]) {
            let (name, span) = finding_name(input)?;
            if !input.peek(Token![=]) {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "finding `{name}` has no value: write `{name} = <value>` (a number, a bool or a string)"
                    ),
                ));
            }
            input.parse::<Token![=]>()?;
            if input.is_empty() || input.peek(Token![,]) || input.peek(Token![;]) {
                return Err(syn::Error::new(
                    span,
                    format!("finding `{name}` has no value after `=`: write `{name} = <value>`"),
                ));
            }
            let value: Expr = input.parse()?;
            if findings.iter().any(|(n, _)| *n == name) {
                return Err(syn::Error::new(
                    span,
                    format!("finding `{name}` is given twice"),
                ));
            }
            findings.push((name, value));
            if input.is_empty() || input.peek(Token![;]) {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        let mut out = Findings {
            findings,
            comment: None,
            description: None,
            metadata: Vec::new(),
        };
        if input.parse::<Option<Token![;]>>()?.is_some() {
            parse_details(input, &mut out)?;
        }
        Ok(out)
    }
}

fn finding_name(input: ParseStream<'_>) -> syn::Result<(String, Span)> {
    key_name(input, "a finding's name").map_err(|e| {
        syn::Error::new(
            e.span(),
            "a finding's name is an identifier or a string literal: `finding!(response_safe_score = 0.93)` or `finding!(\"response.safe_score\" = 0.93)`",
        )
    })
}

/// After the `;`: `comment = ...`, `description = ...`, `metadata(...)`.
fn parse_details(input: ParseStream<'_>, out: &mut Findings) -> syn::Result<()> {
    let mut seen: Vec<String> = Vec::new();
    while !input.is_empty() {
        let key: Ident = input.parse()?;
        let name = key.to_string();
        if !matches!(name.as_str(), "comment" | "description" | "metadata") {
            return Err(syn::Error::new(
                key.span(),
                format!(
                    "unknown finding option `{name}`; after the `;` come: comment = ..., description = ..., metadata(...)"
                ),
            ));
        }
        if seen.contains(&name) {
            return Err(syn::Error::new(
                key.span(),
                format!("duplicate option `{name}`: give it once"),
            ));
        }
        seen.push(name.clone());
        if name == "metadata" {
            out.metadata = metadata_list(&key, input)?;
        } else {
            if !input.peek(Token![=]) {
                return Err(syn::Error::new(
                    key.span(),
                    format!("`{name}` needs a value: `{name} = \"...\"`"),
                ));
            }
            input.parse::<Token![=]>()?;
            let value: Expr = input.parse()?;
            if name == "comment" {
                out.comment = Some(value);
            } else {
                out.description = Some(value);
            }
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

fn capture_traits() -> TokenStream {
    // Not every value needs every trait.
    quote! {
        #[allow(unused_imports)]
        use ::modelmetry::__private::{
            CaptureDebug as _, CaptureOpaque as _, CaptureSerialize as _,
        };
    }
}

impl Findings {
    pub(crate) fn expand(self) -> TokenStream {
        let comment = local("__modelmetry_comment");
        let description = local("__modelmetry_description");
        let meta = local("__modelmetry_meta");
        let mut prelude = TokenStream::new();
        let mut chain = TokenStream::new();
        if let Some(c) = &self.comment {
            prelude.extend(quote!(let #comment = ::modelmetry::__private::tag(#c);));
            chain.extend(quote!(.comment(::core::clone::Clone::clone(&#comment))));
        }
        if let Some(d) = &self.description {
            prelude.extend(quote!(let #description = ::modelmetry::__private::tag(#d);));
            chain.extend(quote!(.description(::core::clone::Clone::clone(&#description))));
        }
        let meta_set: Vec<TokenStream> = self
            .metadata
            .iter()
            .enumerate()
            .map(|(i, (key, value))| {
                let m = local(&format!("__modelmetry_meta{i}"));
                prelude.extend(quote! {
                    let #m = (&&&::modelmetry::__private::Capture(&(#value))).__modelmetry_capture();
                });
                quote!(let #meta = ::modelmetry::__private::finding_metadata(#meta, #key, ::core::clone::Clone::clone(&#m));)
            })
            .collect();
        let traits = if self.metadata.is_empty() {
            TokenStream::new()
        } else {
            capture_traits()
        };
        let records = self.findings.iter().map(|(name, value)| {
            quote! {
                let #meta = ::modelmetry::__private::Finding::new(#name, #value) #chain;
                #(#meta_set)*
                ::modelmetry::__private::Finding::record(#meta);
            }
        });
        quote! {
            if ::modelmetry::__private::is_enabled() {
                #traits
                #prelude
                #(#records)*
            }
        }
    }
}

/// `event!("name", key = value, key, ...)`.
pub(crate) struct EventArgs {
    name: String,
    fields: Vec<(String, Expr)>,
}

impl Parse for EventArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "event! needs a name: `event!(\"tool_selected\", tool = \"GetOrderInformation\")`",
            ));
        }
        let (name, _) = key_name(input, "an event's name").map_err(|e| {
            syn::Error::new(
                e.span(),
                "an event's name is an identifier or a string literal: `event!(\"tool_selected\", tool = name)`",
            )
        })?;
        let mut fields: Vec<(String, Expr)> = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let start = input.fork();
            let (key, span) = key_name(input, "an event field")?;
            if fields.iter().any(|(k, _)| *k == key) {
                return Err(syn::Error::new(
                    span,
                    format!("event field `{key}` is given twice"),
                ));
            }
            let value = if input.peek(Token![=]) {
                input.parse::<Token![=]>()?;
                input.parse()?
            } else {
                // `event!("x", order_id)` records the variable `order_id` under its own name.
                let ident: Ident = start.parse().map_err(|_| {
                    syn::Error::new(
                        span,
                        format!("event field \"{key}\" needs a value: `\"{key}\" = ...`"),
                    )
                })?;
                syn::parse_quote!(#ident)
            };
            fields.push((key, value));
        }
        Ok(EventArgs { name, fields })
    }
}

impl EventArgs {
    pub(crate) fn expand(self) -> TokenStream {
        let EventArgs { name, fields } = self;
        let event = local("__modelmetry_event");
        let traits = if fields.is_empty() {
            TokenStream::new()
        } else {
            capture_traits()
        };
        let set = fields.iter().map(|(key, value)| {
            quote! {
                let #event = ::modelmetry::__private::event_metadata(
                    #event,
                    #key,
                    (&&&::modelmetry::__private::Capture(&(#value))).__modelmetry_capture(),
                );
            }
        });
        quote! {
            if ::modelmetry::__private::is_enabled() {
                #traits
                let #event = ::modelmetry::__private::Event::new(#name);
                #(#set)*
                ::modelmetry::__private::Event::record(#event);
            }
        }
    }
}
