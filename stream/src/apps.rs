//! The app list: a built-in "Desktop" plus apps from the TOML config and `--app CMD`, and their box art
//! (`/appasset`): the configured image, or a generated PNG.
//!
//! Config file format (`--config FILE`):
//! ```toml
//! [[app]]
//! name = "Terminal"
//! cmd = "foot"
//! image = "/usr/share/lumen/terminal.png"   # optional
//! working_dir = "/home/me"                  # optional
//! env = { GDK_SCALE = "2" }                 # optional
//!
//! [pairing]
//! max_failures = 3      # failed attempts before pairing locks
//! lockout_secs = 30     # lock length (doubles per further failure)
//! pin_wait_secs = 60    # how long stage 1 waits for `lumen-session pin`
//! pin_ttl_secs = 120    # how long a PIN armed with nobody waiting (or at start) stays armed
//!
//! [sessions]
//! max_sessions = 4      # clients streaming at once (default: one per CPU core, at least 2)
//! idle_timeout_secs = 3600  # a session nobody streams (its client left without quitting) ends after this
//! per_session_ports = false # true: each further session gets media ports of its own (clients that
//!                           # send no ping payload behind one NAT); default: all share the standard ports
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The id of the built-in desktop app.
pub const DESKTOP_ID: u32 = 1;

/// One streamable app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct App {
    pub id: u32,
    pub name: String,
    /// The command the compositor runs (`None` for the bare desktop).
    pub cmd: Option<String>,
    /// Box art, if configured.
    pub image: Option<PathBuf>,
    /// The directory the app starts in (the session's own by default).
    pub working_dir: Option<PathBuf>,
    /// Variables added to the app's environment.
    pub env: BTreeMap<String, String>,
    /// Where the app comes from: only config apps are edited at run time (and saved back).
    pub origin: AppOrigin,
    /// `gamepad` in the config: the virtual pad every controller becomes while this app runs (`auto`, or
    /// absent: by what the client reports, or `--gamepad`).
    pub gamepad: Option<String>,
}

/// Where an app was defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppOrigin {
    /// The built-in Desktop.
    Builtin,
    /// The config file (and the admin page, which saves there).
    Config,
    /// `--app CMD` on the command line.
    CommandLine,
}

impl App {
    /// The built-in Desktop (the session as it is, no command).
    pub fn desktop() -> Self {
        App {
            id: DESKTOP_ID,
            name: "Desktop".into(),
            cmd: None,
            image: None,
            working_dir: None,
            env: BTreeMap::new(),
            origin: AppOrigin::Builtin,
            gamepad: None,
        }
    }

    /// The shell command the session runs: the app's command, started in its working dir with its
    /// variables (values single-quoted). `None` for the bare desktop.
    pub fn launch_cmd(&self) -> Option<String> {
        let cmd = self.cmd.as_ref()?;
        let mut prefix = String::new();
        if let Some(dir) = &self.working_dir {
            prefix.push_str(&format!("cd -- {} && ", shell_quote(&dir.to_string_lossy())));
        }
        for (k, v) in &self.env {
            prefix.push_str(&format!("export {k}={} && ", shell_quote(v)));
        }
        Some(format!("{prefix}{cmd}"))
    }

    /// The pad kind the app asks for (`None`: the session's choice).
    pub fn pad_kind(&self) -> Option<lumen_core::gamepad::PadKind> {
        parse_pad(self.gamepad.as_deref()?).ok().flatten()
    }
}

/// `gamepad = "…"` of an app: `auto` (`None`), `xbox` or `dualsense`.
pub fn parse_pad(s: &str) -> Result<Option<lumen_core::gamepad::PadKind>, String> {
    use lumen_core::gamepad::PadKind;
    match s {
        "auto" => Ok(None),
        "xbox" => Ok(Some(PadKind::Xbox)),
        "dualsense" => Ok(Some(PadKind::DualSense)),
        other => Err(format!("gamepad {other:?}: expected auto, xbox or dualsense")),
    }
}

/// `s` as one single-quoted shell word.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// An `[[app]]` entry of the config file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppEntry {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamepad: Option<String>,
}

/// `[pairing]` in the config.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingSection {
    pub max_failures: Option<u32>,
    pub lockout_secs: Option<u64>,
    pub pin_wait_secs: Option<u64>,
    pub pin_ttl_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    app: Vec<AppEntry>,
    #[serde(default)]
    pairing: PairingSection,
    #[serde(default)]
    sessions: SessionsSection,
    #[serde(default)]
    admin: AdminSection,
}

/// `[admin]` in the config: the admin web page.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Address the page listens on (default loopback: 127.0.0.1).
    pub bind: Option<std::net::IpAddr>,
    /// Its port (default BASE+1).
    pub port: Option<u16>,
    /// `false` turns the page off.
    pub enabled: Option<bool>,
}

/// `[sessions]` in the config.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsSection {
    pub max_sessions: Option<usize>,
    /// How long a session no client streams is kept for a resume (default 3600 s).
    pub idle_timeout_secs: Option<u64>,
    /// Each concurrent session beyond the first gets media ports of its own (default: every session shares
    /// the standard ports, told apart by ping payload and connect data).
    #[serde(default)]
    pub per_session_ports: bool,
}

/// Errors reading the config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("config {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
}

/// The parsed config: apps (Desktop first) and the pairing section.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub apps: Vec<App>,
    pub pairing: PairingSection,
    pub sessions: SessionsSection,
    pub admin: AdminSection,
}

impl AppConfig {
    /// Builds the app list from an optional config file and `--app` commands.
    pub fn load(config: Option<&Path>, extra_cmds: &[String]) -> Result<Self, ConfigError> {
        let file = match config {
            None => ConfigFile::default(),
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|source| ConfigError::Io { path: p.to_owned(), source })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse { path: p.to_owned(), reason: e.to_string() })?
            }
        };
        let mut apps = vec![App::desktop()];
        let mut next_id = DESKTOP_ID + 1;
        for e in file.app {
            if e.name.trim().is_empty() || apps.iter().any(|a| a.name.eq_ignore_ascii_case(&e.name)) {
                let path = config.map(Path::to_path_buf).unwrap_or_default();
                return Err(ConfigError::Parse {
                    path,
                    reason: format!("app name {:?} is empty or used twice", e.name),
                });
            }
            if let Some(Err(reason)) = e.gamepad.as_deref().map(parse_pad) {
                let path = config.map(Path::to_path_buf).unwrap_or_default();
                return Err(ConfigError::Parse { path, reason: format!("app {:?}: {reason}", e.name) });
            }
            apps.push(App {
                id: next_id,
                name: e.name,
                cmd: e.cmd,
                image: e.image,
                working_dir: e.working_dir,
                env: e.env,
                origin: AppOrigin::Config,
                gamepad: e.gamepad,
            });
            next_id += 1;
        }
        for cmd in extra_cmds {
            let base = cmd.split_whitespace().next().unwrap_or(cmd);
            let base = Path::new(base).file_name().and_then(|n| n.to_str()).unwrap_or(base).to_owned();
            let mut name = base.clone();
            let mut n = 2;
            while apps.iter().any(|a| a.name.eq_ignore_ascii_case(&name)) {
                name = format!("{base} ({n})");
                n += 1;
            }
            apps.push(App {
                id: next_id,
                name,
                cmd: Some(cmd.clone()),
                image: None,
                working_dir: None,
                env: BTreeMap::new(),
                origin: AppOrigin::CommandLine,
                gamepad: None,
            });
            next_id += 1;
        }
        Ok(AppConfig { apps, pairing: file.pairing, sessions: file.sessions, admin: file.admin })
    }

    /// The app with `id`.
    pub fn by_id(&self, id: u32) -> Option<&App> {
        self.apps.iter().find(|a| a.id == id)
    }
}

/// The box art of `app`: its configured image if readable, otherwise a generated 130×180 PNG whose colour
/// is derived from the name.
pub fn box_art(app: &App) -> Vec<u8> {
    if let Some(p) = &app.image {
        match std::fs::read(p) {
            Ok(bytes) => return bytes,
            Err(e) => {
                tracing::warn!(app = %app.name, image = %p.display(), error = %e, "app image unreadable; generating one")
            }
        }
    }
    generated_png(&app.name)
}

fn generated_png(name: &str) -> Vec<u8> {
    const W: u32 = 130;
    const H: u32 = 180;
    let h = name.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193));
    let base = [(h >> 16) as u8 | 0x40, (h >> 8) as u8 | 0x40, h as u8 | 0x40];
    let mut pixels = Vec::with_capacity((W * H * 3) as usize);
    for y in 0..H {
        for x in 0..W {
            let border = x < 6 || y < 6 || x >= W - 6 || y >= H - 6;
            let shade = (y * 96 / H) as u8;
            for c in base {
                pixels.push(if border { 0xf0 } else { c.saturating_sub(shade) });
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, W, H);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().expect("writing a PNG header to memory cannot fail");
        w.write_image_data(&pixels).expect("writing PNG data to memory cannot fail");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desktop_is_always_first() {
        let c = AppConfig::load(None, &["/usr/bin/foot --server".into(), "foot".into()]).unwrap();
        let names: Vec<_> = c.apps.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Desktop", "foot", "foot (2)"]);
        assert_eq!(c.by_id(2).unwrap().cmd.as_deref(), Some("/usr/bin/foot --server"));
    }

    #[test]
    fn config_file_apps_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[[app]]\nname = \"Term\"\ncmd = \"foot\"\n[pairing]\nmax_failures = 5\n").unwrap();
        let c = AppConfig::load(Some(&p), &[]).unwrap();
        assert_eq!(c.apps[1].name, "Term");
        assert_eq!(c.pairing.max_failures, Some(5));
        std::fs::write(&p, "[[app]]\nname = \"Desktop\"\n").unwrap();
        assert!(AppConfig::load(Some(&p), &[]).is_err());
        std::fs::write(&p, "bogus = 1\n").unwrap();
        assert!(AppConfig::load(Some(&p), &[]).is_err());
    }

    #[test]
    fn an_app_may_ask_for_a_pad_kind() {
        use lumen_core::gamepad::PadKind;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        let text = "[[app]]\nname = \"Racer\"\ncmd = \"racer\"\ngamepad = \"dualsense\"\n\
                    [[app]]\nname = \"Other\"\ncmd = \"x\"\ngamepad = \"auto\"\n";
        std::fs::write(&p, text).unwrap();
        let apps = AppConfig::load(Some(&p), &[]).unwrap();
        let pad = |name: &str| apps.apps.iter().find(|a| a.name == name).unwrap().pad_kind();
        assert_eq!((pad("Racer"), pad("Other"), pad("Desktop")), (Some(PadKind::DualSense), None, None));
        std::fs::write(&p, "[[app]]\nname = \"Bad\"\ngamepad = \"switch\"\n").unwrap();
        let e = AppConfig::load(Some(&p), &[]).unwrap_err().to_string();
        assert!(e.contains("expected auto, xbox or dualsense"), "{e}");
    }

    #[test]
    fn launch_cmd_carries_dir_and_env() {
        let mut env = BTreeMap::new();
        env.insert("GREETING".to_owned(), "it's".to_owned());
        let app = App {
            id: 2,
            name: "x".into(),
            cmd: Some("echo $GREETING".into()),
            image: None,
            working_dir: Some("/tmp/a b".into()),
            env,
            origin: AppOrigin::Config,
            gamepad: None,
        };
        let cmd = app.launch_cmd().unwrap();
        assert_eq!(cmd, "cd -- '/tmp/a b' && export GREETING='it'\\''s' && echo $GREETING");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("cd / && {}", cmd.replace("/tmp/a b", "/")))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's\n");
    }

    #[test]
    fn generated_art_is_png() {
        let png = box_art(&App::desktop());
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
