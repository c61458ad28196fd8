//! Issue 14, DNS seen from the middle: when a transaction's response is the first packet
//! of its flow (the capture began mid-transaction, or the query took another path), the
//! NetworkConnect still names the client as the source: the port-53 side is the server.

mod common;

use common::*;

#[test]
fn response_seen_first_names_the_client_as_source() {
    let dir = tempfile::tempdir().unwrap();
    let client = [192, 168, 1, 20];
    let resolver = [192, 168, 1, 1];
    // Only the answer of the first transaction was captured; the second is whole.
    let frames = vec![
        (
            1_767_225_600,
            udp_frame(
                resolver,
                53,
                client,
                51000,
                &dns_answer_a(0x1111, "a.example", [192, 0, 2, 1], 60),
            ),
        ),
        (
            1_767_225_601,
            udp_frame(
                client,
                51001,
                resolver,
                53,
                &dns_query(0x2222, "b.example", 1),
            ),
        ),
        (
            1_767_225_601,
            udp_frame(
                resolver,
                53,
                client,
                51001,
                &dns_answer_a(0x2222, "b.example", [192, 0, 2, 2], 60),
            ),
        ),
    ];
    let pcap = write(dir.path(), "dns-middle.pcap", &pcap_of(&frames));
    let out = run(c2tap().args(["replay", "--events", "all"]).arg(&pcap));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = events(&out.stdout);
    let connects: Vec<_> = ev.iter().filter(|e| e["EventID"] == 3).collect();
    assert_eq!(connects.len(), 2, "{ev:#?}");
    for c in &connects {
        assert_eq!(c["SourceIp"], "192.168.1.20", "{c:#}");
        assert_eq!(c["DestinationIp"], "192.168.1.1", "{c:#}");
        assert_eq!(c["DestinationPort"], 53, "{c:#}");
        assert_eq!(c["AppProtocol"], "dns", "{c:#}");
    }
    let mut ports: Vec<u64> = connects
        .iter()
        .map(|c| c["SourcePort"].as_u64().unwrap())
        .collect();
    ports.sort();
    assert_eq!(ports, [51000, 51001]);
    // The lone answer is still its question's event, from the client's side too.
    let lone = ev
        .iter()
        .find(|e| e["EventID"] == 22 && e["QueryName"] == "a.example")
        .unwrap_or_else(|| panic!("{ev:#?}"));
    assert_eq!(lone["SourceIp"], "192.168.1.20", "{lone:#}");
    assert_eq!(lone["SourcePort"], 51000, "{lone:#}");
}
