//! The ready block: what the host prints on stdout once every server listens — the addresses to type into
//! Moonlight, the ports, and the pairing steps with admin commands that work as typed. Log lines go to
//! stderr and the block comes after the startup lines, so it is what a newcomer sees last.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::ports::{Ports, DEFAULT_BASE};

/// What the block tells.
#[derive(Debug, Clone)]
pub struct Ready {
    pub hostname: String,
    pub ports: Ports,
    /// The listen address (`0.0.0.0`: every IPv4 address of the machine).
    pub bind: IpAddr,
    /// Whether the host is announced over mDNS (Moonlight then lists it by itself).
    pub mdns: bool,
    pub state_dir: PathBuf,
    /// Names of the configured apps (besides "Desktop").
    pub apps: Vec<String>,
    /// Where the admin web page listens, if it does.
    pub admin_page: Option<std::net::SocketAddr>,
}

impl Ready {
    /// The block for `addrs` (the addresses a client types) and `admin` (how to call `lumen-session` here);
    /// `notes` are extra lines of the embedding binary.
    pub fn block(&self, addrs: &[IpAddr], admin: &str, notes: &[String]) -> String {
        let rule = "=".repeat(100);
        let mut b = vec![format!("{:=^100}", " lumen is ready ")];
        b.push("Stream this machine with Moonlight (moonlight-stream.org) from a device on the same network:".into());
        let typed: Vec<String> = addrs.iter().map(|a| self.typed_address(*a)).collect();
        match (self.mdns, typed.is_empty()) {
            (true, false) => b.push(format!(
                "  1. Moonlight lists this host by itself as \"{}\" (mDNS). If not, add it by address:",
                self.hostname
            )),
            (false, false) => b.push("  1. In Moonlight, add this host by address:".into()),
            (_, true) => b.push(format!(
                "  1. This machine has no LAN address (listening on {}); a client on this machine adds:",
                self.bind
            )),
        }
        if typed.is_empty() {
            b.push(format!("       {}", self.typed_address(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))));
        }
        b.extend(typed.iter().map(|a| format!("       {a}")));
        b.push("  2. Select the host: Moonlight shows a 4-digit PIN.".into());
        b.push("  3. Enter that PIN on this machine, in another terminal (here for the PIN 1234):".into());
        b.push(format!("       {admin} pin 1234"));
        let apps = if self.apps.is_empty() { String::new() } else { format!(" (or an app: {})", self.apps.join(", ")) };
        b.push(format!("  4. Select \"Desktop\"{apps} to start streaming."));
        b.push(format!("Paired clients:  {admin} clients"));
        b.push(format!("Remove a client: {admin} unpair ID"));
        b.push(format!("Host state:      {admin} status"));
        if let Some(a) = self.admin_page {
            b.push(format!("Admin page:      https://{a}/ (set its password first: {admin} admin-password)"));
        }
        let p = self.ports;
        b.push(format!(
            "Ports: TCP {} {} {}, UDP {} {} {} (a firewall must let them through)",
            p.https, p.http, p.rtsp, p.video, p.control, p.audio
        ));
        b.extend(notes.iter().cloned());
        b.push("Logs: above, on stderr (RUST_LOG=debug for more, see the README). Stop: Ctrl-C.".into());
        b.push(rule);
        b.join("\n") + "\n"
    }

    /// `addr` as typed into Moonlight's "add host" box (with the HTTP port when it is not the default).
    fn typed_address(&self, addr: IpAddr) -> String {
        match (addr, self.ports.http) {
            (a, DEFAULT_BASE) => a.to_string(),
            (IpAddr::V4(a), port) => format!("{a}:{port}"),
            (IpAddr::V6(a), port) => format!("[{a}]:{port}"),
        }
    }

    /// Prints the block (with this machine's addresses and admin command) on stdout.
    pub fn print(&self, notes: &[String]) {
        let text = self.block(&lan_addresses(self.bind), &admin_command(&self.state_dir), notes);
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// The addresses clients on the LAN reach this host by, for a host listening on `bind`: every address of an
/// interface that is up, without loopback and link-local ones (IPv4 first); `0.0.0.0` means the IPv4 ones,
/// `::` both families (Linux's dual-stack default); a specific address is itself.
pub fn lan_addresses(bind: IpAddr) -> Vec<IpAddr> {
    if !bind.is_unspecified() {
        return vec![bind];
    }
    let ifaces = match if_addrs::get_if_addrs() {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the network interfaces");
            return Vec::new();
        }
    };
    let mut addrs: Vec<IpAddr> = ifaces
        .iter()
        .filter(|i| !i.is_loopback() && !i.is_link_local() && i.oper_status != if_addrs::IfOperStatus::Down)
        .map(|i| i.ip())
        .filter(|ip| ip.is_ipv4() || bind.is_ipv6())
        .collect();
    addrs.sort_by_key(|a| (a.is_ipv6(), *a));
    addrs.dedup();
    addrs
}

/// How to call `lumen-session` from a shell here: `lumen-session` when that name on `PATH` is this binary
/// (`scripts/run-host.sh` links it), else the binary's full path; with `--state-dir DIR` when the state
/// dir is not the default one.
pub fn admin_command(state_dir: &Path) -> String {
    let exe = std::env::current_exe().ok();
    let canonical = |p: &Path| std::fs::canonicalize(p).ok();
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("lumen-session"))
            .find(|p| p.is_file())
            .and_then(|p| canonical(&p))
            .is_some_and(|p| Some(p) == exe.as_deref().and_then(canonical))
    });
    let mut cmd = match (&exe, on_path) {
        (Some(exe), false) => shell_quote(&exe.to_string_lossy()),
        _ => "lumen-session".to_string(),
    };
    if canonical(state_dir) != canonical(&crate::cli::default_state_dir()) {
        cmd.push_str(" --state-dir ");
        cmd.push_str(&shell_quote(&state_dir.to_string_lossy()));
    }
    cmd
}

/// `s` as one shell word.
fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:=@%,".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(base: u16, mdns: bool) -> Ready {
        Ready {
            admin_page: None,
            hostname: "box".into(),
            ports: Ports::from_base(base).unwrap(),
            bind: "0.0.0.0".parse().unwrap(),
            mdns,
            state_dir: "/s".into(),
            apps: vec!["foot".into()],
        }
    }

    #[test]
    fn the_block_lists_addresses_ports_and_the_pin_command() {
        let addrs = ["192.168.1.20".parse().unwrap(), "fd00::5".parse().unwrap()];
        let b = ready(DEFAULT_BASE, true).block(&addrs, "lumen-session", &["Apps' output: /l".into()]);
        assert!(b.contains("as \"box\" (mDNS)"));
        assert!(b.contains("\n       192.168.1.20\n       fd00::5\n"));
        assert!(b.contains("\n       lumen-session pin 1234\n"));
        assert!(b.contains("Ports: TCP 47984 47989 48010, UDP 47998 47999 48000"));
        assert!(b.contains("or an app: foot"));
        assert!(b.contains("\nApps' output: /l\n"));
        assert!(b.lines().all(|l| l.chars().count() <= 100), "{b}");
        assert!(b.ends_with(&format!("{}\n", "=".repeat(100))));
    }

    #[test]
    fn other_ports_and_no_address() {
        let b = ready(40000, false).block(&["10.0.0.2".parse().unwrap(), "fd00::5".parse().unwrap()], "x", &[]);
        assert!(b.contains("add this host by address:\n       10.0.0.2:40000\n       [fd00::5]:40000\n"));
        let b = ready(DEFAULT_BASE, true).block(&[], "x", &[]);
        assert!(b.contains("no LAN address") && b.contains("\n       127.0.0.1\n"));
    }

    #[test]
    fn specific_binds_are_their_own_address_and_quoting_is_for_the_shell() {
        assert_eq!(lan_addresses("10.1.2.3".parse().unwrap()), vec!["10.1.2.3".parse::<IpAddr>().unwrap()]);
        assert!(lan_addresses("0.0.0.0".parse().unwrap()).iter().all(|a| a.is_ipv4() && !a.is_loopback()));
        assert_eq!(shell_quote("/usr/bin/lumen-session"), "/usr/bin/lumen-session");
        assert_eq!(shell_quote("/tmp/a b/it's"), r"'/tmp/a b/it'\''s'");
    }
}
