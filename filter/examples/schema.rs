//! Writes the JSON Schema (draft 2020-12) of the filter's configuration to stdout:
//! `scripts/schema` keeps `schema/oidc-gate.schema.json` up to date with it.
//!
//! One source of truth: the structure (keys, types, which are objects, lists, secrets, and
//! that unknown keys are refused) comes from the serde types the filter parses its config
//! with; each key's description and default come from the README's configuration table,
//! which a unit test holds to the defaults the code defines.

use oidc_gate::core::config::defaults::{documented, readme_rows};
use oidc_gate::core::config::raw::RawConfig;
use serde_json::{json, Map, Value};

const README: &str = include_str!("../../README.md");

fn main() {
    let mut schema = serde_json::to_value(schemars::schema_for!(RawConfig)).unwrap_or(Value::Null);
    let defs = schema.get("$defs").cloned().unwrap_or_else(|| json!({}));
    let defaults: Map<String, Value> =
        documented().into_iter().map(|(k, d)| (k.to_string(), Value::String(d))).collect();
    let mut missing = Vec::new();
    for (key, _, meaning) in readme_rows(README) {
        let default = defaults.get(&key).and_then(Value::as_str).and_then(json_default);
        match property(&mut schema, &defs, &key) {
            Some(node) => {
                if let Some(obj) = node.as_object_mut() {
                    obj.insert("description".into(), Value::String(plain(&meaning)));
                    // The README's default, or none (schemars writes `null` for an optional key).
                    match default {
                        Some(d) => obj.insert("default".into(), d),
                        None => obj.remove("default"),
                    };
                }
            }
            None => missing.push(key),
        }
    }
    if !missing.is_empty() {
        eprintln!("README keys the config types do not have: {missing:?}");
        std::process::exit(1);
    }
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("$id".into(), json!("https://github.com/oidc-gate/oidc-gate/schema/oidc-gate.schema.json"));
        obj.insert("title".into(), json!("oidc-gate configuration"));
        obj.insert(
            "description".into(),
            json!("The JSON configuration of the oidc-gate proxy-wasm filter (README.md, \"Configuration\")."),
        );
    }
    println!("{}", serde_json::to_string_pretty(&schema).unwrap_or_default());
}

/// A README default as a JSON value: `"30s"`, `[]`, `false`, `1024`; `none`, `required` and
/// prose have none.
fn json_default(cell: &str) -> Option<Value> {
    let inner = cell.strip_prefix('`')?.split('`').next()?;
    serde_json::from_str(inner).ok()
}

/// Markdown to text for editors: backticks dropped, escaped pipes kept.
fn plain(text: &str) -> String {
    text.replace('`', "").replace("\\|", "|")
}

/// The schema node of a dotted key (`bearer.introspection.cache_ttl`; `[]` after a part
/// names the items of a list: `authorization.rules[].max_age`), following `$ref`s into a
/// copy of `$defs` inlined where needed, and `anyOf` options (an optional object).
fn property<'a>(schema: &'a mut Value, defs: &Value, key: &str) -> Option<&'a mut Value> {
    let mut node = schema;
    for part in key.split('.') {
        let (name, items) = match part.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (part, false),
        };
        node = object_of(node, defs)?.get_mut("properties")?.get_mut(name)?;
        if items {
            node = node.get_mut("items")?;
        }
    }
    Some(node)
}

/// The object schema a node stands for: itself, its `anyOf` option that is an object, or
/// its `$ref` (inlined here so that descriptions of nested keys stay with their parent).
fn object_of<'a>(node: &'a mut Value, defs: &Value) -> Option<&'a mut Value> {
    if let Some(r) = node.get("$ref").and_then(Value::as_str).map(str::to_string) {
        let name = r.rsplit('/').next()?;
        let target = defs.get(name)?.clone();
        let obj = node.as_object_mut()?;
        obj.remove("$ref");
        for (k, v) in target.as_object()? {
            obj.entry(k.clone()).or_insert(v.clone());
        }
    }
    if node.get("properties").is_some() {
        return Some(node);
    }
    let options = node.get_mut("anyOf").or(None)?.as_array_mut()?;
    let idx = options.iter().position(|o| o.get("$ref").is_some() || o.get("properties").is_some())?;
    object_of(options.get_mut(idx)?, defs)
}
