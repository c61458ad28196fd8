//! `c2tap live --user NAME`: started as root outside systemd, c2tap opens the capture and
//! then becomes NAME for good, as Suricata's `--user` and tcpdump's `-Z` do.
//!
//! Where it sits: the binary calls [`Target::resolve`] before opening anything (a typo
//! in the name must not touch the interface), opens the capture as root, calls
//! [`Target::switch`], and only then opens the output file and starts the pipeline. The
//! output is opened *after* the switch on purpose: the file is created by the user who
//! will later reopen it on SIGHUP (logrotate) and rotate it by size, so reopening can
//! never fail on permissions the way it would if root had created it. The price: the
//! output's directory must be writable by NAME (`/var/log/c2tap` owned by NAME).
//!
//! Order of the calls: `setgroups` (drop root's supplementary groups, which need root),
//! `setgid` (still root, so allowed), `setuid` last (after it nothing else is allowed).
//! glibc applies `setuid`/`setgid` to every thread of the process, and the switch
//! happens before the pipeline starts its threads anyway. A root → non-root `setuid`
//! clears the permitted, effective and ambient capability sets: the open packet socket
//! keeps working (the kernel checked CAP_NET_RAW when it was created), nothing else
//! privileged is kept. [`Target::switch`] checks all of this afterwards and refuses to
//! go on if any of it did not happen.
//!
//! Under systemd the unit's `DynamicUser=yes` plus ambient CAP_NET_RAW/CAP_NET_ADMIN do
//! the same job without root ever running c2tap; `--user` is for the other cases.
//! May import: `libc`, `std`. Used by `main.rs` only.

use std::ffi::{CStr, CString};
use std::io;

/// Why resolving or switching to a user failed.
#[derive(Debug, thiserror::Error)]
pub enum PrivDropError {
    #[error("--user {0:?}: no such user")]
    NoSuchUser(String),
    #[error("--user {0:?}: not a valid user name")]
    BadName(String),
    #[error("--user {name:?}: looking the user up failed: {source}")]
    Lookup { name: String, source: io::Error },
    #[error("--user {name:?} is uid 0: c2tap would keep running as root")]
    TargetIsRoot { name: String },
    #[error("--user {name:?}: switching user needs root (running as uid {uid})")]
    NotRoot { name: String, uid: u32 },
    #[error("--user {name:?}: {call} failed: {source}")]
    Call {
        name: String,
        call: &'static str,
        source: io::Error,
    },
    #[error("--user {name:?}: still privileged after the switch ({what}); refusing to run")]
    StillPrivileged { name: String, what: String },
}

/// The user to become, looked up while still root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// `getpwnam_r` buffer: glibc's `sysconf(_SC_GETPW_R_SIZE_MAX)` answers 1024; an entry
/// with a long GECOS or many NSS fields may need more, so start there and double on
/// ERANGE up to 1 MiB, past which the entry is not a plausible passwd line.
const PW_BUF_START: usize = 1024;
const PW_BUF_MAX: usize = 1 << 20;

impl Target {
    /// Looks `name` up in the user database (NSS: /etc/passwd, LDAP, ...). A numeric name
    /// that is not a user is not taken as a uid: `--user 65534` must name a real entry
    /// so that its group is known too. A user with uid 0 is refused here, before anything
    /// is opened: switching to it would drop nothing.
    pub fn resolve(name: &str) -> Result<Target, PrivDropError> {
        let cname = CString::new(name).map_err(|_| PrivDropError::BadName(name.to_owned()))?;
        if name.is_empty() {
            return Err(PrivDropError::BadName(name.to_owned()));
        }
        let mut buf: Vec<libc::c_char> = vec![0; PW_BUF_START];
        loop {
            // SAFETY: all-zero is a valid `passwd` (null pointers, zero ids); it is only
            // read after getpwnam_r filled it.
            let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            // SAFETY: every pointer is valid for the call; `buf.len()` is its real size;
            // the strings in `pwd` point into `buf`, which outlives their use below.
            let rc = unsafe {
                libc::getpwnam_r(
                    cname.as_ptr(),
                    &mut pwd,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                )
            };
            if rc == libc::ERANGE && buf.len() < PW_BUF_MAX {
                buf.resize(buf.len().saturating_mul(2), 0);
                continue;
            }
            if rc != 0 {
                return Err(PrivDropError::Lookup {
                    name: name.to_owned(),
                    source: io::Error::from_raw_os_error(rc),
                });
            }
            if result.is_null() {
                return Err(PrivDropError::NoSuchUser(name.to_owned()));
            }
            let pw_name = if pwd.pw_name.is_null() {
                name.to_owned()
            } else {
                // SAFETY: getpwnam_r succeeded: pw_name is a NUL-terminated string in `buf`.
                unsafe { CStr::from_ptr(pwd.pw_name) }
                    .to_string_lossy()
                    .into_owned()
            };
            if pwd.pw_uid == 0 {
                return Err(PrivDropError::TargetIsRoot { name: pw_name });
            }
            return Ok(Target {
                name: pw_name,
                uid: pwd.pw_uid,
                gid: pwd.pw_gid,
            });
        }
    }

    /// Becomes this user for the rest of the process's life. Already being this user
    /// (not root) is fine: nothing to do. Being some other non-root user is an error.
    pub fn switch(&self) -> Result<(), PrivDropError> {
        if self.uid == 0 {
            return Err(PrivDropError::TargetIsRoot {
                name: self.name.clone(),
            });
        }
        let (uid, euid) = ids();
        if uid != 0 && euid != 0 {
            if uid == self.uid && euid == self.uid {
                return Ok(());
            }
            return Err(PrivDropError::NotRoot {
                name: self.name.clone(),
                uid,
            });
        }
        let groups = [self.gid as libc::gid_t];
        // SAFETY: one gid, read from a valid array of length 1.
        self.check("setgroups", unsafe { libc::setgroups(1, groups.as_ptr()) })?;
        // SAFETY: plain syscalls on integers.
        self.check("setgid", unsafe { libc::setgid(self.gid) })?;
        // SAFETY: as above.
        self.check("setuid", unsafe { libc::setuid(self.uid) })?;
        self.verify()
    }

    fn check(&self, call: &'static str, rc: libc::c_int) -> Result<(), PrivDropError> {
        if rc == 0 {
            Ok(())
        } else {
            Err(PrivDropError::Call {
                name: self.name.clone(),
                call,
                source: io::Error::last_os_error(),
            })
        }
    }

    /// After the switch: real, effective and saved ids are the target's, root cannot be
    /// regained, and no capability is left.
    fn verify(&self) -> Result<(), PrivDropError> {
        let fail = |what: String| PrivDropError::StillPrivileged {
            name: self.name.clone(),
            what,
        };
        let (mut ruid, mut euid, mut suid) = (0, 0, 0);
        // SAFETY: three valid out-pointers.
        unsafe { libc::getresuid(&mut ruid, &mut euid, &mut suid) };
        if [ruid, euid, suid] != [self.uid; 3] {
            return Err(fail(format!("uids {ruid}/{euid}/{suid}")));
        }
        let (mut rgid, mut egid, mut sgid) = (0, 0, 0);
        // SAFETY: as above.
        unsafe { libc::getresgid(&mut rgid, &mut egid, &mut sgid) };
        if [rgid, egid, sgid] != [self.gid; 3] {
            return Err(fail(format!("gids {rgid}/{egid}/{sgid}")));
        }
        // SAFETY: plain syscall; it must fail now.
        if unsafe { libc::setuid(0) } == 0 {
            return Err(fail("setuid(0) succeeded".into()));
        }
        if let Some(caps) = leftover_capabilities() {
            return Err(fail(caps));
        }
        Ok(())
    }
}

fn ids() -> (u32, u32) {
    // SAFETY: these calls cannot fail.
    unsafe { (libc::getuid(), libc::geteuid()) }
}

/// The capability sets of this thread that are not empty, from /proc (no libcap). `None`
/// when all are empty, or when /proc cannot be read (then the uid checks stand alone).
fn leftover_capabilities() -> Option<String> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    let left: Vec<&str> = status
        .lines()
        .filter(|l| {
            ["CapInh:", "CapPrm:", "CapEff:", "CapAmb:"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|v| v.chars().any(|c| c != '0'))
        })
        .collect();
    (!left.is_empty()).then(|| left.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_refused() {
        assert!(matches!(
            Target::resolve("root"),
            Err(PrivDropError::TargetIsRoot { .. })
        ));
        let fake = Target {
            name: "toor".into(),
            uid: 0,
            gid: 0,
        };
        assert!(matches!(
            fake.switch(),
            Err(PrivDropError::TargetIsRoot { .. })
        ));
    }

    #[test]
    fn unknown_and_bad_names_are_refused() {
        assert!(matches!(
            Target::resolve("c2tap-no-such-user-xyz"),
            Err(PrivDropError::NoSuchUser(_))
        ));
        assert!(matches!(
            Target::resolve("a\0b"),
            Err(PrivDropError::BadName(_))
        ));
        assert!(matches!(
            Target::resolve(""),
            Err(PrivDropError::BadName(_))
        ));
    }

    #[test]
    fn nobody_is_found_with_its_group() {
        // Debian and most distributions have nobody; skip where they do not.
        let Ok(t) = Target::resolve("nobody") else {
            eprintln!("skipping: no user nobody");
            return;
        };
        assert_eq!(t.name, "nobody");
        assert_ne!(t.uid, 0);
    }
}
