//! The app list at run time: what `/applist` and `/launch` see, edited by the owner (admin page,
//! `lumen-session app-add|app-edit|app-remove`). Config apps are saved back to the config file atomically
//! (its `[[app]]` tables are rewritten, every other table and comment is kept); the built-in Desktop and
//! `--app` apps are not editable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::apps::{App, AppEntry, AppOrigin};
use crate::host::lock;

/// Longest app name.
const MAX_NAME: usize = 64;
/// Most apps in the list.
const MAX_APPS: usize = 256;

/// An app as the owner describes it (admin requests).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    pub name: String,
    pub command: String,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `auto`, `xbox` or `dualsense` (absent: `auto`).
    #[serde(default)]
    pub gamepad: Option<String>,
}

/// Why an edit was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    Invalid(String),
    #[error("no app with id {0}")]
    NoSuchApp(u32),
    #[error("the app {0:?} is not editable (the built-in Desktop, or given with --app)")]
    NotEditable(String),
    #[error("saving {path}: {reason}")]
    Save { path: PathBuf, reason: String },
}

struct Inner {
    apps: Vec<App>,
    next_id: u32,
}

/// The app list and the config file its config apps are saved to.
pub struct AppCatalog {
    inner: Mutex<Inner>,
    config_path: PathBuf,
}

impl AppCatalog {
    pub fn new(apps: Vec<App>, config_path: PathBuf) -> Self {
        let next_id = apps.iter().map(|a| a.id).max().unwrap_or(0) + 1;
        Self { inner: Mutex::new(Inner { apps, next_id }), config_path }
    }

    /// A copy of the list (Desktop first).
    pub fn list(&self) -> Vec<App> {
        lock(&self.inner).apps.clone()
    }

    pub fn by_id(&self, id: u32) -> Option<App> {
        lock(&self.inner).apps.iter().find(|a| a.id == id).cloned()
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Adds a config app and saves; returns it.
    pub fn add(&self, spec: &AppSpec) -> Result<App, CatalogError> {
        let mut g = lock(&self.inner);
        if g.apps.len() >= MAX_APPS {
            return Err(CatalogError::Invalid(format!("at most {MAX_APPS} apps")));
        }
        let app = validate(spec, g.next_id, &g.apps, None)?;
        let mut next = g.apps.clone();
        next.push(app.clone());
        self.save(&next)?;
        g.apps = next;
        g.next_id += 1;
        tracing::info!(id = app.id, name = app.name, "app added by the owner");
        Ok(app)
    }

    /// Replaces the config app `id` and saves; returns it.
    pub fn edit(&self, id: u32, spec: &AppSpec) -> Result<App, CatalogError> {
        let mut g = lock(&self.inner);
        let i = editable_index(&g.apps, id)?;
        let mut app = validate(spec, id, &g.apps, Some(id))?;
        if spec.gamepad.is_none() {
            // An edit that does not mention the pad (the admin page has no field for it) keeps it.
            app.gamepad = g.apps[i].gamepad.clone();
        }
        let mut next = g.apps.clone();
        next[i] = app.clone();
        self.save(&next)?;
        g.apps = next;
        tracing::info!(id, name = app.name, "app edited by the owner");
        Ok(app)
    }

    /// Removes the config app `id` and saves.
    pub fn remove(&self, id: u32) -> Result<App, CatalogError> {
        let mut g = lock(&self.inner);
        let i = editable_index(&g.apps, id)?;
        let mut next = g.apps.clone();
        let gone = next.remove(i);
        self.save(&next)?;
        g.apps = next;
        tracing::info!(id, name = gone.name, "app removed by the owner");
        Ok(gone)
    }

    /// Rewrites the config file's `[[app]]` tables with the config apps of `apps`.
    fn save(&self, apps: &[App]) -> Result<(), CatalogError> {
        let err = |reason: String| CatalogError::Save { path: self.config_path.clone(), reason };
        let text = match std::fs::read_to_string(&self.config_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(err(e.to_string())),
        };
        let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| err(e.to_string()))?;
        let mut tables = toml_edit::ArrayOfTables::new();
        for a in apps.iter().filter(|a| a.origin == AppOrigin::Config) {
            let entry = AppEntry {
                name: a.name.clone(),
                cmd: a.cmd.clone(),
                image: a.image.clone(),
                working_dir: a.working_dir.clone(),
                env: a.env.clone(),
                gamepad: a.gamepad.clone(),
            };
            let one = toml_edit::ser::to_document(&entry).map_err(|e| err(e.to_string()))?;
            tables.push(one.as_table().clone());
        }
        doc.remove("app");
        if !tables.is_empty() {
            doc.insert("app", toml_edit::Item::ArrayOfTables(tables));
        }
        crate::store::write_atomic(&self.config_path, doc.to_string().as_bytes(), 0o600).map_err(|e| err(e.to_string()))
    }
}

fn editable_index(apps: &[App], id: u32) -> Result<usize, CatalogError> {
    let i = apps.iter().position(|a| a.id == id).ok_or(CatalogError::NoSuchApp(id))?;
    if apps[i].origin != AppOrigin::Config {
        return Err(CatalogError::NotEditable(apps[i].name.clone()));
    }
    Ok(i)
}

fn invalid(s: impl Into<String>) -> CatalogError {
    CatalogError::Invalid(s.into())
}

/// Checks `spec` and makes the config app `id` of it (`replacing`: the id whose name may be reused).
fn validate(spec: &AppSpec, id: u32, apps: &[App], replacing: Option<u32>) -> Result<App, CatalogError> {
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(invalid(format!("an app name is 1 to {MAX_NAME} printable characters")));
    }
    if apps.iter().any(|a| Some(a.id) != replacing && a.name.eq_ignore_ascii_case(name)) {
        return Err(invalid(format!("an app named {name:?} exists already")));
    }
    let command = spec.command.trim();
    if command.is_empty() || command.len() > 4096 || command.contains(['\n', '\0']) {
        return Err(invalid("the command is one line of up to 4096 bytes"));
    }
    let path = |what: &str, p: &Option<String>| -> Result<Option<PathBuf>, CatalogError> {
        match p.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None => Ok(None),
            Some(p) if p.starts_with('/') && !p.contains('\0') && p.len() <= 4096 => Ok(Some(PathBuf::from(p))),
            Some(p) => Err(invalid(format!("the {what} must be an absolute path, not {p:?}"))),
        }
    };
    let gamepad = spec.gamepad.as_deref().map(str::trim).filter(|g| !g.is_empty() && *g != "auto");
    if let Some(Err(e)) = gamepad.map(crate::apps::parse_pad) {
        return Err(invalid(e));
    }
    let gamepad = gamepad.map(str::to_owned);
    let image = path("image", &spec.image)?;
    let working_dir = path("working dir", &spec.working_dir)?;
    if spec.env.len() > 64 {
        return Err(invalid("at most 64 environment variables"));
    }
    for (k, v) in &spec.env {
        let ident = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident || k.len() > 128 {
            return Err(invalid(format!("{k:?} is not a variable name (letters, digits, _)")));
        }
        if v.contains('\0') || v.len() > 4096 {
            return Err(invalid(format!("the value of {k} is too long or holds a NUL")));
        }
    }
    Ok(App {
        id,
        name: name.to_owned(),
        cmd: Some(command.to_owned()),
        image,
        working_dir,
        env: spec.env.clone(),
        origin: AppOrigin::Config,
        gamepad,
    })
}

/// An app as the admin page and `lumen-session apps --json` show it.
pub fn app_json(a: &App) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "command": a.cmd,
        "image": a.image.as_ref().map(|p| p.display().to_string()),
        "working_dir": a.working_dir.as_ref().map(|p| p.display().to_string()),
        "env": a.env,
        "origin": a.origin,
        "editable": a.origin == AppOrigin::Config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::AppConfig;

    fn spec(name: &str, cmd: &str) -> AppSpec {
        AppSpec { name: name.into(), command: cmd.into(), ..Default::default() }
    }

    #[test]
    fn edits_are_saved_and_other_tables_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "# mine\n[pairing]\nmax_failures = 5\n\n[[app]]\nname = \"Term\"\ncmd = \"foot\"\n")
            .unwrap();
        let cfg = AppConfig::load(Some(&path), &["weston-terminal".into()]).unwrap();
        let cat = AppCatalog::new(cfg.apps, path.clone());
        let mut s = spec("Hello", "sh -c 'exec sleep 100'");
        s.env.insert("A_B".into(), "1".into());
        s.working_dir = Some("/tmp".into());
        let added = cat.add(&s).unwrap();
        assert_eq!(added.id, 4);
        assert!(matches!(cat.add(&spec("hello", "x")), Err(CatalogError::Invalid(_))));
        assert!(matches!(cat.edit(1, &spec("D", "x")), Err(CatalogError::NotEditable(_))));
        assert!(matches!(cat.edit(3, &spec("D", "x")), Err(CatalogError::NotEditable(_))));
        cat.edit(2, &spec("Terminal", "foot -e top")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("# mine") && text.contains("max_failures = 5"), "{text}");
        let again = AppConfig::load(Some(&path), &[]).unwrap();
        let names: Vec<_> = again.apps.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Desktop", "Terminal", "Hello"]);
        assert_eq!(again.apps[2].env.get("A_B").map(String::as_str), Some("1"));
        assert_eq!(again.apps[2].working_dir.as_deref(), Some(Path::new("/tmp")));
        cat.remove(4).unwrap();
        assert!(matches!(cat.remove(4), Err(CatalogError::NoSuchApp(4))));
        let names: Vec<_> = AppConfig::load(Some(&path), &[]).unwrap().apps.into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["Desktop", "Terminal"]);
    }

    #[test]
    fn bad_specs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cat = AppCatalog::new(AppConfig::load(None, &[]).unwrap().apps, dir.path().join("c.toml"));
        for bad in [
            spec("", "x"),
            spec("a\nb", "x"),
            spec("ok", ""),
            spec("ok", "a\nb"),
            AppSpec { image: Some("relative.png".into()), ..spec("ok", "x") },
            AppSpec { env: [("1X".to_owned(), "v".to_owned())].into(), ..spec("ok", "x") },
            AppSpec { env: [("X;rm".to_owned(), "v".to_owned())].into(), ..spec("ok", "x") },
        ] {
            assert!(matches!(cat.add(&bad), Err(CatalogError::Invalid(_))), "{bad:?}");
        }
        assert!(!dir.path().join("c.toml").exists());
    }
}
