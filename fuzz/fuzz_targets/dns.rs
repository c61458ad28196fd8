#![no_main]
// See c2tap_fuzz::dns_messages for the input format.
libfuzzer_sys::fuzz_target!(|data: &[u8]| c2tap_fuzz::dns_messages(data));
