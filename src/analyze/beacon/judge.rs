//! When a pair alerts: the rescore schedule, the strobe test, the bands, and the
//! rebuild of a pair's check-ins and bins over the observation period that the scorer
//! reads (see the parent module's doc).

use crate::analyze::beacon_score::Seconds;
use crate::analyze::bins::{BINS, Bins, Window};

use super::*;

/// What a rescore found.
pub(super) struct Evaluation {
    pub(super) score: Option<BeaconScore>,
    pub(super) bins_total: u64,
    pub(super) span_secs: f64,
    pub(super) samples: usize,
    pub(super) connections: u64,
    pub(super) first_seen: Option<Timestamp>,
    /// The check-ins per bin of the observation period, and a bin's length.
    pub(super) histogram: [u32; BINS],
    pub(super) bin_secs: f64,
}

impl BeaconTracker {
    /// Decides whether the pair alerts now.
    /// `open_for`: how long the check-in's connection had been open.
    pub(super) fn judge(
        &mut self,
        idx: u32,
        now: Timestamp,
        open_for: Duration,
    ) -> Option<BeaconFinding> {
        let obs = self.observation(now);
        let window = self.cfg.window;
        let (n, ring_len, since, scored_at, strobe_at) = {
            let p = self.pair_mut(idx)?;
            (
                p.in_window(),
                p.ring.len(),
                p.since_score,
                p.scored_at,
                p.strobe_at,
            )
        };
        let min = u64::try_from(self.cfg.min_checkins).unwrap_or(u64::MAX);
        if n < min {
            return None;
        }
        if beacon_score::is_strobe_count(n, obs.len(), &self.cfg.score) {
            if strobe_at.is_some_and(|t| now < t.saturating_add(window)) {
                return None;
            }
            self.pair_mut(idx)?.strobe_at = Some(now);
            let eval = self.evaluate(idx, obs);
            return self.finding(
                idx,
                BeaconKind::Strobe,
                self.cfg.strobe_band,
                eval,
                open_for,
            );
        }

        let bin_width = Duration(obs.len().as_nanos().checked_div(BINS as i64).unwrap_or(0));
        let due = match scored_at {
            None => true,
            Some(t) => since.saturating_mul(RESCORE_SHARE) >= ring_len || now.since(t) >= bin_width,
        };
        if !due {
            return None;
        }
        let mut eval = self.evaluate(idx, obs);
        self.counters.rescores = self.counters.rescores.saturating_add(1);
        let (alert_score, bands) = (self.cfg.alert_score, self.cfg.bands);
        let (held_after, small) = (
            self.cfg.long_connection_after,
            self.cfg.long_connection_max_bytes as f64,
        );
        let pair = self.pair_mut(idx)?;
        pair.since_score = 0;
        pair.scored_at = Some(now);
        if pair
            .alert
            .is_some_and(|a| now >= a.at.saturating_add(window))
        {
            pair.alert = None;
        }
        let score = eval.score.as_mut()?;
        // A check-in inside a connection held past the threshold, small as a heartbeat.
        let held = open_for >= held_after && score.median_bytes <= small;
        // Written so that a NaN threshold never alerts.
        let kind = if score.total >= alert_score {
            if held {
                BeaconKind::LongConnection
            } else {
                BeaconKind::Beacon
            }
        } else {
            let regular = (score.timing + score.size) / 2.0;
            if !(held && regular >= alert_score) {
                return None;
            }
            score.total = regular;
            BeaconKind::LongConnection
        };
        let total = score.total;
        let band = bands.of(total).unwrap_or(Band::Low);
        let previous = pair.alert;
        let long = kind == BeaconKind::LongConnection;
        // Again in a window only when the band rises, or when a beacon turns out to be
        // held in one long connection.
        if previous.is_some_and(|a| band <= a.band && (a.long || !long)) {
            return None;
        }
        pair.alert = Some(Alert {
            band: previous.map_or(band, |a| a.band.max(band)),
            at: previous.map_or(now, |a| a.at),
            long: long || previous.is_some_and(|a| a.long),
        });
        self.finding(idx, kind, band, eval, open_for)
    }

    /// Rebuilds the pair's check-ins and bins over the observation period and scores them.
    pub(super) fn evaluate(&mut self, idx: u32, obs: Window) -> Evaluation {
        let slot_ns = self.slot_ns;
        let mut bins = Bins::new(obs);
        let mut connections = 0u64;
        let mut first: Option<Timestamp> = None;
        self.checkins.clear();
        if let Some(pair) = self.slab.get(idx).map(|n| &n.pair) {
            for h in pair.ring.iter().filter(|h| h.at >= obs.start) {
                self.checkins.push(CheckIn {
                    start: h.at,
                    client_bytes: u64::from(h.bytes),
                });
                bins.add(h.at);
                connections = connections.saturating_add(u64::from(h.new_connection));
                first = Some(first.map_or(h.at, |f| f.min(h.at)));
            }
            if let Some(spill) = pair.spill.as_ref() {
                for s in spill.slots.iter() {
                    if s.slot < spill.oldest || s.checkins == 0 {
                        continue;
                    }
                    let start = Timestamp(s.slot.saturating_mul(slot_ns)).max(obs.start);
                    let end = Timestamp(s.slot.saturating_add(1).saturating_mul(slot_ns));
                    // The part of the slot inside the observation, its check-ins taken as
                    // evenly spread (only the slot across the start is cut).
                    let share = end.since(start).as_nanos() as f64 / slot_ns as f64;
                    let part = |n: u32| (f64::from(n) * share.clamp(0.0, 1.0)).round() as u32;
                    let (n, c) = (part(s.checkins), part(s.connections));
                    if n == 0 {
                        continue;
                    }
                    let mid = Timestamp(start.0.saturating_add(end.since(start).as_nanos() / 2));
                    bins.add_many(mid.clamp(obs.start, obs.end.max(obs.start)), n);
                    connections = connections.saturating_add(u64::from(c));
                    let seen = start.max(pair.first);
                    first = Some(first.map_or(seen, |f| f.min(seen)));
                }
            }
        }
        let score = beacon_score::score(&self.checkins, &bins, &self.cfg.score, &mut self.scratch);
        Evaluation {
            score,
            bins_total: bins.total(),
            span_secs: bins.span().as_nanos() as f64 / 1e9,
            samples: self.checkins.len(),
            connections,
            first_seen: first,
            histogram: *bins.counts(),
            bin_secs: obs.len().as_nanos() as f64 / 1e9 / BINS as f64,
        }
    }

    pub(super) fn finding(
        &self,
        idx: u32,
        kind: BeaconKind,
        band: Band,
        eval: Evaluation,
        open_for: Duration,
    ) -> Option<BeaconFinding> {
        let node = self.slab.get(idx)?;
        let score = eval.score.unwrap_or(BeaconScore {
            timing: 0.0,
            size: 0.0,
            histogram: 0.0,
            duration: 0.0,
            total: 0.0,
            median_interval_secs: 0.0,
            interval_mad_secs: 0.0,
            median_bytes: 0.0,
            bytes_mad: 0.0,
            checkins: eval.bins_total,
            span_secs: eval.span_secs,
            samples: eval.samples,
        });
        let reason = match kind {
            BeaconKind::Beacon => score.reason().to_string(),
            BeaconKind::Strobe => format!("strobe: {}", score.reason()),
            BeaconKind::LongConnection => format!(
                "connection held {}: {}",
                Seconds(open_for.as_nanos() as f64 / 1e9),
                score.reason()
            ),
        };
        Some(BeaconFinding {
            key: node.key.clone(),
            kind,
            score,
            checkins: eval.bins_total,
            connections: eval.connections,
            first_seen: eval.first_seen.unwrap_or(node.pair.last_seen),
            last_seen: node.pair.last_seen,
            band,
            reason,
            histogram: eval.histogram,
            bin_secs: eval.bin_secs,
        })
    }

    /// `[now − L, now]`, `L = clamp(now − epoch, min_observation, window)`.
    pub(super) fn observation(&self, now: Timestamp) -> Window {
        let seen = now.since(self.epoch).as_nanos();
        let len = seen.max(self.cfg.min_observation.0).min(self.cfg.window.0);
        Window::new(Timestamp(now.0.saturating_sub(len)), now)
    }
}
