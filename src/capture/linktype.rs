//! Link-type numbers: names for messages, and the DLT → LINKTYPE mapping.
//!
//! Frames travel with the LINKTYPE_* number of the pcap/pcapng file formats
//! (<https://www.tcpdump.org/linktypes.html>). libpcap's `pcap_datalink()` returns the
//! platform's DLT_* value instead, which differs for a few types (DLT_RAW is 12 on Linux,
//! 14 on OpenBSD; LINKTYPE_RAW is 101). Old libpcap versions also wrote those DLT values
//! into pcap files, so replay applies the unambiguous part of the mapping too, as
//! Wireshark does.

/// LINKTYPE_RAW: the frame starts with an IPv4 or IPv6 header.
pub const LINKTYPE_RAW: u32 = 101;

/// Maps a live capture's DLT_* value to the LINKTYPE_* value the decoder knows
/// (libpcap's `dlt_to_linktype`, for the values that differ between them).
pub fn dlt_to_linktype(dlt: i32) -> u32 {
    match dlt {
        11 => 100,               // DLT_ATM_RFC1483
        12 | 14 => LINKTYPE_RAW, // DLT_RAW (Linux, BSD / OpenBSD)
        15 => 102,               // DLT_SLIP_BSDOS
        16 => 103,               // DLT_PPP_BSDOS
        19 => 106,               // DLT_ATM_CLIP (Linux)
        d => u32::try_from(d).unwrap_or(u32::MAX),
    }
}

/// Link type of a file header or an interface block. Only the raw-IP values old libpcap
/// versions wrote by mistake are mapped; everything else is passed on unchanged.
pub fn file_linktype(raw: u32) -> u32 {
    match raw {
        12 | 14 => LINKTYPE_RAW,
        other => other,
    }
}

/// The LINKTYPE_* name of a number, for error messages.
pub fn linktype_name(linktype: u32) -> &'static str {
    match linktype {
        0 => "NULL",
        1 => "ETHERNET",
        6 => "IEEE802_5",
        8 => "SLIP",
        9 => "PPP",
        10 => "FDDI",
        50 => "PPP_HDLC",
        51 => "PPP_ETHER",
        100 => "ATM_RFC1483",
        101 => "RAW",
        104 => "C_HDLC",
        105 => "IEEE802_11",
        107 => "FRELAY",
        108 => "LOOP",
        113 => "LINUX_SLL",
        117 => "PFLOG",
        119 => "IEEE802_11_PRISM",
        122 => "IP_OVER_FC",
        127 => "IEEE802_11_RADIOTAP",
        147..=162 => USER_NAMES
            .get((linktype - 147) as usize)
            .copied()
            .unwrap_or("USER"),
        163 => "IEEE802_11_AVS",
        187 => "BLUETOOTH_HCI_H4",
        189 => "USB_LINUX",
        192 => "PPI",
        195 => "IEEE802_15_4_WITHFCS",
        201 => "BLUETOOTH_HCI_H4_WITH_PHDR",
        220 => "USB_LINUX_MMAPPED",
        227 => "CAN_SOCKETCAN",
        228 => "IPV4",
        229 => "IPV6",
        239 => "NFLOG",
        240 => "NETANALYZER",
        249 => "USBPCAP",
        252 => "WIRESHARK_UPPER_PDU",
        274 => "ERF",
        276 => "LINUX_SLL2",
        _ => "unknown",
    }
}

const USER_NAMES: [&str; 16] = [
    "USER0", "USER1", "USER2", "USER3", "USER4", "USER5", "USER6", "USER7", "USER8", "USER9",
    "USER10", "USER11", "USER12", "USER13", "USER14", "USER15",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_mapping() {
        assert_eq!(linktype_name(147), "USER0");
        assert_eq!(linktype_name(162), "USER15");
        assert_eq!(linktype_name(276), "LINUX_SLL2");
        assert_eq!(linktype_name(65000), "unknown");
        assert_eq!(dlt_to_linktype(12), 101);
        assert_eq!(dlt_to_linktype(1), 1);
        assert_eq!(dlt_to_linktype(-1), u32::MAX);
        assert_eq!(file_linktype(12), 101);
        assert_eq!(file_linktype(113), 113);
    }
}
