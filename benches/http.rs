//! Head parse cost of a typical browser request, and the streaming state on a
//! keep-alive exchange. `cargo bench --bench http`.

use std::hint::black_box;

use c2tap::proto::http::parse::parse_request_head;
use c2tap::proto::http::{HttpCounters, HttpState, probe};
use c2tap::time::Timestamp;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BROWSER_GET: &[u8] = b"GET /search?q=c2tap&client=firefox-b-d HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Referer: https://www.example.com/\r\n\
Connection: keep-alive\r\n\
Cookie: session=0123456789abcdef; theme=dark; consent=yes\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-User: ?1\r\n\
Priority: u=0, i\r\n\r\n";

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1024\r\n\r\n";

fn heads(c: &mut Criterion) {
    let mut g = c.benchmark_group("http");
    g.throughput(Throughput::Bytes(BROWSER_GET.len() as u64));
    g.bench_function("probe", |b| b.iter(|| probe(black_box(BROWSER_GET))));
    g.bench_function("parse_request_head/browser_get", |b| {
        b.iter(|| parse_request_head(black_box(BROWSER_GET)))
    });
    let mut folded = BROWSER_GET.to_vec();
    folded.splice(20..20, b"\r\n folded".iter().copied());
    g.bench_function("parse_request_head/lenient", |b| {
        b.iter(|| parse_request_head(black_box(&folded)))
    });
    let body = vec![b'x'; 1024];
    let down = [RESPONSE, &body].concat();
    g.throughput(Throughput::Bytes((BROWSER_GET.len() + down.len()) as u64));
    g.bench_function("state/request_response", |b| {
        b.iter(|| {
            let mut counters = HttpCounters::default();
            let mut st = HttpState::new();
            st.feed_request(black_box(BROWSER_GET), Timestamp(0), &mut counters);
            st.feed_response(black_box(&down), &mut counters);
            st.take_events().count()
        })
    });
    g.finish();
}

criterion_group!(benches, heads);
criterion_main!(benches);
