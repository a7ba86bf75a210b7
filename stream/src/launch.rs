//! The launch record: the session parameters a client fixed with `/launch` (and refreshed with `/resume`),
//! parsed from the nvhttp query. The media plane gets it at RTSP PLAY inside [`crate::MediaStart`].

use lumen_core::crypto::RemoteInputKey;
use serde::Serialize;

use crate::nvhttp::query::{Query, QueryError};

/// What `/launch` fixed for a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaunchRecord {
    /// The app's id in `/applist`.
    pub app_id: u32,
    /// The app's title.
    pub app_name: String,
    /// The command that runs the app (`None` for the bare desktop).
    pub app_cmd: Option<String>,
    /// The virtual pad the app wants (`None`: the session's choice).
    #[serde(skip)]
    pub app_pad: Option<lumen_core::gamepad::PadKind>,
    /// `mode=W×H×FPS`.
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// `rikey`/`rikeyid`: the AES key of every Moonlight cipher of this session.
    #[serde(skip)]
    pub key: RemoteInputKey,
    /// `rikeyid` (kept visible for status reports; the key itself is never printed).
    pub key_id: i32,
    /// `surroundAudioInfo`: channel mask << 16 | channel count (196610 = stereo).
    pub surround_audio_info: u32,
    /// `localAudioPlayMode`: also play audio on the host.
    pub local_audio: bool,
    /// `sops`: let the host optimise game settings.
    pub sops: bool,
    /// `remoteControllersBitmap`: which gamepads are attached.
    pub controllers_bitmap: u16,
    /// `gcmap` (same meaning, older clients) and `gcpersist`.
    pub gcmap: u32,
    pub gcpersist: bool,
    /// `hdrMode=1`: the client asks for HDR.
    pub hdr: bool,
    /// `corever`: 1 = the client supports control/video encryption v2 and encrypted RTSP.
    pub corever: u32,
    /// `additionalStates=1`.
    pub additional_states: bool,
}

impl LaunchRecord {
    /// Audio channel count from `surroundAudioInfo`.
    pub fn audio_channels(&self) -> u32 {
        self.surround_audio_info & 0xffff
    }

    /// Whether the client asked for encrypted RTSP (`rtspenc://`).
    pub fn wants_encrypted_rtsp(&self) -> bool {
        self.corever >= 1
    }

    /// Parses a `/launch` query for the app `app_id`/`app_name` (already resolved by the caller).
    pub fn from_launch(q: &Query<'_>, app_id: u32, app_name: &str) -> Result<Self, QueryError> {
        let mode = q.required("mode")?;
        let (width, height, fps) = parse_mode(mode).ok_or_else(|| QueryError::invalid("mode", mode))?;
        Ok(LaunchRecord {
            app_id,
            app_name: app_name.to_owned(),
            app_cmd: None,
            app_pad: None,
            width,
            height,
            fps,
            key: parse_key(q)?,
            key_id: q.parse_required::<i32>("rikeyid")?,
            surround_audio_info: q.parse_or("surroundAudioInfo", 196610u32)?,
            local_audio: q.parse_or("localAudioPlayMode", 0u32)? != 0,
            sops: q.parse_or("sops", 0u32)? != 0,
            controllers_bitmap: q.parse_or("remoteControllersBitmap", 0u16)?,
            gcmap: q.parse_or("gcmap", 0u32)?,
            gcpersist: q.parse_or("gcpersist", 0u32)? != 0,
            hdr: q.parse_or("hdrMode", 0u32)? != 0,
            corever: q.parse_or("corever", 0u32)?,
            additional_states: q.parse_or("additionalStates", 0u32)? != 0,
        })
    }

    /// Applies a `/resume` query: a fresh key, audio set-up and core version for the running app.
    pub fn resume(&mut self, q: &Query<'_>) -> Result<(), QueryError> {
        let key = parse_key(q)?;
        self.key_id = key.key_id;
        self.key = key;
        self.surround_audio_info = q.parse_or("surroundAudioInfo", self.surround_audio_info)?;
        self.corever = q.parse_or("corever", 0u32)?;
        Ok(())
    }
}

fn parse_key(q: &Query<'_>) -> Result<RemoteInputKey, QueryError> {
    let rikey = q.required("rikey")?;
    let rikeyid = q.required("rikeyid")?;
    RemoteInputKey::parse(rikey, rikeyid).map_err(|_| QueryError::invalid("rikey/rikeyid", rikey))
}

/// Parses `W×H×FPS` (`1920x1080x60`), every part non-zero and bounded.
pub fn parse_mode(mode: &str) -> Option<(u32, u32, u32)> {
    let mut it = mode.split('x');
    let w: u32 = it.next()?.parse().ok()?;
    let h: u32 = it.next()?.parse().ok()?;
    let f: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() || w == 0 || h == 0 || f == 0 || w > 16384 || h > 16384 || f > 1000 {
        return None;
    }
    Some((w, h, f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nvhttp::query::parse_query;

    const STOCK: &str = "uniqueid=0123456789ABCDEF&uuid=ab&appid=1&mode=1280x720x30&additionalStates=1&sops=1\
&rikey=00112233445566778899aabbccddeeff&rikeyid=-775962003&localAudioPlayMode=0&surroundAudioInfo=196610\
&remoteControllersBitmap=0&gcmap=0&gcpersist=0&corever=1";

    #[test]
    fn parses_the_stock_launch_query() {
        let q = parse_query(STOCK).unwrap();
        let r = LaunchRecord::from_launch(&q, 1, "Desktop").unwrap();
        assert_eq!((r.width, r.height, r.fps), (1280, 720, 30));
        assert_eq!(r.key_id, -775962003);
        assert_eq!(r.key.key[0..2], [0x00, 0x11]);
        assert_eq!(r.audio_channels(), 2);
        assert!(r.wants_encrypted_rtsp() && r.sops && !r.local_audio);
    }

    #[test]
    fn rejects_bad_modes_and_keys() {
        for bad in ["1280x720", "0x720x30", "1280x720x30x1", "axbxc", ""] {
            assert_eq!(parse_mode(bad), None, "{bad}");
        }
        let bad_key = STOCK.replace("rikey=00112233", "rikey=zz112233");
        let q = parse_query(&bad_key).unwrap();
        assert!(LaunchRecord::from_launch(&q, 1, "Desktop").is_err());
        let no_mode = STOCK.replace("&mode=1280x720x30", "");
        let q = parse_query(&no_mode).unwrap();
        assert!(matches!(LaunchRecord::from_launch(&q, 1, "Desktop"), Err(QueryError::Missing(_))));
    }
}
