//! The test/admin control socket: a Unix stream socket speaking one command per line, one reply line per
//! command (`ok ...` or `err <reason>`). Input commands are turned into core `InputEvent`s, so they take
//! exactly the path the streaming side uses.
//!
//! ```text
//! output-add 1280x720@60        -> ok <id>
//! output-remove <id>            -> ok
//! outputs                       -> ok <id>=<mode> ...
//! windows                       -> ok <count> [<output id or ->...]
//! stats <id>                    -> ok ticks=N frames=N skipped_undamaged=N skipped_no_target=N render_ns_total=N
//! dump <id> <file.png|.rgba>    -> ok <w>x<h>        (newest frame of an output without external sink;
//!                                                     .rgba = raw tightly packed RGBA)
//! key <vk> down|up [mods]       -> ok                (vk and mods: decimal or 0x hex)
//! text <utf-8 ...>              -> ok
//! motion <id> <x> <y> <refw> <refh>, rel <id> <dx> <dy>, button <1-5> down|up,
//! scroll <id> <v120>, hscroll <id> <v120>, touch <id> down|move|up <finger> <x0..1> <y0..1>,
//! pen <id> down|move|up|hover|leave <x0..1> <y0..1> <pressure>
//! cursor show|hide, launch <shell command>, quit
//! ```
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use lumen_core::input::{
    ButtonAction, InputEvent, KeyAction, KeyFlags, Modifiers, MouseButton, PenButtons, PenEvent, ToolType, TouchEvent,
    TouchEventType, Utf8Text,
};
use lumen_render::OutputId;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, LoopHandle, Mode, PostAction};
use tracing::{debug, info, warn};

use crate::output::OutputMode;
use crate::state::State;

/// Listen on `path` (replacing a stale socket) and serve commands on the compositor loop.
pub fn listen(handle: &LoopHandle<'static, State>, path: &Path) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    listener.set_nonblocking(true)?;
    info!(path = %path.display(), "control socket");
    let h = handle.clone();
    handle
        .insert_source(Generic::new(listener, Interest::READ, Mode::Level), move |_, l, _state| {
            loop {
                match l.accept() {
                    Ok((stream, _)) => {
                        if let Err(e) = serve(&h, stream) {
                            warn!("control connection: {e}");
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        warn!("control accept: {e}");
                        break;
                    }
                }
            }
            Ok(PostAction::Continue)
        })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(())
}

fn serve(handle: &LoopHandle<'static, State>, stream: UnixStream) -> std::io::Result<()> {
    stream.set_nonblocking(true)?;
    let mut buf: Vec<u8> = Vec::new();
    handle
        .insert_source(Generic::new(stream, Interest::READ, Mode::Level), move |_, s, state| {
            // SAFETY: `get_mut` on calloop's NoIoDrop only forbids dropping the fd; we only read and write it.
            let s = unsafe { s.get_mut() };
            let mut chunk = [0u8; 4096];
            loop {
                match s.read(&mut chunk) {
                    Ok(0) => return Ok(PostAction::Remove),
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => return Ok(PostAction::Remove),
                }
            }
            while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line[..line.len() - 1]).to_string();
                let reply = match execute(state, line.trim_end_matches('\r')) {
                    Ok(r) => format!("ok{}{}\n", if r.is_empty() { "" } else { " " }, r),
                    Err(e) => {
                        debug!(command = %line, "control error: {e}");
                        format!("err {e}\n")
                    }
                };
                let _ = s.set_nonblocking(false);
                let res = s.write_all(reply.as_bytes());
                let _ = s.set_nonblocking(true);
                if res.is_err() {
                    return Ok(PostAction::Remove);
                }
            }
            Ok(PostAction::Continue)
        })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(())
}

fn num<T: std::str::FromStr>(s: Option<&str>, what: &str) -> Result<T, String> {
    let s = s.ok_or_else(|| format!("missing {what}"))?;
    s.parse().map_err(|_| format!("bad {what}: {s:?}"))
}

fn int(s: Option<&str>, what: &str) -> Result<u32, String> {
    let s = s.ok_or_else(|| format!("missing {what}"))?;
    let r = match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("bad {what}: {s:?}"))
}

fn output_id(s: Option<&str>) -> Result<OutputId, String> {
    Ok(OutputId(num(s, "output id")?))
}

fn phase(s: Option<&str>) -> Result<TouchEventType, String> {
    Ok(match s.ok_or("missing phase")? {
        "down" => TouchEventType::Down,
        "move" => TouchEventType::Move,
        "up" => TouchEventType::Up,
        "hover" => TouchEventType::Hover,
        "leave" => TouchEventType::HoverLeave,
        "cancel" => TouchEventType::Cancel,
        other => return Err(format!("bad phase {other:?}")),
    })
}

/// Run one command line against the state.
pub fn execute(state: &mut State, line: &str) -> Result<String, String> {
    let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
    let mut args = rest.split_whitespace();
    match cmd {
        "output-add" => {
            let mode: OutputMode = rest.trim().parse().map_err(|e: crate::output::ModeError| e.to_string())?;
            let id = state.alloc_output_id();
            state.create_output(id, mode, None).map_err(|e| e.to_string())?;
            Ok(id.to_string())
        }
        "output-remove" => {
            state.remove_output(output_id(args.next())?).map_err(|e| e.to_string())?;
            Ok(String::new())
        }
        "outputs" => Ok(state.outputs.values().map(|o| format!("{}={}", o.id, o.mode)).collect::<Vec<_>>().join(" ")),
        "windows" => {
            let list: Vec<String> = state
                .space
                .elements()
                .map(|w| crate::shell::window_output(w).map(|o| o.to_string()).unwrap_or_else(|| "-".into()))
                .collect();
            Ok(format!("{} {}", list.len(), list.join(" ")).trim_end().to_string())
        }
        "stats" => {
            let id = output_id(args.next())?;
            let s = state.output_stats(id).ok_or_else(|| format!("output {id} does not exist"))?;
            Ok(format!(
                "ticks={} frames={} skipped_undamaged={} skipped_no_target={} render_ns_total={}",
                s.ticks, s.frames, s.skipped_undamaged, s.skipped_no_target, s.render_ns_total
            ))
        }
        "dump" => {
            let id = output_id(args.next())?;
            let path = args.next().ok_or("missing file")?;
            let (w, h, rgba) = state.dump_output(id).map_err(|e| e.to_string())?;
            if path.ends_with(".rgba") {
                std::fs::write(path, &rgba).map_err(|e| format!("{path}: {e}"))?;
            } else {
                write_png(Path::new(path), w, h, &rgba).map_err(|e| format!("{path}: {e}"))?;
            }
            Ok(format!("{w}x{h}"))
        }
        "key" => {
            let vk = int(args.next(), "vk")?;
            let action = match args.next() {
                Some("down") => KeyAction::Down,
                Some("up") => KeyAction::Up,
                other => return Err(format!("bad key action {other:?}")),
            };
            let mods = match args.next() {
                Some(m) => int(Some(m), "modifiers")?,
                None => 0,
            };
            let ev = InputEvent::Key {
                action,
                vk: u16::try_from(vk).map_err(|_| "vk out of range")?,
                modifiers: Modifiers(u8::try_from(mods).map_err(|_| "modifiers out of range")?),
                flags: KeyFlags::default(),
            };
            inject_active(state, &ev)
        }
        "text" => {
            let t = Utf8Text::new(rest).ok_or("text longer than 32 bytes")?;
            inject_active(state, &InputEvent::Text(t))
        }
        "motion" => {
            let id = output_id(args.next())?;
            let ev = InputEvent::MousePosition {
                x: num(args.next(), "x")?,
                y: num(args.next(), "y")?,
                ref_width: num(args.next(), "ref width")?,
                ref_height: num(args.next(), "ref height")?,
            };
            state.inject(id, &ev);
            Ok(String::new())
        }
        "rel" => {
            let id = output_id(args.next())?;
            let ev = InputEvent::MouseMove { dx: num(args.next(), "dx")?, dy: num(args.next(), "dy")? };
            state.inject(id, &ev);
            Ok(String::new())
        }
        "button" => {
            let b: u8 = num(args.next(), "button")?;
            let button = MouseButton::from_wire(b).ok_or("button must be 1..5")?;
            let action = match args.next() {
                Some("down") => ButtonAction::Press,
                Some("up") => ButtonAction::Release,
                other => return Err(format!("bad button action {other:?}")),
            };
            inject_active(state, &InputEvent::MouseButton { action, button })
        }
        "scroll" | "hscroll" => {
            let id = output_id(args.next())?;
            let amount: i16 = num(args.next(), "amount")?;
            let ev = if cmd == "scroll" { InputEvent::Scroll { amount } } else { InputEvent::HScroll { amount } };
            state.inject(id, &ev);
            Ok(String::new())
        }
        "touch" => {
            let id = output_id(args.next())?;
            let event = phase(args.next())?;
            let t = TouchEvent {
                event,
                pointer_id: num(args.next(), "finger")?,
                x: num(args.next(), "x")?,
                y: num(args.next(), "y")?,
                pressure_or_distance: 1.0,
                contact_area_major: 0.0,
                contact_area_minor: 0.0,
                rotation: None,
            };
            state.inject(id, &InputEvent::Touch(t));
            Ok(String::new())
        }
        "pen" => {
            let id = output_id(args.next())?;
            let event = phase(args.next())?;
            let p = PenEvent {
                event,
                tool: ToolType::Pen,
                buttons: PenButtons::default(),
                x: num(args.next(), "x")?,
                y: num(args.next(), "y")?,
                pressure_or_distance: num(args.next(), "pressure")?,
                rotation: None,
                tilt: None,
                contact_area_major: 0.0,
                contact_area_minor: 0.0,
            };
            state.inject(id, &InputEvent::Pen(p));
            Ok(String::new())
        }
        "cursor" => {
            state.cursor.visible = match args.next() {
                Some("show") => true,
                Some("hide") => false,
                other => return Err(format!("bad cursor argument {other:?}")),
            };
            Ok(String::new())
        }
        "launch" => {
            if rest.trim().is_empty() {
                return Err("missing command".into());
            }
            state.launch_app(rest.trim());
            Ok(String::new())
        }
        "quit" => {
            state.loop_signal.stop();
            Ok(String::new())
        }
        other => Err(format!("unknown command {other:?}")),
    }
}

/// Inject an event that carries no output of its own (keys, text, buttons) on the active output.
fn inject_active(state: &mut State, ev: &InputEvent) -> Result<String, String> {
    let id = state.active_output.unwrap_or(OutputId(0));
    state.inject(id, ev);
    Ok(String::new())
}

/// Write tightly packed RGBA as PNG.
pub fn write_png(path: &Path, w: u32, h: u32, rgba: &[u8]) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgba).map_err(|e| e.to_string())?;
    Ok(())
}
