//! The admin API against its contract, `src/http/openapi.yaml` as the server serves it.
//!
//! Every operation the document lists is called over HTTP and must answer a 2xx at least
//! once; every JSON body the server sends (successes and errors alike) is validated against
//! the schema the document declares for that status, after `$ref`s are resolved and
//! OpenAPI 3.0's `nullable` is turned into JSON Schema's `null` type. A status the document
//! does not list for an operation, a documented response that never occurs, or an object
//! schema that does not say whether it allows undocumented fields fails the test, so a
//! route or a field cannot be added to one side only.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tfmirror::domain::Role;

use crate::common::fake_registry::FakeRegistry;
use crate::common::{Store, TestApp};
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

const ADMIN_PASSWORD: &str = "correct horse battery staple";
const VIEWER_PASSWORD: &str = "viewer password 12345";
const JWT_SECRET: &str = "0123456789abcdef0123456789abcdef-contract";
const MAX_DEFINITIONS_BYTES: usize = 4096;
const MAX_ARCHIVE_BYTES: u64 = 64 * 1024;
const MAX_BUNDLE_BYTES: u64 = 1024 * 1024;

/// The one place that creates users behind the API's back (the first admin has to come
/// from somewhere): the same calls `tfmirror create-admin` makes.
async fn create_user(app: &TestApp, name: &str, password: &str, role: Role) {
    let hash = tfmirror::auth::password::hash(password.into())
        .await
        .unwrap();
    tfmirror::db::users::create_user(&app.state.db, name, &hash, role, 0)
        .await
        .unwrap()
        .unwrap();
}

// ---- the document ---------------------------------------------------------------------

/// One operation: `GET /api/v1/jobs/{id}`.
type OpKey = (String, String);

/// The OpenAPI document, and what the test saw of each operation.
struct Contract {
    doc: Value,
    /// Statuses answered per operation.
    seen: Mutex<BTreeMap<OpKey, BTreeSet<String>>>,
    /// Contract violations, reported together at the end.
    violations: Mutex<Vec<String>>,
}

impl Contract {
    fn parse(yaml: &str) -> Self {
        let doc: Value = serde_yaml::from_str(yaml).expect("the OpenAPI document is YAML");
        assert_eq!(doc["openapi"], "3.0.3", "an OpenAPI 3.0 document");
        Self {
            doc,
            seen: Mutex::default(),
            violations: Mutex::default(),
        }
    }

    fn violation(&self, message: String) {
        self.violations.lock().unwrap().push(message);
    }

    /// Every (METHOD, path template) the document lists, with the operation.
    fn operations(&self) -> Vec<(OpKey, &Value)> {
        let mut out = Vec::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("a path item") {
                if matches!(
                    method.as_str(),
                    "get" | "put" | "post" | "delete" | "patch" | "head" | "options"
                ) {
                    out.push(((method.to_uppercase(), path.clone()), op));
                }
            }
        }
        out
    }

    /// The documented operation a request path falls under: `{param}` segments match any
    /// segment, and the template with the most literal segments wins.
    fn operation_for(&self, method: &Method, path: &str) -> Option<(OpKey, &Value)> {
        let segments: Vec<&str> = path.split('/').collect();
        self.operations()
            .into_iter()
            .filter(|((m, template), _)| {
                let parts: Vec<&str> = template.split('/').collect();
                m == method.as_str()
                    && parts.len() == segments.len()
                    && parts.iter().zip(&segments).all(|(t, s)| {
                        (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s
                    })
            })
            .max_by_key(|((_, template), _)| {
                template.split('/').filter(|t| !t.starts_with('{')).count()
            })
    }

    fn pointer(&self, reference: &str) -> &Value {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references are supported: {reference}"));
        self.doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{reference} does not resolve"))
    }

    /// A response object, with a `$ref` to `#/components/responses/...` followed.
    fn response<'a>(&'a self, response: &'a Value) -> &'a Value {
        match response.get("$ref").and_then(Value::as_str) {
            Some(r) => self.pointer(r),
            None => response,
        }
    }

    /// An OpenAPI 3.0 schema as a self-contained JSON Schema (draft 4): `$ref`s inlined,
    /// `nullable: true` as a `null` type (and a `null` enum value), `example` dropped.
    fn json_schema(&self, schema: &Value, depth: usize) -> Value {
        assert!(depth < 32, "a $ref cycle near {schema}");
        let Some(map) = schema.as_object() else {
            return schema.clone();
        };
        if let Some(r) = map.get("$ref").and_then(Value::as_str) {
            // OpenAPI 3.0: the siblings of a $ref are ignored.
            return self.json_schema(self.pointer(r), depth + 1);
        }
        let mut out = Map::new();
        for (keyword, value) in map {
            let converted = match keyword.as_str() {
                "nullable" | "example" => continue,
                "properties" => Value::Object(
                    value
                        .as_object()
                        .expect("properties is a map")
                        .iter()
                        .map(|(name, s)| (name.clone(), self.json_schema(s, depth + 1)))
                        .collect(),
                ),
                "items" | "not" | "additionalProperties" => self.json_schema(value, depth + 1),
                "allOf" | "anyOf" | "oneOf" => Value::Array(
                    value
                        .as_array()
                        .expect("a list of schemas")
                        .iter()
                        .map(|s| self.json_schema(s, depth + 1))
                        .collect(),
                ),
                _ => value.clone(),
            };
            out.insert(keyword.clone(), converted);
        }
        if map.get("nullable") == Some(&Value::Bool(true)) {
            match out.get("type").cloned() {
                Some(Value::String(t)) => {
                    out.insert("type".into(), json!([t, "null"]));
                    if let Some(Value::Array(values)) = out.get_mut("enum") {
                        values.push(Value::Null);
                    }
                }
                _ => return json!({ "anyOf": [Value::Object(out), { "type": "null" }] }),
            }
        }
        Value::Object(out)
    }

    /// Validation errors of `value` against an OpenAPI schema, one per line.
    fn errors(&self, schema: &Value, value: &Value) -> Option<String> {
        let schema = self.json_schema(schema, 0);
        let validator = jsonschema::draft4::new(&schema)
            .unwrap_or_else(|e| panic!("not a valid schema: {e}\n{schema:#}"));
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| format!("  at {:?}: {e}", e.instance_path().to_string()))
            .collect();
        (!errors.is_empty()).then(|| errors.join("\n"))
    }

    fn component(&self, name: &str) -> Value {
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    /// Checks one answer against the document and records it; returns the JSON body
    /// (`Null` without one, a string for text bodies).
    fn check(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        content_type: &str,
        body: &[u8],
    ) -> Value {
        let text = String::from_utf8_lossy(body);
        let excerpt: String = text.chars().take(300).collect();
        let Some(((m, template), op)) = self.operation_for(method, path) else {
            self.violation(format!(
                "{method} {path} is not in the document (answered {status})"
            ));
            return serde_json::from_slice(body).unwrap_or(Value::Null);
        };
        let name = format!("{m} {template}");
        let code = status.as_str().to_owned();
        self.seen
            .lock()
            .unwrap()
            .entry((m, template))
            .or_default()
            .insert(code.clone());
        let responses = &op["responses"];
        let Some(response) = responses.get(&code).or_else(|| responses.get("default")) else {
            let listed: Vec<&String> = responses
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
                .collect();
            self.violation(format!(
                "{name} answered {status}, which the document does not list ({listed:?}): {excerpt}"
            ));
            return serde_json::from_slice(body).unwrap_or(Value::Null);
        };
        let response = self.response(response);
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            if !body.is_empty() {
                self.violation(format!(
                    "{name} {code}: the document says no body, the server sent {media:?}: {excerpt}"
                ));
            }
            return Value::Null;
        };
        let Some(entry) = content.get(&media) else {
            let listed: Vec<&String> = content.keys().collect();
            self.violation(format!(
                "{name} {code}: the server sent {media:?}, the document lists {listed:?}"
            ));
            return Value::Null;
        };
        if media != "application/json" {
            return Value::String(text.into_owned());
        }
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                self.violation(format!("{name} {code}: not JSON ({e}): {excerpt}"));
                return Value::Null;
            }
        };
        match entry.get("schema") {
            Some(schema) => {
                if let Some(errors) = self.errors(schema, &value) {
                    self.violation(format!(
                        "{name} {code}: the body does not match the document:\n{errors}\n  body: {value}"
                    ));
                }
            }
            None => self.violation(format!("{name} {code}: the document gives no schema")),
        }
        value
    }

    /// Object schemas must say whether undocumented fields are allowed: a response
    /// schema that is silent about it would let a new field slip past this test.
    fn lint(&self) {
        fn walk(contract: &Contract, schema: &Value, at: &str) {
            let Some(map) = schema.as_object() else {
                return;
            };
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                contract.violation(format!(
                    "{at}: an object schema with properties must set additionalProperties \
                     (false, or true for a free-form map)"
                ));
            }
            if map.contains_key("$ref") && map.len() > 1 {
                contract.violation(format!("{at}: siblings of $ref are ignored in OpenAPI 3.0"));
            }
            for (keyword, value) in map {
                match keyword.as_str() {
                    "properties" => {
                        for (name, s) in value.as_object().into_iter().flatten() {
                            walk(contract, s, &format!("{at}.{name}"));
                        }
                    }
                    "items" | "additionalProperties" | "not" => {
                        walk(contract, value, &format!("{at}[]"))
                    }
                    "allOf" | "anyOf" | "oneOf" => {
                        for (i, s) in value.as_array().into_iter().flatten().enumerate() {
                            walk(contract, s, &format!("{at}/{keyword}/{i}"))
                        }
                    }
                    _ => {}
                }
            }
        }
        for (name, schema) in self.doc["components"]["schemas"]
            .as_object()
            .expect("schemas")
        {
            walk(self, schema, name);
        }
        for ((method, template), op) in self.operations() {
            for (code, response) in op["responses"].as_object().expect("responses") {
                for (media, entry) in self.response(response)["content"]
                    .as_object()
                    .into_iter()
                    .flatten()
                {
                    walk(
                        self,
                        &entry["schema"],
                        &format!("{method} {template} {code} {media}"),
                    );
                }
            }
        }
    }

    /// The validator itself: an undocumented field, a missing required field and a
    /// `null` where none is allowed are caught; a documented `null` passes.
    fn self_test(&self) {
        let user = json!({ "id": 1, "username": "alice", "role": "admin", "disabled": false, "created_at": 0 });
        let schema = self.component("User");
        assert_eq!(
            self.errors(&schema, &user),
            None,
            "a user as the server sends it"
        );
        let mut extra = user.clone();
        extra["password_hash"] = json!("x");
        assert!(
            self.errors(&schema, &extra).is_some(),
            "an undocumented field fails"
        );
        let mut missing = user.clone();
        missing.as_object_mut().unwrap().remove("role");
        assert!(
            self.errors(&schema, &missing).is_some(),
            "a missing field fails"
        );
        let mut null = user;
        null["username"] = Value::Null;
        assert!(
            self.errors(&schema, &null).is_some(),
            "null where none is allowed fails"
        );
        let item = json!({
            "id": 1, "kind": "module", "provider": "registry.terraform.io/acme/vpc/aws",
            "version": "1.0.0", "platform": null, "status": "pending", "attempts": 0, "last_error": null,
            "bytes_done": 0, "bytes_total": null,
        });
        assert_eq!(
            self.errors(&self.component("JobItem"), &item),
            None,
            "nullable: true allows null"
        );
    }

    /// The end: every operation answered a 2xx, every documented response occurred, and
    /// nothing contradicted the document.
    fn finish(&self) {
        let seen = self.seen.lock().unwrap();
        let mut missing = Vec::new();
        for ((method, template), op) in self.operations() {
            let got = seen
                .get(&(method.clone(), template.clone()))
                .cloned()
                .unwrap_or_default();
            // A browser navigation (single sign-on) documents a redirect as its success.
            let success = if op["responses"]
                .as_object()
                .is_some_and(|r| r.keys().any(|c| c.starts_with('2')))
            {
                '2'
            } else {
                '3'
            };
            if !got.iter().any(|s| s.starts_with(success)) {
                missing.push(format!(
                    "{method} {template}: never answered with a {success}xx"
                ));
            }
            for code in op["responses"].as_object().expect("responses").keys() {
                if code != "default" && !got.contains(code) {
                    missing.push(format!("{method} {template}: documented {code} never seen"));
                }
            }
        }
        let violations = self.violations.lock().unwrap();
        assert!(
            missing.is_empty() && violations.is_empty(),
            "the API and src/http/openapi.yaml disagree:\n{}\n{}",
            violations.join("\n"),
            missing.join("\n")
        );
    }
}

// ---- talking to the server --------------------------------------------------------------

/// The server and the document: every answer goes through [`Contract::check`].
struct Api<'a> {
    app: &'a TestApp,
    contract: &'a Contract,
}

impl Api<'_> {
    fn request(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let req = self.app.client.request(method, self.app.url(path));
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// Sends, checks the answer against the document; returns "METHOD PATH", the status
    /// and the body.
    async fn exchange(&self, req: reqwest::RequestBuilder) -> (String, StatusCode, Value) {
        let (what, status, value, _) = self.exchange_bytes(req).await;
        (what, status, value)
    }

    /// [`Api::exchange`], with the body's bytes as well (for a download).
    async fn exchange_bytes(
        &self,
        req: reqwest::RequestBuilder,
    ) -> (String, StatusCode, Value, Vec<u8>) {
        let req = req.build().unwrap();
        let method = req.method().clone();
        let path = req.url().path().to_owned();
        let what = format!("{method} {path}");
        let answer = tokio::time::timeout(Duration::from_secs(30), async {
            let res = self.app.client.execute(req).await.unwrap();
            let status = res.status();
            let content_type = res
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (status, content_type, res.bytes().await.unwrap())
        })
        .await;
        let (status, content_type, body) =
            answer.unwrap_or_else(|_| panic!("{what} did not finish in 30 s"));
        let value = self
            .contract
            .check(&method, &path, status, &content_type, &body);
        (what, status, value, body.to_vec())
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let (_, status, body) = self.exchange(req).await;
        (status, body)
    }

    /// Sends and asserts the status; returns the body.
    async fn expect(&self, req: reqwest::RequestBuilder, want: u16) -> Value {
        let (what, status, body) = self.exchange(req).await;
        assert_eq!(status.as_u16(), want, "{what}: {body}");
        body
    }

    async fn get(&self, path: &str, token: &str, want: u16) -> Value {
        self.expect(self.request(Method::GET, path, Some(token)), want)
            .await
    }

    async fn json(&self, method: Method, path: &str, token: &str, body: Value, want: u16) -> Value {
        self.expect(self.request(method, path, Some(token)).json(&body), want)
            .await
    }

    async fn empty(&self, method: Method, path: &str, token: &str, want: u16) -> Value {
        self.expect(self.request(method, path, Some(token)), want)
            .await
    }

    async fn login(&self, username: &str, password: &str) -> String {
        let body = self
            .expect(
                self.request(Method::POST, "/api/v1/auth/login", None)
                    .json(&json!({ "username": username, "password": password })),
                200,
            )
            .await;
        body["token"].as_str().unwrap().to_owned()
    }

    async fn definitions(&self, token: &str, dry_run: bool, text: &str, want: u16) -> Value {
        let req = self
            .request(
                Method::POST,
                &format!("/api/v1/definitions?dry_run={dry_run}"),
                Some(token),
            )
            .header("content-type", "text/plain")
            .body(text.to_owned());
        self.expect(req, want).await
    }

    async fn upload(&self, token: &str, version: &str, zip: Vec<u8>, want: u16) -> Value {
        let req = self
            .request(Method::POST, "/api/v1/packages", Some(token))
            .multipart(crate::common::package_form(zip, version));
        self.expect(req, want).await
    }

    async fn wait_for_job(&self, token: &str, id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let detail = self.get(&format!("/api/v1/jobs/{id}"), token, 200).await;
            if detail["job"]["pending"] == 0 && detail["job"]["running"] == 0 {
                return detail;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} never finished: {detail}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A documented path with its parameters filled in.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut path = template.to_owned();
    for (name, value) in values {
        path = path.replace(&format!("{{{name}}}"), value);
    }
    assert!(
        !path.contains('{'),
        "no sample for a parameter of {template}"
    );
    path
}

const SAMPLE: &[(&str, &str)] = &[
    ("hostname", "registry.terraform.io"),
    ("namespace", "example"),
    ("type", "thing"),
    ("version", "1.0.0"),
    ("id", "1"),
    ("name", "thing"),
    ("system", "aws"),
];
const INVALID: &[(&str, &str)] = &[
    ("hostname", "bad..host"),
    ("namespace", "-"),
    ("type", "-"),
    ("version", "not-a-version"),
    ("id", "not-a-number"),
    ("name", "-"),
    ("system", "-"),
];

// ---- the walk ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_answers_as_the_document_says() {
    let fake = FakeRegistry::start().await;
    fake.publish(
        "hashicorp",
        "null",
        "3.2.1",
        &["linux_amd64", "darwin_arm64"],
    );
    let upstream = fake.base_url.clone();
    let app = TestApp::spawn_with(Store::Local, move |c| {
        c.auth.jwt_secret = tfmirror::config::Secret::new(JWT_SECRET);
        c.worker.poll_interval_ms = 50;
        c.limits.max_definitions_bytes = MAX_DEFINITIONS_BYTES;
        c.limits.max_archive_bytes = MAX_ARCHIVE_BYTES;
        c.limits.max_module_bytes = MAX_ARCHIVE_BYTES;
        c.limits.max_bundle_bytes = MAX_BUNDLE_BYTES;
        crate::common::set_upstream(c, &upstream, |_| {});
    })
    .await;
    create_user(&app, "alice", ADMIN_PASSWORD, Role::Admin).await;
    create_user(&app, "victor", VIEWER_PASSWORD, Role::Viewer).await;

    // The document, as the server serves it.
    let res = app.get("/api/v1/openapi.yaml").await;
    assert_eq!(res.status(), StatusCode::OK);
    let contract = Contract::parse(&res.text().await.unwrap());
    contract.self_test();
    contract.lint();
    let api = Api {
        app: &app,
        contract: &contract,
    };
    api.expect(api.request(Method::GET, "/api/v1/openapi.yaml", None), 200)
        .await;
    let operations: Vec<OpKey> = contract.operations().into_iter().map(|(k, _)| k).collect();
    assert!(
        operations.len() >= 25,
        "{} operations documented",
        operations.len()
    );

    // Logging in.
    let admin = api.login("alice", ADMIN_PASSWORD).await;
    let viewer = api.login("victor", VIEWER_PASSWORD).await;
    let login = |body: Value| {
        api.request(Method::POST, "/api/v1/auth/login", None)
            .json(&body)
    };
    api.expect(
        login(json!({ "username": "alice", "password": "wrong password" })),
        401,
    )
    .await;
    let malformed = api
        .request(Method::POST, "/api/v1/auth/login", None)
        .header("content-type", "application/json")
        .body("{\"username\": ");
    api.expect(malformed, 400).await;
    let me = api.get("/api/v1/auth/me", &admin, 200).await;
    assert_eq!(me["kind"], "user");

    // Every protected operation without a token (401), every one documenting 403 as a
    // viewer, and every one with path parameters given invalid ones (400).
    for ((method, template), op) in contract.operations() {
        let method: Method = method.parse().unwrap();
        let mutating = method != Method::GET;
        let with_body = |req: reqwest::RequestBuilder| {
            if mutating { req.json(&json!({})) } else { req }
        };
        if op["security"].as_array().is_none_or(|s| !s.is_empty()) {
            let req = api.request(method.clone(), &fill(&template, SAMPLE), None);
            let body = api.expect(with_body(req), 401).await;
            assert_eq!(body["code"], "unauthorized", "{method} {template}");
        }
        // A public operation's 403 is not about roles (the setup link's is a spent token).
        let public = op["security"].as_array().is_some_and(|s| s.is_empty());
        if op["responses"].get("403").is_some() && !public {
            let req = api.request(method.clone(), &fill(&template, SAMPLE), Some(&viewer));
            api.expect(with_body(req), 403).await;
        }
        if template.contains('{') {
            let req = api.request(method.clone(), &fill(&template, INVALID), Some(&admin));
            api.expect(with_body(req), 400).await;
        }
    }

    // The first admin, on servers with none yet: a bad name, a wrong token, the setup link,
    // then the link again; and wrong tokens until the throttle answers.
    api.expect(api.request(Method::GET, "/api/v1/about", None), 200)
        .await;
    let setup_token = |app: &TestApp| {
        app.setup_link
            .as_deref()
            .and_then(|l| l.split_once("#token="))
            .map(|(_, t)| t.to_owned())
            .expect("a server without an admin has a setup link")
    };
    let throttled_app = TestApp::spawn(Store::Local).await;
    let throttled = Api {
        app: &throttled_app,
        contract: &contract,
    };
    let setup = |api: &Api<'_>, token: &str, username: &str| {
        api.request(Method::POST, "/api/v1/setup", None)
            .json(&json!({ "token": token, "username": username, "password": ADMIN_PASSWORD }))
    };
    let about = throttled
        .expect(throttled.request(Method::GET, "/api/v1/about", None), 200)
        .await;
    assert_eq!(about["setup_required"], true);
    throttled
        .expect(
            setup(&throttled, &setup_token(&throttled_app), "not a name"),
            400,
        )
        .await;
    let mut status = 403;
    for _ in 0..50 {
        status = throttled
            .send(setup(&throttled, &"0".repeat(64), "root"))
            .await
            .0
            .as_u16();
        if status != 403 {
            break;
        }
    }
    assert_eq!(status, 429, "wrong setup tokens are throttled");
    // Single sign-on: not configured here (404); configured with a provider that cannot be
    // reached, both navigations come back to the login page saying why.
    for path in ["/api/v1/auth/oidc/login", "/api/v1/auth/oidc/callback"] {
        api.expect(api.request(Method::GET, path, None), 404).await;
    }
    let sso_app = TestApp::spawn_with(Store::Local, |c| {
        c.auth.oidc = Some(tfmirror::config::OidcConfig {
            issuer: "http://127.0.0.1:9".into(),
            client_id: "tfmirror".into(),
            admin_groups: vec!["ops".into()],
            ..Default::default()
        });
    })
    .await;
    let sso = Api {
        app: &sso_app,
        contract: &contract,
    };
    let about = sso
        .expect(sso.request(Method::GET, "/api/v1/about", None), 200)
        .await;
    assert_eq!(about["sso"]["login_url"], "/api/v1/auth/oidc/login");
    for path in [
        "/api/v1/auth/oidc/login?redirect=/ui/jobs",
        "/api/v1/auth/oidc/callback?code=c&state=s",
    ] {
        let req = sso.request(Method::GET, path, None).build().unwrap();
        let res = sso_app
            .client
            .execute(req.try_clone().unwrap())
            .await
            .unwrap();
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("/ui/login?sso_error="),
            "{path}: {location}"
        );
        sso.expect(sso.request(Method::GET, path, None), 302).await;
    }

    let first_app = TestApp::spawn(Store::Local).await;
    let first = Api {
        app: &first_app,
        contract: &contract,
    };
    let token = setup_token(&first_app);
    let created = first.expect(setup(&first, &token, "root"), 201).await;
    assert_eq!(created["user"]["role"], "admin");
    first.expect(setup(&first, &token, "again"), 409).await;

    // Packages: stored, stored again, a different archive, not a zip, too large.
    let zip = crate::common::provider_zip("contract");
    let stored = api.upload(&admin, "1.0.0", zip.clone(), 201).await;
    assert_eq!(stored["h1"], crate::common::h1_reference(&zip));
    api.upload(&admin, "1.0.0", zip, 200).await;
    api.upload(&admin, "1.0.0", crate::common::provider_zip("other"), 409)
        .await;
    api.upload(&admin, "1.0.0", b"not a zip".to_vec(), 400)
        .await;
    api.upload(
        &admin,
        "1.0.0",
        vec![0; MAX_ARCHIVE_BYTES as usize + 1],
        413,
    )
    .await;
    api.upload(&admin, "1.1.0", crate::common::provider_zip("newer"), 201)
        .await;
    // A download, so that the statistics have something to count.
    let res = app
        .get("/registry.terraform.io/example/thing/terraform-provider-thing_1.1.0_linux_amd64.zip")
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // Providers.
    let page = api.get("/api/v1/providers", &viewer, 200).await;
    assert_eq!(page["total"], 1);
    api.get(
        "/api/v1/providers?q=thing&status=active&page=1&per_page=10",
        &viewer,
        200,
    )
    .await;
    api.get("/api/v1/providers?status=gone", &viewer, 400).await;
    api.get("/api/v1/providers?per_page=0", &viewer, 400).await;
    let thing = "/api/v1/providers/registry.terraform.io/example/thing";
    let detail = api.get(thing, &viewer, 200).await;
    assert_eq!(detail["versions"].as_array().unwrap().len(), 2);
    api.get(
        "/api/v1/providers/registry.terraform.io/nobody/nothing",
        &viewer,
        404,
    )
    .await;
    let status = |version: &str| format!("{thing}/versions/{version}/status");
    let version = api
        .json(
            Method::PUT,
            &status("1.0.0"),
            &admin,
            json!({ "status": "deprecated" }),
            200,
        )
        .await;
    assert_eq!(version["status"], "deprecated");
    api.json(
        Method::PUT,
        &status("1.0.0"),
        &admin,
        json!({ "status": "gone" }),
        400,
    )
    .await;
    api.json(
        Method::PUT,
        &status("9.9.9"),
        &admin,
        json!({ "status": "blocked" }),
        404,
    )
    .await;

    // Modules: an upload, the same again, other content, a hostile one, too large; the
    // list, the detail, a status.
    let module_upload = |bytes: Vec<u8>, version: &str| {
        let form = reqwest::multipart::Form::new()
            .text("namespace", "example")
            .text("name", "thing")
            .text("system", "aws")
            .text("version", version.to_owned())
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name("module.tar.gz"),
            );
        api.request(Method::POST, "/api/v1/modules", Some(&admin))
            .multipart(form)
    };
    let package = crate::common::modules::tar_gz(&[("main.tf", "# contract\n")], None);
    let stored = api
        .expect(module_upload(package.clone(), "1.0.0"), 201)
        .await;
    assert_eq!(stored["source_address"], "example/thing/aws");
    api.expect(module_upload(package, "1.0.0"), 200).await;
    let other = crate::common::modules::tar_gz(&[("main.tf", "# other\n")], None);
    api.expect(module_upload(other, "1.0.0"), 409).await;
    let hostile = crate::common::modules::tar_gz(&[("../main.tf", "x")], None);
    api.expect(module_upload(hostile, "1.0.1"), 400).await;
    api.expect(
        module_upload(vec![0; MAX_ARCHIVE_BYTES as usize + 1], "1.0.2"),
        413,
    )
    .await;
    let page = api
        .get("/api/v1/modules?q=thing&page=1&per_page=10", &viewer, 200)
        .await;
    assert_eq!(page["total"], 1);
    api.get("/api/v1/modules?per_page=0", &viewer, 400).await;
    let module = "/api/v1/modules/registry.terraform.io/example/thing/aws";
    let detail = api.get(module, &viewer, 200).await;
    assert_eq!(detail["versions"][0]["h1"], stored["h1"]);
    api.get(
        "/api/v1/modules/registry.terraform.io/nobody/nothing/aws",
        &viewer,
        404,
    )
    .await;
    let module_status = |version: &str| format!("{module}/versions/{version}/status");
    let blocked = api
        .json(
            Method::PUT,
            &module_status("1.0.0"),
            &admin,
            json!({ "status": "blocked" }),
            200,
        )
        .await;
    assert_eq!(blocked["status"], "blocked");
    for (status, version, want) in [("gone", "1.0.0", 400), ("active", "9.9.9", 404)] {
        api.json(
            Method::PUT,
            &module_status(version),
            &admin,
            json!({ "status": status }),
            want,
        )
        .await;
    }

    // Bundles: the signing key (any signed-in user), an export of everything and one by a
    // definitions file, refused selections; the export imported again (everything already
    // stored) while a second import is refused as concurrent; a bundle under another
    // mirror's key, one too large, a form without the key.
    let key = api.get("/api/v1/bundles/signing-key", &viewer, 200).await;
    let key = key.as_str().expect("the key is text").to_owned();
    assert!(
        key.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"),
        "{key}"
    );
    let export = |body: Value| {
        api.request(Method::POST, "/api/v1/bundles/export", Some(&admin))
            .json(&body)
    };
    let (_, status, _, bundle) = api.exchange_bytes(export(json!({ "all": true }))).await;
    assert_eq!(status, StatusCode::OK);
    let thing_defs = |versions: &str| {
        format!(
            "provider \"example/thing\" {{\n  versions  = [\"{versions}\"]\n  platforms = [\"linux_amd64\"]\n}}\n"
        )
    };
    let (_, status, _, one) = api
        .exchange_bytes(export(json!({ "definitions": thing_defs("1.1.0") })))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !one.is_empty() && one.len() < bundle.len(),
        "one version ({} bytes) is less than everything ({} bytes)",
        one.len(),
        bundle.len()
    );
    api.expect(export(json!({ "definitions": thing_defs("9.9.9") })), 404)
        .await;
    for neither_or_both in [
        json!({}),
        json!({ "all": true, "definitions": thing_defs("1.1.0") }),
    ] {
        api.expect(export(neither_or_both), 400).await;
    }
    api.expect(export(json!({ "definitions": "provider {" })), 400)
        .await;
    api.expect(
        export(json!({ "definitions": "#".repeat(MAX_DEFINITIONS_BYTES + 1) })),
        413,
    )
    .await;
    let import = |file: Option<reqwest::multipart::Part>, key: &str| {
        let mut form = reqwest::multipart::Form::new().text("trusted_key", key.to_owned());
        if let Some(file) = file {
            form = form.part("file", file.file_name("mirror.bundle"));
        }
        api.request(Method::POST, "/api/v1/bundles/import", Some(&admin))
            .multipart(form)
    };
    // The first import sends half its bundle, then waits until a second one was refused.
    let (release, held) = tokio::sync::oneshot::channel::<()>();
    let (head, tail) = bundle.split_at(bundle.len() / 2);
    let (head, tail) = (head.to_vec(), tail.to_vec());
    let slow = futures_util::stream::once(async move { Ok::<_, std::io::Error>(head) }).chain(
        futures_util::stream::once(async move {
            let _ = held.await;
            Ok(tail)
        }),
    );
    let first = import(
        Some(reqwest::multipart::Part::stream(
            reqwest::Body::wrap_stream(slow),
        )),
        &key,
    );
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // Without a file: refused at once (400) when no import runs.
            let (status, body) = api.send(import(None, &key)).await;
            if status == StatusCode::CONFLICT {
                assert_eq!(body["code"], "conflict", "{body}");
                break;
            }
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert!(
                Instant::now() < deadline,
                "a second import was never refused while the first ran"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        release.send(()).unwrap();
    };
    let (report, ()) = tokio::join!(api.expect(first, 200), second);
    assert_eq!(report["packages_added"], 0, "{report}");
    assert_eq!(report["packages_present"], 2, "{report}");
    let outcomes: BTreeSet<&str> = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, BTreeSet::from(["already stored"]), "{report}");
    let other_key = first_app.state.signing_key.armored_public.clone();
    let refused = api
        .expect(
            import(
                Some(reqwest::multipart::Part::bytes(bundle.clone())),
                &other_key,
            ),
            422,
        )
        .await;
    assert_eq!(refused["entry"], "manifest.json.sig", "{refused}");
    assert_eq!(refused["code"], "bundle_refused", "{refused}");
    let no_key = api
        .expect(
            import(Some(reqwest::multipart::Part::bytes(bundle.clone())), ""),
            400,
        )
        .await;
    assert!(
        no_key["message"].as_str().unwrap().contains("trusted_key"),
        "{no_key}"
    );
    api.expect(
        import(
            Some(reqwest::multipart::Part::bytes(vec![
                0;
                MAX_BUNDLE_BYTES
                    as usize
                    + 1
            ])),
            &key,
        ),
        413,
    )
    .await;

    // Definitions: a plan, invalid ones, too large ones, then a job.
    let defs = "provider \"hashicorp/null\" {\n  versions  = [\"~> 3.2\"]\n  platforms = [\"linux_amd64\", \"windows_amd64\"]\n}\n";
    let plan = api.definitions(&admin, true, defs, 200).await;
    assert_eq!(plan["items"][0]["version"], "3.2.1");
    let invalid = api
        .definitions(
            &admin,
            false,
            "provider \"hashicorp/null\" {\n  versions = [\"not a version\"]\n}\n",
            400,
        )
        .await;
    assert_eq!(invalid["code"], "invalid_definitions");
    let not_utf8 = api
        .request(Method::POST, "/api/v1/definitions", Some(&admin))
        .header("content-type", "text/plain")
        .body(vec![0xff, 0xfe]);
    assert_eq!(api.expect(not_utf8, 400).await["code"], "bad_request");
    api.definitions(&admin, false, &"#".repeat(MAX_DEFINITIONS_BYTES + 1), 413)
        .await;
    // An origin that cannot answer is its fault, not the file's: 502, naming it.
    fake.publish("hashicorp", "flaky", "1.0.0", &["linux_amd64"]);
    fake.inject(
        crate::common::fake_registry::Target::versions("hashicorp", "flaky"),
        crate::common::fake_registry::Fault::Status(503),
        100,
    );
    let flaky = api
        .definitions(
            &admin,
            true,
            "provider \"hashicorp/flaky\" {\n  versions  = [\"1.0.0\"]\n  platforms = [\"linux_amd64\"]\n}\n",
            502,
        )
        .await;
    assert_eq!(flaky["code"], "upstream_unavailable", "{flaky}");
    assert!(
        flaky["message"].as_str().unwrap().contains("503"),
        "{flaky}"
    );
    let created = api.definitions(&admin, false, defs, 201).await;
    let job = created["job"]["id"].as_i64().unwrap();

    // Jobs.
    let finished = api.wait_for_job(&admin, job).await;
    assert_eq!(finished["job"]["succeeded"], 1, "{finished}");
    api.get("/api/v1/jobs", &viewer, 200).await;
    api.get("/api/v1/jobs?page=0", &viewer, 400).await;
    api.get("/api/v1/jobs/999999", &viewer, 404).await;
    let events = api
        .get(&format!("/api/v1/jobs/{job}/events"), &viewer, 200)
        .await;
    let mut progress = 0;
    for event in events
        .as_str()
        .unwrap()
        .split("\n\n")
        .filter(|e| !e.is_empty())
    {
        let data = event
            .strip_prefix("event: progress\ndata: ")
            .unwrap_or_else(|| panic!("not a progress event: {event:?}"));
        let detail: Value = serde_json::from_str(data).unwrap();
        if let Some(errors) = contract.errors(&contract.component("JobDetail"), &detail) {
            contract.violation(format!("a progress event is not a JobDetail:\n{errors}"));
        }
        progress += 1;
    }
    assert!(progress >= 1, "the stream replays the finished job");
    api.get("/api/v1/jobs/999999/events", &viewer, 404).await;
    for action in ["retry", "cancel"] {
        let path = format!("/api/v1/jobs/{job}/{action}");
        assert_eq!(api.empty(Method::POST, &path, &admin, 200).await["id"], job);
        api.empty(
            Method::POST,
            &format!("/api/v1/jobs/999999/{action}"),
            &admin,
            404,
        )
        .await;
    }

    // Statistics, the audit log, the configuration.
    let stats = api.get("/api/v1/stats", &viewer, 200).await;
    assert_eq!(stats["downloads_per_day"].as_array().unwrap().len(), 30);
    let audit = api
        .get("/api/v1/audit?action=job.create", &viewer, 200)
        .await;
    assert_eq!(audit["total"], 1);
    api.get("/api/v1/audit?per_page=201", &viewer, 400).await;
    let config = api.get("/api/v1/config", &viewer, 200).await;
    let verified = api.empty(Method::POST, "/api/v1/verify", &admin, 200).await;
    assert_eq!(verified["missing_count"], 0, "{verified}");
    assert_eq!(config["auth"]["jwt_secret"], "********");

    // Users.
    let users = api.get("/api/v1/users", &admin, 200).await;
    assert_eq!(users.as_array().unwrap().len(), 2);
    let carol =
        json!({ "username": "carol", "password": "carol's long password", "role": "viewer" });
    let carol_id = api
        .json(Method::POST, "/api/v1/users", &admin, carol.clone(), 201)
        .await["id"]
        .as_i64()
        .unwrap();
    api.json(Method::POST, "/api/v1/users", &admin, carol, 409)
        .await;
    let weak = json!({ "username": "dave", "password": "short", "role": "viewer" });
    api.json(Method::POST, "/api/v1/users", &admin, weak, 400)
        .await;
    let user = |rest: &str| format!("/api/v1/users/{carol_id}{rest}");
    let patched = api
        .json(
            Method::PATCH,
            &user(""),
            &admin,
            json!({ "disabled": true }),
            200,
        )
        .await;
    assert_eq!(patched["disabled"], true);
    api.json(
        Method::PATCH,
        &user(""),
        &admin,
        json!({ "role": "root" }),
        400,
    )
    .await;
    api.json(
        Method::PATCH,
        "/api/v1/users/999999",
        &admin,
        json!({ "disabled": false }),
        404,
    )
    .await;
    let password = json!({ "password": "a new long password" });
    api.json(
        Method::POST,
        &user("/password"),
        &admin,
        password.clone(),
        204,
    )
    .await;
    api.json(
        Method::POST,
        &user("/password"),
        &admin,
        json!({ "password": "short" }),
        400,
    )
    .await;
    api.json(
        Method::POST,
        "/api/v1/users/999999/password",
        &admin,
        password,
        404,
    )
    .await;
    api.empty(Method::POST, &user("/revoke-sessions"), &admin, 204)
        .await;
    api.empty(
        Method::POST,
        "/api/v1/users/999999/revoke-sessions",
        &admin,
        404,
    )
    .await;

    // API tokens, used once so that last_used_at is set.
    let new_token = json!({ "name": "ci", "role": "viewer", "expires_in_days": 7 });
    let created = api
        .json(Method::POST, "/api/v1/tokens", &admin, new_token, 201)
        .await;
    let secret = created["token"].as_str().unwrap().to_owned();
    let me = api.get("/api/v1/auth/me", &secret, 200).await;
    assert_eq!(me["kind"], "token");
    let bad_role = json!({ "name": "ci", "role": "root" });
    api.json(Method::POST, "/api/v1/tokens", &admin, bad_role, 400)
        .await;
    let tokens = api.get("/api/v1/tokens", &admin, 200).await;
    assert!(tokens[0]["last_used_at"].is_i64(), "{tokens}");
    let token_path = format!("/api/v1/tokens/{}", created["id"]);
    api.empty(Method::DELETE, &token_path, &admin, 204).await;
    api.empty(Method::DELETE, &token_path, &admin, 404).await;

    // Deleting: a version, then the provider.
    api.empty(
        Method::DELETE,
        &format!("{thing}/versions/1.0.0"),
        &admin,
        204,
    )
    .await;
    api.empty(
        Method::DELETE,
        &format!("{thing}/versions/1.0.0"),
        &admin,
        404,
    )
    .await;
    api.empty(Method::DELETE, thing, &admin, 204).await;
    api.empty(Method::DELETE, thing, &admin, 404).await;
    // And a module version, then the module.
    let module_version = format!("{module}/versions/1.0.0");
    api.empty(Method::DELETE, &module_version, &admin, 204)
        .await;
    api.empty(Method::DELETE, &module_version, &admin, 404)
        .await;
    api.expect(
        module_upload(
            crate::common::modules::tar_gz(&[("main.tf", "#\n")], None),
            "2.0.0",
        ),
        201,
    )
    .await;
    api.empty(Method::DELETE, module, &admin, 204).await;
    api.empty(Method::DELETE, module, &admin, 404).await;

    // The lock file route: a file, bad input, what cannot be met, a body too large.
    let lock = |body: Value| api.request(Method::POST, "/v1/lock", None).json(&body);
    let null = |constraint: &str| {
        json!({"configuration": [{"name": "versions.tf", "text": format!(
            "terraform {{\n  required_providers {{\n    null = {{ source = \"hashicorp/null\", version = \"{constraint}\" }}\n  }}\n}}\n"
        )}], "platforms": ["linux_amd64"]})
    };
    let file = api.expect(lock(null("~> 3.2")), 200).await;
    assert!(file.as_str().is_some_and(|f| f.contains("3.2.1")), "{file}");
    api.expect(lock(json!({})), 400).await;
    api.expect(lock(null(">= 9.0")), 409).await;
    let huge = "#".repeat(app.state.config.limits.max_json_bytes);
    api.expect(
        lock(json!({"configuration": [{"name": "main.tf", "text": huge}]})),
        413,
    )
    .await;

    // Logging out ends that session; then failed logins are throttled.
    let session = api.login("alice", ADMIN_PASSWORD).await;
    api.empty(Method::POST, "/api/v1/auth/logout", &session, 204)
        .await;
    api.get("/api/v1/auth/me", &session, 401).await;
    let wrong = json!({ "username": "mallory", "password": "not the password" });
    let mut throttled = false;
    for _ in 0..20 {
        let (status, body) = api.send(login(wrong.clone())).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["code"], "throttled");
            throttled = true;
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    assert!(throttled, "failed logins are throttled");

    contract.finish();
}
