//! The Modelmetry OpenAPI spec as a JSON Schema validator, shared by the contract and property
//! tests (`mod openapi;` in each).
//!
//! The spec is OpenAPI 3.1, whose schemas are JSON Schema 2020-12. The validator is built on the
//! whole spec document with a root `$ref` to the component, so every
//! `#/components/schemas/...` reference resolves inside the document, and nothing is fetched.
//!
//! Two things the 2020-12 validator leaves out are checked on top, because the server enforces
//! them when it decodes the body:
//! - `CreateSpanParams.FamilyData` is `{}` (anything) in the spec; the server decodes it by
//!   `Family`, so each span's `FamilyData` is also checked against the family's own schema.
//! - `DataPart.Data` has `contentEncoding: base64`, an annotation in 2020-12; the server decodes
//!   it into bytes. Each `DataPart` is also checked with a draft-7 validator, where
//!   `contentEncoding` is an assertion.

#![allow(dead_code)] // Each test crate that includes this module uses a different part of it.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Value, json};

/// The copy of the spec the tests hold (kept equal to `shared/reference` by a contract test).
pub(crate) const SPEC_YAML: &str = include_str!("../../fixtures/modelmetry-openapi.yaml");

/// The spec, parsed from YAML.
pub(crate) fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_yaml_ng::from_str(SPEC_YAML).expect("the spec fixture is valid YAML"))
}

/// A validator for one component schema, `#/components/schemas/{name}`.
pub(crate) struct Component {
    validator: jsonschema::Validator,
    name: String,
}

impl Component {
    /// Build the 2020-12 validator of `name`, with `format` (date-time, uri) asserted.
    pub(crate) fn new(name: &str) -> Component {
        Component::with_draft(name, jsonschema::Draft::Draft202012)
    }

    fn with_draft(name: &str, draft: jsonschema::Draft) -> Component {
        let doc = document();
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "the spec has no component {name}"
        );
        let mut root = doc.clone();
        let obj = root.as_object_mut().expect("the spec is an object");
        obj.insert("$ref".into(), json!(format!("#/components/schemas/{name}")));
        let validator = jsonschema::options()
            .with_draft(draft)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("the spec's {name} compiles as a schema: {e}"));
        Component {
            validator,
            name: name.to_owned(),
        }
    }

    /// Every error `instance` has against the component, as `/json/pointer: message` lines.
    pub(crate) fn errors(&self, instance: &Value) -> Vec<String> {
        self.validator
            .iter_errors(instance)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect()
    }
}

struct Validators {
    body: Component,
    families: HashMap<&'static str, Component>,
    data_part_draft7: Component,
}

fn validators() -> &'static Validators {
    static V: OnceLock<Validators> = OnceLock::new();
    V.get_or_init(|| Validators {
        body: Component::new("IngestSignalsV1RequestBody"),
        families: [
            ("completion", "CompletionFamilyData"),
            ("embeddings", "EmbeddingsFamilyData"),
            ("retrieval", "RetrievalFamilyData"),
            ("other", "OtherFamilyData"),
        ]
        .into_iter()
        .map(|(family, schema)| (family, Component::new(schema)))
        .collect(),
        data_part_draft7: Component::with_draft("DataPart", jsonschema::Draft::Draft7),
    })
}

/// Every way `body` breaks the spec: the `IngestSignalsV1RequestBody` schema, each span's
/// `FamilyData` against its family's schema, and base64 in every `DataPart`. Empty when valid.
pub(crate) fn body_errors(body: &Value) -> Vec<String> {
    let v = validators();
    let mut errors = v.body.errors(body);
    for (i, span) in body
        .get("Spans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(data) = span.get("FamilyData") else {
            continue;
        };
        let family = span.get("Family").and_then(Value::as_str).unwrap_or("");
        match v.families.get(family) {
            Some(schema) => errors.extend(
                schema
                    .errors(data)
                    .into_iter()
                    .map(|e| format!("/Spans/{i}/FamilyData{e} ({})", schema.name)),
            ),
            None => errors.push(format!(
                "/Spans/{i}/Family: `{family}` is not a family, yet FamilyData is set"
            )),
        }
        let messages = data.get("Messages").and_then(Value::as_array);
        for (m, message) in messages.into_iter().flatten().enumerate() {
            let parts = message.get("Contents").and_then(Value::as_array);
            for (p, part) in parts.into_iter().flatten().enumerate() {
                if part.get("Data").is_some() {
                    errors.extend(v.data_part_draft7.errors(part).into_iter().map(|e| {
                        format!("/Spans/{i}/FamilyData/Messages/{m}/Contents/{p}{e} (base64)")
                    }));
                }
            }
        }
    }
    errors
}

/// Panic with every error if `body` breaks the spec.
#[track_caller]
pub(crate) fn assert_valid(body: &Value) {
    let errors = body_errors(body);
    assert!(
        errors.is_empty(),
        "the body breaks the spec:\n{}\nbody: {}",
        errors.join("\n"),
        preview(body)
    );
}

/// The body's JSON, shortened for a failure message.
pub(crate) fn preview(body: &Value) -> String {
    let text = body.to_string();
    if text.len() <= 4000 {
        return text;
    }
    let mut end = 4000;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}
