//! Every field the classifier calls observable in SigmaHQ's rules (`../shared/sigma/`)
//! is produced by some event of the project's own captures (`pcaps/`, whose events are
//! `tests/golden/*.jsonl`, checked against a replay by the golden test), or it would
//! make the classification a lie: a rule on a field no event carries reads it as null.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use c2tap::detect::fields::FieldKey;
use c2tap::detect::sigma::{self, classify};

fn shared_sigma() -> Option<PathBuf> {
    let local = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/sigma"));
    [local, PathBuf::from("/work/shared/sigma")]
        .into_iter()
        .find(|p| p.is_dir())
}

/// Keys of every event in the golden files.
fn produced_keys() -> BTreeSet<String> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"));
    let mut keys = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            if let Ok(serde_json::Value::Object(m)) = serde_json::from_str(line) {
                keys.extend(m.keys().cloned());
            }
        }
    }
    keys
}

#[test]
fn every_observable_field_is_produced_by_some_capture() {
    let Some(dir) = shared_sigma() else {
        eprintln!("skipping: ../shared/sigma not found");
        return;
    };
    let set = sigma::load_paths(&[dir]);
    let produced = produced_keys();
    assert!(produced.contains("QueryName"), "golden files not found");
    // field name as the rules write it → rules using it
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut checked = 0;
    for r in &set.rules {
        if r.kind().is_none()
            || r.is_deprecated()
            || classify::classify(r) == classify::Observability::Never
        {
            continue;
        }
        for i in classify::used_selections(r) {
            let Some(sel) = r.selections.get(i) else {
                continue;
            };
            for item in sel.groups.iter().flatten() {
                let (Some(key), Some(raw)) = (&item.field, &item.raw_field) else {
                    continue;
                };
                let seen = match key {
                    FieldKey::HostOnly(_) | FieldKey::Unproduced(_) => continue,
                    FieldKey::Event(f) => produced.contains(f.name()),
                    // Computed from the URI.
                    FieldKey::Virtual(_) => produced.contains("HttpUri"),
                    FieldKey::Other(_) => false,
                };
                checked += 1;
                if !seen {
                    missing
                        .entry(raw.clone())
                        .or_default()
                        .push(r.title.clone());
                }
            }
        }
    }
    assert!(checked > 200, "{checked}");
    assert!(
        missing.is_empty(),
        "fields no capture produces: {missing:#?}"
    );
}
