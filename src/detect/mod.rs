//! Detection: Sigma rules matched against events (DESIGN §4).
//!
//! Where it sits: after `event/` (events are read only through [`FieldSource`]) and
//! before `output/`. It may import `event` and `time`, nothing later.
//!
//! - [`sigma`]: loading (files, folders, multi-document YAML, the built-in set),
//!   classification by observability, and the compiled [`Engine`].
//! - [`fields`]: logsource → event kind, and field names across Sysmon, proxy, Zeek and
//!   ECS → event fields (one table for rules and for JSON events).
//! - [`source`]: the [`FieldSource`] trait, for [`crate::event::Event`] and [`JsonEvent`].
//! - [`mappings`]: ATT&CK technique → VERIS, NIST 800-53, AWS/Azure/GCP (shipped data),
//!   rendered once per rule into its alerts' `Mappings`.
//! - [`tools`]: `rules check`, `rules test`, `rules coverage`.

pub mod builtin;
pub mod correlate;
pub mod fields;
pub mod mappings;
pub mod sigma;
pub mod source;
pub mod tools;

pub use fields::EventKind;
pub use sigma::engine::{Engine, EngineOptions, EngineStats};
pub use sigma::{LoadFailure, Rule, RuleSet};
pub use source::{FieldSource, JsonEvent};

use std::path::PathBuf;

impl Engine {
    /// Loads rules from `paths` (the built-in set when empty) and compiles them. Rules
    /// that fail to load are returned with their path and reason; they never stop the
    /// others.
    pub fn load(paths: &[PathBuf]) -> (Engine, Vec<LoadFailure>) {
        Engine::load_with(paths, EngineOptions::default())
    }

    /// [`Engine::load`] with options (`mappings: false` for `--no-mappings`).
    pub fn load_with(paths: &[PathBuf], opts: EngineOptions) -> (Engine, Vec<LoadFailure>) {
        let set = sigma::load_or_builtin(paths);
        let (engine, mut failures) = Engine::build(&set.rules, &set.correlations, opts);
        let mut all = set.failures;
        all.append(&mut failures);
        (engine, all)
    }

    /// Evaluates an event and stores its alerts in `ev.alerts` (replacing them);
    /// returns how many rules matched.
    pub fn annotate(&self, ev: &mut crate::event::Event) -> usize {
        let mut alerts = std::mem::take(&mut ev.alerts);
        alerts.clear();
        self.evaluate(&*ev, &mut alerts);
        ev.alerts = alerts;
        ev.alerts.len()
    }
}

// Workers share one engine (`Arc<Engine>`); per-event scratch memory is thread-local.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Engine>();
};
