//! Shared helpers for the vector tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

/// Load a vectors file from `tests/vectors/`.
pub(crate) fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // As Sesame reads Django's JSON: exact integers, one spelling per float.
    sesame_core::pyjson::loads(&text).unwrap()
}

/// The rows of a section.
pub(crate) fn rows<'a>(doc: &'a Value, section: &str) -> &'a [Value] {
    doc[section]
        .as_array()
        .unwrap_or_else(|| panic!("no section {section}"))
}

/// A string field.
pub(crate) fn s<'a>(row: &'a Value, key: &str) -> &'a str {
    row[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {row}"))
}

/// An integer field.
pub(crate) fn i(row: &Value, key: &str) -> i64 {
    row[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} missing in {row}"))
}

/// A list of strings (empty when absent).
pub(crate) fn strings(row: &Value, key: &str) -> Vec<String> {
    row[key]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// An object field.
pub(crate) fn object(row: &Value, key: &str) -> serde_json::Map<String, Value> {
    row[key]
        .as_object()
        .cloned()
        .unwrap_or_else(|| panic!("{key} not an object in {row}"))
}

/// The `messages` list of a row.
pub(crate) fn messages(row: &Value) -> Vec<sesame_core::messages::Message> {
    row["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| sesame_core::messages::Message {
            level: m["level"].as_i64().unwrap() as i32,
            message: m["message"].as_str().unwrap().to_owned(),
            extra_tags: m["extra_tags"].as_str().map(str::to_owned),
            is_safe: m["is_safe"].as_bool().unwrap(),
        })
        .collect()
}

/// A label for assertion messages.
pub(crate) fn id(row: &Value) -> String {
    row["id"]
        .as_str()
        .map_or_else(|| row.to_string().chars().take(80).collect(), str::to_owned)
}
