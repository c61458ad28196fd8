#![no_main]
// See c2tap_fuzz::tls_stream for the input format.
libfuzzer_sys::fuzz_target!(|data: &[u8]| c2tap_fuzz::tls_stream(data));
