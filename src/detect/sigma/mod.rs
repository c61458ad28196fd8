//! Sigma rules: YAML documents → [`Rule`]s (this module), [`classify`] them by what a
//! network sensor can observe, and compile them into the matching [`engine`].
//!
//! Loading never stops at a bad rule: every failure is collected with its path and
//! reason, and the other rules load.

pub mod classify;
pub mod condition;
pub mod engine;
pub mod rule;
pub mod value;
pub mod yaml;

use std::path::{Path, PathBuf};

pub use rule::Rule;

use crate::detect::correlate::{self, Correlation};

/// Largest rule file read: SigmaHQ's largest rule file is about 40 KB; a file of
/// several megabytes is not a rule, and reading it whole would be the hazard.
pub const MAX_RULE_FILE_BYTES: u64 = 1 << 20;
/// Most rule files taken from one folder tree (bounds a mistaken `-r /`).
pub const MAX_RULE_FILES: usize = 50_000;
/// Deepest folder recursion when walking rule folders.
const MAX_DIR_DEPTH: usize = 16;

/// Why a rule did not load.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{0}")]
    Yaml(#[from] yaml::YamlError),
    #[error("missing or invalid {0}")]
    Missing(&'static str),
    #[error("{0} are not supported")]
    Unsupported(&'static str),
    #[error("unknown modifier '{0}'")]
    Modifier(String),
    #[error("invalid value: {0}")]
    Value(String),
    #[error("invalid regex '{0}': {1}")]
    Regex(String, String),
    #[error("condition: {0}")]
    Condition(String),
    #[error("condition names a missing selection '{0}'")]
    MissingSelection(String),
    #[error("more than {0} values in one rule")]
    TooManyValues(usize),
    #[error("selection '{0}': {1}")]
    InSelection(String, Box<RuleError>),
    #[error("{0}")]
    Io(String),
}

/// A rule that failed to load.
#[derive(Debug)]
pub struct LoadFailure {
    pub path: String,
    pub reason: String,
}

/// Everything loaded from a set of paths.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// Correlation documents (resolved against `rules` when the engine is built).
    pub correlations: Vec<Correlation>,
    pub failures: Vec<LoadFailure>,
}

impl RuleSet {
    fn extend(&mut self, other: RuleSet) {
        self.rules.extend(other.rules);
        self.correlations.extend(other.correlations);
        self.failures.extend(other.failures);
    }
}

/// Parses every document of one YAML text. `origin` names it in errors; `source`
/// groups its rules in reports.
pub fn load_str(text: &str, origin: &str, source: &str) -> RuleSet {
    let mut set = RuleSet::default();
    let docs = match yaml::parse_docs(text) {
        Ok(d) => d,
        Err(e) => {
            set.failures.push(LoadFailure {
                path: origin.to_string(),
                reason: e.to_string(),
            });
            return set;
        }
    };
    let multi = docs.len() > 1;
    let mut global: Option<yaml::Node> = None;
    for (i, doc) in docs.into_iter().enumerate() {
        let name = if multi {
            format!("{origin}#{} (line {})", i + 1, doc.line)
        } else {
            origin.to_string()
        };
        // Sigma 1.x rule collections: `action: global` is merged into the documents after it.
        match doc.node.get("action").and_then(yaml::Node::as_str) {
            Some("global") => {
                global = Some(doc.node);
                continue;
            }
            Some("reset") => {
                global = None;
                continue;
            }
            _ => {}
        }
        let node = match &global {
            Some(g) => merge(g.clone(), doc.node),
            None => doc.node,
        };
        if node.get("correlation").is_some() {
            match correlate::rule::from_node(&node, &name, source) {
                Ok(c) => set.correlations.push(c),
                Err(e) => set.failures.push(LoadFailure {
                    path: name,
                    reason: e.to_string(),
                }),
            }
            continue;
        }
        match rule::from_node(&node, &name, source) {
            Ok(r) => set.rules.push(r),
            Err(e) => set.failures.push(LoadFailure {
                path: name,
                reason: e.to_string(),
            }),
        }
    }
    set
}

fn merge(base: yaml::Node, over: yaml::Node) -> yaml::Node {
    use yaml::Node::Map;
    match (base, over) {
        (Map(mut b), Map(o)) => {
            for (k, v) in o {
                match b.iter().position(|(bk, _)| *bk == k) {
                    Some(i) => {
                        let old = std::mem::replace(&mut b[i].1, yaml::Node::Null);
                        b[i].1 = merge(old, v);
                    }
                    None => b.push((k, v)),
                }
            }
            Map(b)
        }
        (_, o) => o,
    }
}

/// Loads rule files and folders (recursively, `.yml`/`.yaml`, in sorted order).
pub fn load_paths(paths: &[PathBuf]) -> RuleSet {
    let mut set = RuleSet::default();
    for root in paths {
        let mut files = Vec::new();
        if root.is_dir() {
            if let Err(e) = walk(root, 0, &mut files) {
                set.failures.push(LoadFailure {
                    path: root.display().to_string(),
                    reason: e,
                });
            }
            files.sort();
        } else {
            files.push(root.clone());
        }
        let root_name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for f in files {
            let source = if root.is_dir() {
                match f
                    .strip_prefix(root)
                    .ok()
                    .and_then(|r| r.components().next())
                {
                    Some(c)
                        if f.strip_prefix(root)
                            .is_ok_and(|r| r.components().count() > 1) =>
                    {
                        format!("{root_name}/{}", c.as_os_str().to_string_lossy())
                    }
                    _ => root_name.clone(),
                }
            } else {
                f.parent()
                    .and_then(Path::file_name)
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            set.extend(load_file(&f, &source));
        }
    }
    set
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), String> {
    if depth > MAX_DIR_DEPTH {
        return Ok(());
    }
    let rd = std::fs::read_dir(dir).map_err(|e| format!("cannot read folder: {e}"))?;
    for entry in rd.flatten() {
        if out.len() >= MAX_RULE_FILES {
            return Err(format!("more than {MAX_RULE_FILES} rule files"));
        }
        let p = entry.path();
        if p.is_dir() {
            walk(&p, depth + 1, out)?;
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(p);
        }
    }
    Ok(())
}

fn load_file(path: &Path, source: &str) -> RuleSet {
    let origin = path.display().to_string();
    let fail = |reason: String| RuleSet {
        rules: Vec::new(),
        correlations: Vec::new(),
        failures: vec![LoadFailure {
            path: origin.clone(),
            reason,
        }],
    };
    match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_RULE_FILE_BYTES => {
            return fail(format!(
                "file is {} bytes, larger than the {MAX_RULE_FILE_BYTES}-byte cap for one rule file",
                m.len()
            ));
        }
        Ok(_) => {}
        Err(e) => return fail(format!("cannot read: {e}")),
    }
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => load_str(&text, &origin, source),
            Err(_) => fail("not UTF-8 text".into()),
        },
        Err(e) => fail(format!("cannot read: {e}")),
    }
}

/// The built-in rule set (`rules/` in the source tree, compiled into the binary).
pub fn builtin() -> RuleSet {
    let mut set = RuleSet::default();
    for (name, text) in crate::detect::builtin::RULES {
        set.extend(load_str(text, &format!("builtin:{name}"), "builtin"));
    }
    set
}

/// `paths` when given, else the built-in set.
pub fn load_or_builtin(paths: &[PathBuf]) -> RuleSet {
    if paths.is_empty() {
        builtin()
    } else {
        load_paths(paths)
    }
}
