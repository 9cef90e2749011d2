//! `definitions::parse_definitions` on any UTF-8 text. Properties: it never panics; a file it
//! accepts defines at least one provider or module, each provider with versions and
//! platforms, each module with versions, no address twice;
//! every error it reports is at a position inside the text (line >= 1 and at most the number
//! of lines, column >= 1 and at most one past the end of that line, counted in characters,
//! as an editor would underline it), and the errors come sorted by position, at most `MAX_LISTED_PROBLEMS` of them.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use tfmirror::definitions::{MAX_LISTED_PROBLEMS, parse_definitions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Lines as the parser counts them: a trailing newline opens one more (empty) line.
    let lines: Vec<&str> = text.split('\n').collect();
    match parse_definitions(text) {
        Ok(definitions) => {
            assert!(
                !definitions.providers.is_empty() || !definitions.modules.is_empty(),
                "accepted a file without providers or modules"
            );
            let mut modules = HashSet::new();
            for m in &definitions.modules {
                assert!(!m.versions.is_empty(), "module {} has no versions", m.address);
                assert!(m.line >= 1 && m.line <= lines.len(), "block line {}", m.line);
                assert!(modules.insert(m.address.clone()), "module {} accepted twice", m.address);
            }
            let mut seen = HashSet::new();
            for p in &definitions.providers {
                assert!(!p.versions.is_empty(), "{} has no versions", p.address);
                assert!(!p.platforms.is_empty(), "{} has no platforms", p.address);
                assert!(
                    p.line >= 1 && p.line <= lines.len(),
                    "block line {}",
                    p.line
                );
                assert!(
                    seen.insert(p.address.clone()),
                    "{} accepted twice",
                    p.address
                );
                let platforms: HashSet<_> = p.platforms.iter().collect();
                assert_eq!(
                    platforms.len(),
                    p.platforms.len(),
                    "a platform listed twice"
                );
            }
        }
        Err(errors) => {
            assert!(!errors.listed.is_empty(), "refused without saying why");
            assert!(errors.total >= errors.listed.len(), "fewer counted than listed");
            assert!(
                errors.listed.len() <= MAX_LISTED_PROBLEMS,
                "{} listed, more than the cap",
                errors.listed.len()
            );
            for e in &errors.listed {
                assert!(e.line >= 1, "line 0 in {e}");
                assert!(e.column >= 1, "column 0 in {e}");
                assert!(
                    e.line <= lines.len(),
                    "{e}: line past the end of a {}-line text",
                    lines.len()
                );
                let width = lines[e.line - 1].chars().count();
                assert!(
                    e.column <= width + 1,
                    "{e}: column past the end of line {} ({width} characters)",
                    e.line
                );
                assert!(
                    e.to_string()
                        .starts_with(&format!("{}:{}: ", e.line, e.column))
                );
            }
            assert!(
                errors
                    .listed
                    .windows(2)
                    .all(|w| (w[0].line, w[0].column) <= (w[1].line, w[1].column)),
                "errors not sorted by position"
            );
        }
    }
});
