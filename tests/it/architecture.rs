//! The layering that ARCHITECTURE.md describes, checked on the source: a module imports only
//! from layers below its own (or beside it, without a cycle), so no arrow points back up.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Bottom to top; the same list as ARCHITECTURE.md's table.
const LAYERS: &[&[&str]] = &[
    &["clock", "domain", "fsutil"],
    &[
        "archive",
        "config",
        "hashes",
        "constraints",
        "definitions",
        "lockfile",
        "tfconfig",
        "textpos",
        "metrics",
        "telemetry",
        "tls",
        "signing",
    ],
    &["db", "storage", "upstream", "auth"],
    &["catalog", "downloads"],
    &["fetch", "module_fetch", "import", "integrity", "bundle"],
    &["pull", "jobs", "lock"],
    &["state"],
    &["http", "startup"],
    &["cli"],
];

/// Top-level module -> the top-level modules its non-test code names through `crate::`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let src = crate::common::repo_path("src");
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let module = top_module(&src, &path);
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests may reach anywhere.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let deps = out.entry(module.clone()).or_default();
            for name in crate_paths(code) {
                if name != module {
                    deps.insert(name);
                }
            }
        }
    }
    out
}

fn top_module(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// `crate::a::...` and `use crate::{a, b::c}` -> `a`, `b`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&module))
        .unwrap_or_else(|| {
            panic!("module {module} is in no layer: add it to ARCHITECTURE.md and LAYERS")
        })
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let graph = imports();
    let mut upward = Vec::new();
    for (module, deps) in &graph {
        if module == "lib" || module == "main" {
            continue;
        }
        for dep in deps {
            if layer_of(dep) > layer_of(module) {
                upward.push(format!("{module} -> {dep}"));
            }
        }
    }
    assert!(upward.is_empty(), "imports pointing up: {upward:?}");
}

#[test]
fn the_import_graph_has_no_cycles() {
    let graph = imports();
    fn reaches(
        graph: &BTreeMap<String, BTreeSet<String>>,
        from: &str,
        to: &str,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        graph
            .get(from)
            .into_iter()
            .flatten()
            .any(|next| next == to || (seen.insert(next.clone()) && reaches(graph, next, to, seen)))
    }
    let cycles: Vec<String> = graph
        .iter()
        .flat_map(|(m, deps)| deps.iter().map(move |d| (m, d)))
        .filter(|(m, d)| reaches(&graph, d, m, &mut BTreeSet::new()))
        .map(|(m, d)| format!("{m} -> {d}"))
        .collect();
    assert!(cycles.is_empty(), "import cycles through: {cycles:?}");
}

#[test]
fn the_checker_sees_both_import_forms() {
    let found = crate_paths("use crate::{db, storage::BlobKey};\nlet x = crate::clock::now();");
    assert_eq!(found, ["db", "storage", "clock"]);
}
