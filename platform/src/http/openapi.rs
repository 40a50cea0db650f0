//! What every service's OpenAPI document shares once utoipa (or a hand-written skeleton) has
//! given the paths: the problem-document schema, the error statuses an operation answers, the
//! `Retry-After` header, and the routes with their methods (for 405's `Allow`).
//!
//! Each service keeps its own differences as parameters: the member that lists a problem
//! document's problems (svc-tasks: `errors`, svc-scheduler: `problems`), which statuses an
//! operation can answer and how they are described.

use serde_json::{Map, Value, json};

/// The media type of every error answer (RFC 9457).
pub const PROBLEM: &str = "application/problem+json";
/// The operations a path item may hold, in OpenAPI's order.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
/// A string pattern: no U+0000 anywhere (PostgreSQL cannot store it).
pub const NO_NUL: &str = "^[^\\u0000]*$";

/// The member of a problem document that lists each problem, located by a JSON pointer.
#[derive(Debug, Clone, Copy)]
pub struct ProblemList<'a> {
    /// `errors` (svc-tasks), `problems` (svc-scheduler).
    pub key: &'a str,
    pub description: &'a str,
}

/// The `Problem` schema (RFC 9457 with TaskFlow's members), for `components.schemas.Problem`.
pub fn problem_schema(list: Option<ProblemList<'_>>) -> Value {
    let mut properties = json!({
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "retry_after_secs": {"type": "integer", "description": "Also sent as Retry-After"}
    });
    if let Some(list) = list {
        properties[list.key] = json!({
            "type": "array",
            "description": list.description,
            "items": {
                "type": "object",
                "required": ["pointer", "message"],
                "properties": {"pointer": {"type": "string"}, "message": {"type": "string"}}
            }
        });
    }
    json!({
        "type": "object",
        "description": "RFC 9457 problem details; `type` is urn:taskflow:problem:<slug>, stable and machine-readable",
        "required": ["type", "title", "status", "detail"],
        "properties": properties,
        "additionalProperties": true
    })
}

/// `content` of an error answer: a `Problem` document.
pub fn problem_content() -> Value {
    json!({PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}})
}

/// An error answer: `description`, a problem document.
pub fn problem_response(description: &str) -> Value {
    json!({"description": description, "content": problem_content()})
}

/// `headers` of a 429 or 503 answer.
pub fn retry_after() -> Value {
    json!({"Retry-After": {
        "description": "Seconds to wait before retrying",
        "required": true,
        "schema": {"type": "integer", "minimum": 0}
    }})
}

/// Calls `f(path, method, operation)` for every operation of `doc`.
pub fn for_each_operation(doc: &mut Value, mut f: impl FnMut(&str, &str, &mut Value)) {
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            for method in METHODS {
                if let Some(op) = item.get_mut(method) {
                    f(path, method, op);
                }
            }
        }
    }
}

/// (path template, methods in upper case) of every path of `doc`.
pub fn routes(doc: &Value) -> Vec<(String, Vec<String>)> {
    doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(path, item)| {
            let methods = METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| m.to_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// The locations (`path`, `query`, `header`, ...) of an operation's parameters.
pub fn parameter_locations(op: &Value) -> Vec<String> {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["in"].as_str().map(str::to_owned))
        .collect()
}

/// The error statuses an operation can answer besides those already documented, each with its
/// description; `None`: the operation cannot answer it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorStatuses<'a> {
    /// 401: credentials are needed.
    pub unauthorized: Option<&'a str>,
    /// 503 (+ Retry-After): a dependency (the database) is used.
    pub unavailable: Option<&'a str>,
    /// 400/413/415/422: a JSON body is read.
    pub body: Option<BodyErrors<'a>>,
    /// 404: a path parameter names a resource.
    pub not_found: Option<&'a str>,
    /// 400: query (or header) parameters are checked.
    pub bad_parameter: Option<&'a str>,
    /// 500, always.
    pub internal: &'a str,
}

/// What a body the server reads as JSON can be refused for.
#[derive(Debug, Clone, Copy)]
pub struct BodyErrors<'a> {
    pub too_large: &'a str,
    pub unprocessable: &'a str,
}

/// Adds the statuses of `statuses` that `op` does not document yet (the first description of a
/// status wins: a body's 400 before a parameter's), then makes every 4xx/5xx answer a problem
/// document and gives 429 and 503 their Retry-After.
pub fn complete_errors(op: &mut Value, statuses: &ErrorStatuses<'_>) {
    let Some(responses) = op["responses"].as_object_mut() else {
        return;
    };
    let mut add = |status: &str, description: Option<&str>| {
        if let Some(description) = description {
            responses
                .entry(status.to_owned())
                .or_insert_with(|| problem_response(description));
        }
    };
    add("401", statuses.unauthorized);
    if let Some(body) = statuses.body {
        add("400", Some("Body is not valid JSON"));
        add("413", Some(body.too_large));
        add("415", Some("Body is not JSON (Content-Type)"));
        add("422", Some(body.unprocessable));
    }
    add("404", statuses.not_found);
    add("400", statuses.bad_parameter);
    add("503", statuses.unavailable);
    add("500", Some(statuses.internal));
    problem_answers(responses);
}

/// Every 4xx/5xx answer of `responses` is a problem document; 429 and 503 carry Retry-After.
pub fn problem_answers(responses: &mut Map<String, Value>) {
    for (status, response) in responses.iter_mut() {
        if status.starts_with('4') || status.starts_with('5') {
            response["content"] = problem_content();
        }
        if status == "429" || status == "503" {
            response["headers"] = retry_after();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_added_once_and_errors_are_problems() {
        let mut op = json!({"parameters": [{"name": "id", "in": "path"}],
            "responses": {"200": {"description": "ok"}, "409": {"description": "taken"}}});
        complete_errors(
            &mut op,
            &ErrorStatuses {
                unauthorized: Some("who"),
                unavailable: Some("down"),
                body: Some(BodyErrors {
                    too_large: "big",
                    unprocessable: "bad",
                }),
                not_found: Some("none"),
                bad_parameter: Some("param"),
                internal: "oops",
            },
        );
        let responses = op["responses"].as_object().expect("responses");
        let statuses: Vec<&str> = responses.keys().map(String::as_str).collect();
        for status in [
            "200", "400", "401", "404", "409", "413", "415", "422", "500", "503",
        ] {
            assert!(statuses.contains(&status), "{status}");
        }
        assert_eq!(responses["400"]["description"], "Body is not valid JSON");
        assert!(responses["409"]["content"][PROBLEM].is_object());
        assert!(responses["200"].get("content").is_none());
        assert!(responses["503"]["headers"]["Retry-After"].is_object());
        assert_eq!(parameter_locations(&op), vec!["path".to_owned()]);
    }

    #[test]
    fn the_problem_list_is_named_by_the_service() {
        let schema = problem_schema(Some(ProblemList {
            key: "problems",
            description: "each",
        }));
        assert!(schema["properties"]["problems"]["items"].is_object());
        assert!(schema["properties"].get("errors").is_none());
        assert!(problem_schema(None)["properties"].get("problems").is_none());
    }
}
