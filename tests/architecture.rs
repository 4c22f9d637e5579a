//! The architecture of `src/` as rules a commit cannot break unnoticed (docs/architecture.md
//! draws them):
//! - the module graph is one-way: every module imports only modules on a lower layer;
//! - only `http` speaks HTTP (axum, hyper, tower);
//! - only `access` touches the catalog's raw, audience-blind accessors (`raw_*`), so every
//!   reader of features goes through a caller's `View`;
//! - in `http`, only `identity` makes a `View` (from the caller it resolved).
//!
//! It reads the source as text: a `crate::name` path anywhere in code (not comments) is an
//! import of `name`, and so is each first name of a grouped `use crate::{a::X, b}`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, bottom first. A module may use modules on lower layers only; modules on the
/// same layer do not know each other.
const LAYERS: &[&[&str]] = &[
    // The shared vocabulary: no imports from the crate.
    &["text", "view_id", "policy", "geometry", "crs", "store"],
    &["model", "audit"],
    &["config", "auth"],
    // Features in: files, and the edit store as a source of edited features.
    &["source", "edit_store"],
    // The in-memory catalog, and the caller's view of it: the one door to features.
    &["access"],
    &["query"],
    &["encode"],
    // Vector tiles, built from a view and cached; the one writer of editable layers.
    &["tiles", "edit"],
    &["http"],
];

/// The crates only `http` may use.
const HTTP_CRATES: &[&str] = &["axum", "hyper", "hyper_util", "tower", "tower_http"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`src/access/catalog.rs` → `access`); `None` for
/// the crate roots.
fn module_of(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src()).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    match first {
        "lib.rs" | "main.rs" => None,
        f => Some(f.trim_end_matches(".rs").to_string()),
    }
}

/// The text with `//` comments removed (outside string literals) and string literals
/// emptied, so paths named in prose or in messages do not count as imports.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        // Raw strings r"…" / r#"…"#.
        if c == 'r'
            && matches!(chars.get(i + 1), Some('"') | Some('#'))
            && (i == 0 || !chars[i - 1].is_alphanumeric() && chars[i - 1] != '_')
        {
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) == Some(&'"') {
                j += 1;
                loop {
                    match chars.get(j) {
                        None => break,
                        Some('"') if (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) => {
                            j += 1 + hashes;
                            break;
                        }
                        _ => j += 1,
                    }
                }
                out.push_str("\"\"");
                i = j;
                continue;
            }
        }
        if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                if chars[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j + 1;
            continue;
        }
        // A char literal holding a quote ('"') would open a string above.
        if c == '\'' && chars.get(i + 1) == Some(&'"') && chars.get(i + 2) == Some(&'\'') {
            i += 3;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn ident_at(chars: &[char], mut i: usize) -> (String, usize) {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    let start = i;
    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
        i += 1;
    }
    (chars[start..i].iter().collect(), i)
}

/// Every top-level module of the crate this code names.
fn crate_imports(code: &str) -> BTreeSet<String> {
    let chars: Vec<char> = code.chars().collect();
    let needle: Vec<char> = "crate::".chars().collect();
    let mut found = BTreeSet::new();
    let mut i = 0;
    while i + needle.len() <= chars.len() {
        let boundary = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if !(boundary && chars[i..i + needle.len()] == needle[..]) {
            i += 1;
            continue;
        }
        i += needle.len();
        if chars.get(i) == Some(&'{') {
            // use crate::{a::X, b::{Y, Z}, c}: the first name of each item at depth 1.
            let mut depth = 0;
            let mut item_start = true;
            while i < chars.len() {
                match chars[i] {
                    '{' => {
                        depth += 1;
                        i += 1;
                        if depth == 1 {
                            item_start = true;
                        }
                        continue;
                    }
                    '}' => {
                        depth -= 1;
                        i += 1;
                        if depth == 0 {
                            break;
                        }
                        continue;
                    }
                    ',' if depth == 1 => {
                        item_start = true;
                        i += 1;
                        continue;
                    }
                    _ => {}
                }
                if depth == 1 && item_start {
                    let (name, next) = ident_at(&chars, i);
                    if !name.is_empty() {
                        found.insert(name);
                        item_start = false;
                        i = next;
                        continue;
                    }
                }
                i += 1;
            }
        } else {
            let (name, next) = ident_at(&chars, i);
            if !name.is_empty() {
                found.insert(name);
            }
            i = next;
        }
    }
    found
}

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every (file, module, imported module) of `src/`.
fn imports() -> Vec<(PathBuf, String, String)> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut out = Vec::new();
    for f in files {
        let Some(module) = module_of(&f) else {
            continue;
        };
        let text = fs::read_to_string(&f).expect("readable source");
        for used in crate_imports(&code_only(&text)) {
            if used != module {
                out.push((f.clone(), module.clone(), used));
            }
        }
    }
    out
}

#[test]
fn every_module_has_a_layer() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let unplaced: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_of(f))
        .filter(|m| rank(m).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules missing from LAYERS in tests/architecture.rs (and from docs/architecture.md): {unplaced:?}"
    );
}

#[test]
fn modules_import_only_lower_layers() {
    let mut broken: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, module, used) in imports() {
        let (Some(from), Some(to)) = (rank(&module), rank(&used)) else {
            continue;
        };
        if to >= from {
            broken
                .entry(format!("{module} (layer {from}) uses {used} (layer {to})"))
                .or_default()
                .insert(file.display().to_string());
        }
    }
    assert!(
        broken.is_empty(),
        "imports against the layer order (docs/architecture.md):\n{}",
        broken
            .iter()
            .map(|(rule, files)| format!(
                "  {rule}: {}",
                files.iter().cloned().collect::<Vec<_>>().join(", ")
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Whether `code` names crate `name` as a path (`axum::…`, `use axum;`) anywhere.
fn names_crate(code: &str, name: &str) -> bool {
    let bytes = code.as_bytes();
    code.match_indices(name).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + name.len()).copied();
        let starts = before.is_none_or(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b':'));
        starts && (code[i + name.len()..].starts_with("::") || after == Some(b';'))
    })
}

#[test]
fn only_http_speaks_http() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut offenders = Vec::new();
    for f in files {
        if module_of(&f).as_deref() == Some("http") {
            continue;
        }
        let code = code_only(&fs::read_to_string(&f).expect("readable source"));
        for c in HTTP_CRATES {
            if names_crate(&code, c) {
                offenders.push(format!("{} uses {c}", f.display()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "HTTP crates outside src/http:\n  {}",
        offenders.join("\n  ")
    );
}

/// The catalog's audience-blind accessors, as `src/access/catalog.rs` declares them.
fn raw_accessors() -> Vec<String> {
    let file = src().join("access").join("catalog.rs");
    let text = fs::read_to_string(&file).expect("src/access/catalog.rs");
    let code = code_only(&text);
    let mut names: Vec<String> = code
        .match_indices("fn raw_")
        .map(|(i, _)| {
            let rest = &code[i + 3..];
            rest.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn only_access_reads_the_raw_catalog() {
    let raw = raw_accessors();
    assert!(
        raw.len() >= 3,
        "expected the catalog's raw accessors (raw_layer, raw_layers, …) in src/access/catalog.rs, found {raw:?}"
    );
    // They are visible inside `access` only, so the compiler refuses them elsewhere too.
    let catalog = code_only(
        &fs::read_to_string(src().join("access").join("catalog.rs")).expect("catalog.rs"),
    );
    for name in &raw {
        let decl = format!("fn {name}(");
        let line = catalog
            .lines()
            .find(|l| l.contains(&decl))
            .unwrap_or_default();
        assert!(
            line.trim_start().starts_with("pub(in crate::access) fn")
                || line.trim_start().starts_with("fn"),
            "{name} must be pub(in crate::access) or private: {line}"
        );
    }
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut offenders = Vec::new();
    for f in files {
        if module_of(&f).as_deref() == Some("access") {
            continue;
        }
        let code = code_only(&fs::read_to_string(&f).expect("readable source"));
        for name in &raw {
            if code.contains(&format!(".{name}(")) {
                offenders.push(format!("{} calls {name}", f.display()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "raw catalog reads outside src/access (read through access::View):\n  {}",
        offenders.join("\n  ")
    );
}

#[test]
fn http_makes_views_in_one_place() {
    let mut files = Vec::new();
    rust_files(&src().join("http"), &mut files);
    let makers: Vec<String> = files
        .iter()
        .filter(|f| {
            code_only(&fs::read_to_string(f).expect("readable source")).contains("View::new(")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert_eq!(
        makers,
        [src().join("http").join("identity.rs").display().to_string()],
        "handlers take CurrentView or call identity::view_of; only identity.rs makes a View"
    );
}

#[test]
fn the_parser_sees_grouped_and_nested_imports() {
    let code = code_only(
        "use crate::{a::X, b::{Y, Z}, c};\n// crate::commented\nlet s = \"crate::quoted\";\nfn f() { crate::d::g(); }",
    );
    let got: Vec<String> = crate_imports(&code).into_iter().collect();
    assert_eq!(got, ["a", "b", "c", "d"]);
    assert!(names_crate("use axum::Router;", "axum"));
    assert!(!names_crate(
        &code_only("let axum_like = 1; // axum::x"),
        "axum"
    ));
}
