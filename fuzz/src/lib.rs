//! Helpers shared by the fuzz targets (`fuzz_targets/*.rs`), so that each target stays a
//! few lines: they turn the fuzzer's bytes into a sequence of calls on c2tap's parsers,
//! the way the workers make them. Input formats are documented per helper; `seeds.py`
//! writes seed inputs in these formats from `pcaps/` and the shared corpus.

use c2tap::decode::Decoder;
use c2tap::flow::{Direction, TcpConn, TcpFlags};
use c2tap::flow::Transport;
use c2tap::proto::dns::{DnsConfig, DnsPacket, DnsState, Message};
use c2tap::proto::http::{HttpCounters, HttpState, Outcome};
use c2tap::proto::quic::{KeyVersion, QuicCounters, QuicState, seal_client_initial};
use c2tap::proto::tls::{ClientHelloStream, TlsCounters};
use c2tap::time::Timestamp;

/// Link types the decoder target cycles through (first byte of a record, modulo).
pub const LINKTYPES: [u32; 15] = [
    1, 0, 108, 101, 12, 14, 228, 229, 113, 276, 9, 50, 239, 127, 105,
];

/// The fuzz input as records: a tag byte, a 16-bit big-endian length, then that many
/// bytes (fewer when the input ends first). A seed of one record is `[tag, len, bytes]`.
pub fn records(mut data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (&tag, rest) = data.split_first()?;
        let len = match rest {
            [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
            _ => rest.len(),
        };
        let body = rest.get(2..).unwrap_or_default();
        let (rec, tail) = body.split_at(len.min(body.len()));
        data = tail;
        Some((tag, rec))
    })
}

fn ts(i: usize) -> Timestamp {
    Timestamp::from_millis(i64::try_from(i).unwrap_or(0).saturating_mul(10))
}

/// Decoder: each record is a frame; its tag picks the link type from [`LINKTYPES`].
/// Frames share one decoder, so fragments of one datagram can meet.
pub fn decode_frames(data: &[u8]) {
    let mut d = Decoder::default();
    for (i, (tag, frame)) in records(data).enumerate() {
        let lt = LINKTYPES[usize::from(tag) % LINKTYPES.len()];
        let _ = d.decode(lt, ts(i), frame);
    }
    d.expire_fragments(ts(usize::MAX));
    d.flush_fragments();
}

/// DNS: each record is one message (tag bit 0: from the server side, bit 1: TCP). Every
/// question, record and RDATA of it is walked, then it goes through the transaction table.
pub fn dns_messages(data: &[u8]) {
    let mut state = DnsState::new(DnsConfig::default());
    let mut out = Vec::new();
    let (c, s) = (
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.53:53".parse().unwrap(),
    );
    for (i, (tag, msg)) in records(data).enumerate() {
        let _ = c2tap::proto::dns::probe(msg);
        if let Ok(m) = Message::parse(msg) {
            let _ = m.questions().count();
            m.questions().flatten().for_each(|q| drop(q.name.text()));
            m.records()
                .flatten()
                .for_each(|r| drop((r.name.text(), r.data().map(|d| format!("{d:?}")))));
        }
        let (src, dst) = if tag & 1 == 0 { (c, s) } else { (s, c) };
        let transport = if tag & 2 == 0 {
            Transport::Udp
        } else {
            Transport::Tcp
        };
        let pkt = DnsPacket {
            flow_id: 1,
            transport,
            src,
            dst,
        };
        let _ = state.on_message(&pkt, ts(i), msg, &mut out);
    }
    state.flush_all(&mut out);
}

/// HTTP: each record is the next bytes of one direction (tag bit 0: server→client);
/// unread bytes are kept and passed again, as the worker does. Tag bit 1 on a record
/// declares a capture hole of `tag >> 2` bytes before it.
pub fn http_streams(data: &[u8]) {
    let mut st = HttpState::new();
    let mut c = HttpCounters::default();
    let mut bufs: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    for (i, (tag, bytes)) in records(data).enumerate() {
        let dir = usize::from(tag & 1);
        if tag & 2 != 0 {
            bufs[dir].clear();
            let gap = u64::from(tag >> 2);
            if dir == 0 {
                st.request_gap(gap, &mut c)
            } else {
                st.response_gap(gap, &mut c)
            }
        }
        bufs[dir].extend_from_slice(bytes);
        let feed = if dir == 0 {
            st.feed_request(&bufs[dir], ts(i), &mut c)
        } else {
            st.feed_response(&bufs[dir], &mut c)
        };
        assert!(feed.consumed <= bufs[dir].len(), "consumed more than given");
        bufs[dir].drain(..feed.consumed);
        if feed.outcome != Outcome::NeedMore {
            bufs[dir].clear();
        }
        let _ = (
            st.take_events().count(),
            st.first_request(),
            st.tunnel_start(),
        );
    }
    st.flush(&mut c);
}

/// TLS: the first byte is a chunk size (0: everything at once), the rest one
/// client→server stream: read whole by `parse_client_hello` (as a handshake message, and
/// past a 5-byte record header) and fed in chunks to a `ClientHelloStream`.
pub fn tls_stream(data: &[u8]) {
    let Some((&step, stream)) = data.split_first() else {
        return;
    };
    let _ = c2tap::proto::handshake::parse_client_hello(stream);
    let _ = c2tap::proto::handshake::parse_client_hello(stream.get(5..).unwrap_or_default());
    let mut s = ClientHelloStream::new();
    let mut c = TlsCounters::default();
    for chunk in stream.chunks(if step == 0 {
        stream.len().max(1)
    } else {
        usize::from(step)
    }) {
        let _ = s.feed(chunk, &mut c);
    }
    let _ = s.finish(&mut c);
}

/// The RFC 9001 §A.1 example DCID, used for sealed Initials.
const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

/// QUIC: each record is one datagram (tag bit 0: from the server). With tag bit 1 the
/// record is CRYPTO/PADDING/... frames that are first sealed into a client Initial (v1,
/// v2 with bit 2, Google's Q050 with bit 3: Google frame types and a CHLO), so the fuzzer
/// reaches the frame walk, the CRYPTO reassembly and the hello parsers behind the AEAD.
pub fn quic_datagrams(data: &[u8]) {
    let mut st = QuicState::new();
    let mut c = QuicCounters::default();
    for (i, (tag, bytes)) in records(data).enumerate() {
        let sealed;
        let dgram = if tag & 2 != 0 {
            let v = if tag & 8 != 0 {
                KeyVersion::Q050
            } else if tag & 4 == 0 {
                KeyVersion::V1
            } else {
                KeyVersion::V2
            };
            let pn = u32::try_from(i).unwrap_or(0);
            sealed =
                seal_client_initial(v, &DCID, &[1, 2, 3, 4], pn, bytes, 1200).unwrap_or_default();
            &sealed[..]
        } else {
            bytes
        };
        let _ = QuicState::probe(dgram);
        let _ = st.on_datagram(dgram, tag & 1 == 0, &mut c);
        let _ = st.retained_bytes();
    }
}

/// TCP reassembly: each record is a segment: tag bit 7 direction (from B), bits 0-4 the
/// TCP flags (FIN SYN RST PSH ACK), bit 5 "the parser reads everything readable", bit 6
/// "flush"; the record body is seq (4 bytes), ack (4 bytes), payload.
pub fn tcp_segments(data: &[u8]) {
    let mut conn = TcpConn::new();
    for (tag, rec) in records(data) {
        let dir = if tag & 0x80 == 0 {
            Direction::FromA
        } else {
            Direction::FromB
        };
        let word = |at: usize| {
            rec.get(at..at + 4)
                .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        let payload = rec.get(8..).unwrap_or_default();
        let _ = conn.on_segment(dir, word(0), word(4), TcpFlags(tag & 0x1f), payload);
        let s = conn.stream_mut(dir);
        if tag & 0x20 != 0 {
            let n = s.readable().len();
            s.consume(n);
        }
        let _ = (
            s.gap_at(),
            s.last_hole(),
            s.held_bytes(),
            s.stream_offset(),
            conn.memory_bytes(),
        );
        if tag & 0x40 != 0 {
            let _ = conn.flush();
        }
    }
    let _ = conn.flush();
}

/// Replay: the input is a capture file (pcap or pcapng), read to its end or first error.
pub fn replay(data: &[u8]) {
    use c2tap::capture::{Next, Source};
    let reader = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(mut r) =
        c2tap::capture::Replay::from_reader("fuzz", reader, c2tap::decode::LinkType::is_supported)
    else {
        return;
    };
    while let Ok(Next::Frame(f)) = r.next_frame() {
        assert!(f.data.len() <= f.origlen as usize, "origlen below caplen");
    }
    let _ = r.stats();
}

/// Sigma: the input is YAML text; whatever loads is compiled into an engine.
pub fn sigma(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let set = c2tap::detect::sigma::load_str(text, "fuzz.yml", "fuzz");
    let _ = c2tap::detect::sigma::engine::Engine::new(&set.rules);
}
