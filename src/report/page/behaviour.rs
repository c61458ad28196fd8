//! The beacon (110) and DNS tunnel (111) sections: one row per alert, the highest
//! ranks first, with score bars and the event's histogram when it has one.

use super::super::aggregate::{Candidate, Candidates};
use super::super::html::{Cell, end_section, note, section, table};
use super::super::svg;

fn facts(c: &Candidate, name: &str) -> String {
    c.facts
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("-".to_string(), |(_, v)| v.clone())
}

fn histogram_cell(c: &Candidate, what: &str) -> Cell {
    match &c.histogram {
        Some(h) => {
            let mut html = svg::histogram(h, what);
            if c.histogram_truncated {
                html.push_str("<br>(first bins only)");
            }
            Cell::Html(html)
        }
        None => Cell::text("-"),
    }
}

fn dropped_note(s: &mut String, c: &Candidates, what: &str) {
    if c.dropped > 0 {
        note(
            s,
            &format!(
                "{} {what} alerts in all; the {} highest are shown, {} were left out.",
                c.seen,
                c.rows.len(),
                c.dropped
            ),
        );
    }
}

pub(super) fn beacons(s: &mut String, b: &Candidates) {
    section(s, "beacons", "Beacon candidates (EventID 110)");
    if b.rows.is_empty() {
        note(s, "No Beacon event in the input.");
    } else {
        note(
            s,
            "Subscores in [0, 1], averaged into the score; the red mark on the score bar is the \
             alert threshold (0.9 by default).",
        );
        let rows = b
            .sorted()
            .into_iter()
            .map(|c| {
                vec![
                    Cell::text(&c.client),
                    Cell::text(&c.server),
                    Cell::text(&c.server_ip),
                    Cell::text(c.port.map_or("-".into(), |p| p.to_string())),
                    Cell::text(&c.kind),
                    Cell::num(svg::format_value(c.rank)),
                    Cell::Html(svg::bars(&c.figures, false)),
                    Cell::num(facts(c, "check-ins")),
                    Cell::num(facts(c, "connections")),
                    Cell::num(facts(c, "median interval s")),
                    histogram_cell(c, "check-ins"),
                    Cell::text(&c.first_seen),
                    Cell::text(&c.last_seen),
                    Cell::text(&c.reason),
                ]
            })
            .collect();
        table(
            s,
            "beacon-rows",
            &[
                "client",
                "server",
                "server IP",
                "port",
                "kind",
                "score",
                "subscores",
                "check-ins",
                "connections",
                "median interval s",
                "check-in histogram",
                "first seen",
                "last seen",
                "reason",
            ],
            rows,
        );
        dropped_note(s, b, "Beacon");
    }
    end_section(s);
}

pub(super) fn tunnels(s: &mut String, t: &Candidates) {
    section(s, "dns-tunnels", "DNS tunnel candidates (EventID 111)");
    if t.rows.is_empty() {
        note(s, "No DnsTunnel event in the input.");
    } else {
        note(
            s,
            "Each bar is a figure over the threshold that makes a tunnel (the red mark: 50 \
             distinct subdomains, 3.2 bits/byte of label entropy, 20 NXDOMAIN domains for a DGA; \
             odd types is the share of TXT, NULL, CNAME and MX queries, a fraction); a bar ends \
             at twice its threshold, the number beside it is exact.",
        );
        let rows = t
            .sorted()
            .into_iter()
            .map(|c| {
                let figure = |name: &str| {
                    c.figures
                        .iter()
                        .find(|f| f.0 == name)
                        .map_or("-".to_string(), |f| svg::format_value(f.1))
                };
                vec![
                    Cell::text(&c.client),
                    Cell::text(&c.server),
                    Cell::text(&c.kind),
                    Cell::num(figure("subdomains")),
                    Cell::Html(svg::bars(&c.figures, true)),
                    Cell::num(facts(c, "queries")),
                    Cell::num(facts(c, "mean name length")),
                    Cell::num(facts(c, "name bytes/min")),
                    histogram_cell(c, "queries"),
                    Cell::text(&c.first_seen),
                    Cell::text(&c.last_seen),
                    Cell::text(&c.reason),
                ]
            })
            .collect();
        table(
            s,
            "tunnel-rows",
            &[
                "client",
                "domain",
                "kind",
                "distinct subdomains",
                "figures",
                "queries",
                "mean name length",
                "name bytes/min",
                "query histogram",
                "first seen",
                "last seen",
                "reason",
            ],
            rows,
        );
        dropped_note(s, t, "DnsTunnel");
    }
    end_section(s);
}
