//! mDNS/DNS-SD announcement of the host as `_nvstream._tcp` (what Moonlight clients browse for), on every
//! interface including loopback, pointing at the nvhttp HTTP port.

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};

/// The service type Moonlight browses.
pub const SERVICE_TYPE: &str = "_nvstream._tcp.local.";

/// A running announcement; dropping it withdraws the service.
pub struct Announcer {
    daemon: ServiceDaemon,
    fullname: String,
}

impl Announcer {
    /// Announces `hostname` on `http_port`. The instance name carries a piece of the host's uniqueid so
    /// that several hosts on one machine do not collide.
    pub fn start(hostname: &str, unique_id: &str, http_port: u16) -> anyhow::Result<Self> {
        let daemon = ServiceDaemon::new()?;
        daemon.enable_interface(IfKind::LoopbackV4)?;
        let label: String = hostname.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(40).collect();
        let label = if label.is_empty() { "lumen".to_owned() } else { label };
        let tag: String = unique_id.chars().filter(char::is_ascii_alphanumeric).take(8).collect();
        let instance = format!("{label}-{}", tag.to_ascii_lowercase());
        let host = format!("{instance}.local.");
        let info = ServiceInfo::new(
            SERVICE_TYPE,
            &instance,
            &host,
            "",
            http_port,
            None::<std::collections::HashMap<String, String>>,
        )?
        .enable_addr_auto();
        let fullname = info.get_fullname().to_owned();
        daemon.register(info)?;
        tracing::info!(instance, port = http_port, "announcing {SERVICE_TYPE} over mDNS");
        Ok(Announcer { daemon, fullname })
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        if let Ok(rx) = self.daemon.unregister(&self.fullname) {
            let _ = rx.recv_timeout(std::time::Duration::from_millis(500));
        }
        let _ = self.daemon.shutdown();
    }
}
