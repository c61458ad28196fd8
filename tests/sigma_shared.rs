//! SigmaHQ's network rules (`../shared/sigma/`): loading, classification, verdicts.

use std::path::PathBuf;

fn shared_dir() -> Option<PathBuf> {
    let local = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"));
    [local, PathBuf::from("/work/shared")].into_iter().find(|p| p.join("sigma").is_dir())
}

#[test]
fn dump_check() {
    let Some(dir) = shared_dir() else {
        eprintln!("skipping: ../shared not found");
        return;
    };
    let mut out = Vec::new();
    let st = c2tap::detect::tools::check(&[dir.join("sigma")], &mut out).unwrap();
    std::fs::write("/tmp/sigma_check.txt", &out).unwrap();
    eprintln!("{st:?}");
}
