//! The built-in rule set: every file of `rules/`, compiled into the binary and used when
//! no `-r` is given. Listed by hand so that a new file is a reviewed change.

macro_rules! rules {
    ($($name:literal),* $(,)?) => {
        /// (file name, YAML text) of each built-in rule file.
        pub const RULES: &[(&str, &str)] = &[
            $(($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/", $name))),)*
        ];
    };
}

rules![
    "beacons.yml",
    "cloudflare_quick_tunnel.yml",
    "cloudflare_tunnel.yml",
    "cloudflare_tunnel_port.yml",
    "correlations.yml",
    "dev_tunnels.yml",
    "dns_tunnels.yml",
    "ngrok.yml",
    "powershell_web_useragent.yml",
    "quick_assist.yml",
    "reverse_tunnel_services.yml",
];
