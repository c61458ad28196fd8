#![no_main]
// See c2tap_fuzz::quic_datagrams for the input format.
libfuzzer_sys::fuzz_target!(|data: &[u8]| c2tap_fuzz::quic_datagrams(data));
