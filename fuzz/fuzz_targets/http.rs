#![no_main]
// See c2tap_fuzz::http_streams for the input format.
libfuzzer_sys::fuzz_target!(|data: &[u8]| c2tap_fuzz::http_streams(data));
