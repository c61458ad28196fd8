//! Test certificates made with the `openssl` command: a CA that signs a server and a
//! client certificate, and a second CA that signs nothing (for "unknown CA" cases).

use std::path::Path;
use std::process::Command;

/// Runs `openssl` with whitespace-separated arguments in `dir`.
pub fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args.split_whitespace())
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes into `d`: `ca.pem` (and `.key`) signing `server.pem` (localhost, 127.0.0.1)
/// and `client.pem` (with their keys); `other-ca.pem` signs nothing we use.
pub fn make(d: &Path) {
    for ca in ["ca", "other-ca"] {
        openssl(
            d,
            &format!(
                "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
                 -subj /CN=c2tap-test-{ca} -keyout {ca}.key -out {ca}.pem"
            ),
        );
    }
    std::fs::write(
        d.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(
        d.join("client.ext"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    for leaf in ["server", "client"] {
        openssl(
            d,
            &format!(
                "req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN={leaf} \
                 -keyout {leaf}.key -out {leaf}.csr"
            ),
        );
        openssl(
            d,
            &format!(
                "x509 -req -in {leaf}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
                 -extfile {leaf}.ext -out {leaf}.pem"
            ),
        );
    }
}
