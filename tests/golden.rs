//! Golden tests: every capture in `pcaps/` replayed with `--events all` must give exactly
//! the events in `tests/golden/NAME.jsonl` (compared as sets of JSON objects: the order
//! of events from different workers is not part of the contract; `FlowId` is left out
//! because it names the worker). Correlation events (EventID 120) of correlations kept
//! in shared state (grouped other than by the flow's IP pair) depend on the order in
//! which two workers' events reach the shared table, so those are taken from a second
//! replay on one worker, where the order is the capture's.
//!
//! After an intended change, regenerate with `UPDATE_GOLDEN=1 cargo test --test golden`
//! and review the diff like code.

mod common;

use std::collections::BTreeMap;

use common::*;

/// Ids of the built-in correlations whose state is shared between workers.
fn shared_correlations() -> Vec<String> {
    let (engine, _) = c2tap::detect::Engine::load(&[]);
    engine
        .correlations()
        .corrs
        .iter()
        .filter(|c| !c.local)
        .map(|c| c.alert.rule_id.to_string())
        .collect()
}

/// The events of a replay, normalized; `shared` keeps only (true) or drops (false) the
/// Correlation events of shared correlations.
fn normalized(stdout: &[u8], shared_ids: &[String], shared: bool) -> Vec<String> {
    let mut lines: Vec<String> = events(stdout)
        .into_iter()
        .filter(|v| {
            let id = v["CorrelationId"].as_str().unwrap_or("");
            let is_shared = v["EventID"] == 120 && shared_ids.iter().any(|s| s == id);
            is_shared == shared
        })
        .map(|mut v| {
            if let Some(o) = v.as_object_mut() {
                o.remove("FlowId");
            }
            // serde_json's map is ordered by key: a stable text form.
            serde_json::to_string(&v).unwrap()
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn pcaps_give_their_golden_events() {
    let pcaps = repo().join("pcaps");
    let mut files: Vec<_> = std::fs::read_dir(&pcaps)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no captures in pcaps/");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let shared_ids = shared_correlations();
    let mut failures = BTreeMap::new();
    for pcap in &files {
        let stem = pcap.file_stem().unwrap().to_string_lossy().into_owned();
        let rel = pcap.strip_prefix(repo()).unwrap();
        let replay = |workers: &str| {
            let out = run(c2tap()
                .current_dir(repo())
                .args([
                    "replay",
                    "--events",
                    "all",
                    "-w",
                    workers,
                    "--sensor-name",
                    "golden",
                ])
                .arg(rel));
            assert!(
                out.status.success(),
                "{stem}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        let mut got = normalized(&replay("2"), &shared_ids, false);
        got.extend(normalized(&replay("1"), &shared_ids, true));
        got.sort();
        let golden = repo().join("tests/golden").join(format!("{stem}.jsonl"));
        if update {
            std::fs::write(&golden, got.join("\n") + "\n").unwrap();
            continue;
        }
        let want: Vec<String> = std::fs::read_to_string(&golden)
            .unwrap_or_else(|_| {
                panic!(
                    "{} missing: run UPDATE_GOLDEN=1 cargo test --test golden",
                    golden.display()
                )
            })
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                serde_json::to_string(&serde_json::from_str::<serde_json::Value>(l).unwrap())
                    .unwrap()
            })
            .collect::<Vec<_>>();
        let mut want = want;
        want.sort();
        if got != want {
            let missing: Vec<_> = want.iter().filter(|l| !got.contains(l)).collect();
            let extra: Vec<_> = got.iter().filter(|l| !want.contains(l)).collect();
            failures.insert(stem, format!("missing {missing:#?}\nextra {extra:#?}"));
        }
    }
    assert!(failures.is_empty(), "golden mismatches:\n{failures:#?}");
}
