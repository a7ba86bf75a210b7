//! The window (cargo feature `window`): winit + softbuffer on the main thread, showing the newest decoded
//! picture (scaled to the window, nearest neighbour) and sending keyboard text, relative mouse motion and
//! buttons to the host as Moonlight input on the control stream. The video thread hands pictures over in
//! a newest-wins slot and wakes the event loop; closing the window stops the stream.

use std::num::NonZeroU32;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use lumen_core::control::ControlMessage;
use lumen_core::input::{ButtonAction, InputEvent, MouseButton, Utf8Text};
use winit::application::ApplicationHandler;
use winit::event::{ElementState, WindowEvent};
use winit::event_loop::{ActiveEventLoop, EventLoop, EventLoopProxy};
use winit::window::{Window, WindowId};

/// The newest picture: RGB24 and its size.
#[derive(Default)]
pub struct Picture {
    pub rgb: Vec<u8>,
    pub width: usize,
    pub height: usize,
}

/// The video thread's side: stores a picture and wakes the window.
#[derive(Clone)]
pub struct Presenter {
    slot: Arc<Mutex<Picture>>,
    proxy: EventLoopProxy<()>,
}

impl Presenter {
    /// Replaces the shown picture (the buffer is reused) and asks for a redraw.
    pub fn show(&self, rgb: &[u8], width: usize, height: usize) {
        if let Ok(mut p) = self.slot.lock() {
            p.rgb.clear();
            p.rgb.extend_from_slice(rgb);
            p.width = width;
            p.height = height;
        }
        let _ = self.proxy.send_event(());
    }

    /// Wakes the window (to notice that the stream stopped).
    pub fn wake(&self) {
        let _ = self.proxy.send_event(());
    }
}

/// The event loop and the presenter the video thread gets.
pub fn event_loop() -> anyhow::Result<(EventLoop<()>, Presenter)> {
    let el = EventLoop::<()>::with_user_event().build()?;
    let presenter = Presenter { slot: Arc::default(), proxy: el.create_proxy() };
    Ok((el, presenter))
}

struct App {
    title: String,
    slot: Arc<Mutex<Picture>>,
    control: SyncSender<ControlMessage>,
    stop: Arc<AtomicBool>,
    window: Option<Rc<Window>>,
    surface: Option<softbuffer::Surface<Rc<Window>, Rc<Window>>>,
    last_cursor: Option<(f64, f64)>,
}

impl App {
    fn input(&self, ev: InputEvent) {
        let _ = self.control.try_send(ControlMessage::Input(ev));
    }

    fn redraw(&mut self) {
        let (Some(window), Some(surface)) = (&self.window, &mut self.surface) else { return };
        let size = window.inner_size();
        let (Some(w), Some(h)) = (NonZeroU32::new(size.width), NonZeroU32::new(size.height)) else { return };
        if surface.resize(w, h).is_err() {
            return;
        }
        let Ok(mut buf) = surface.buffer_mut() else { return };
        let (ww, wh) = (size.width as usize, size.height as usize);
        if let Ok(p) = self.slot.lock() {
            if p.width > 0 && p.rgb.len() >= p.width * p.height * 3 {
                for y in 0..wh {
                    let sy = y * p.height / wh;
                    for x in 0..ww {
                        let i = (sy * p.width + x * p.width / ww) * 3;
                        buf[y * ww + x] =
                            u32::from(p.rgb[i]) << 16 | u32::from(p.rgb[i + 1]) << 8 | u32::from(p.rgb[i + 2]);
                    }
                }
            }
        }
        let _ = buf.present();
    }
}

impl ApplicationHandler<()> for App {
    fn resumed(&mut self, el: &ActiveEventLoop) {
        if self.window.is_some() {
            return;
        }
        let attrs = Window::default_attributes().with_title(self.title.clone());
        let made = el.create_window(attrs).map_err(anyhow::Error::from).and_then(|w| {
            let w = Rc::new(w);
            let ctx = softbuffer::Context::new(w.clone()).map_err(|e| anyhow::anyhow!("softbuffer: {e}"))?;
            let surface = softbuffer::Surface::new(&ctx, w.clone()).map_err(|e| anyhow::anyhow!("softbuffer: {e}"))?;
            Ok((w, surface))
        });
        match made {
            Ok((w, s)) => {
                self.window = Some(w);
                self.surface = Some(s);
            }
            Err(e) => {
                tracing::error!(error = %e, "no window");
                self.stop.store(true, Ordering::Relaxed);
                el.exit();
            }
        }
    }

    fn user_event(&mut self, el: &ActiveEventLoop, (): ()) {
        if self.stop.load(Ordering::Relaxed) {
            el.exit();
        } else if let Some(w) = &self.window {
            w.request_redraw();
        }
    }

    fn window_event(&mut self, el: &ActiveEventLoop, _: WindowId, event: WindowEvent) {
        match event {
            WindowEvent::CloseRequested => {
                self.stop.store(true, Ordering::Relaxed);
                el.exit();
            }
            WindowEvent::RedrawRequested => self.redraw(),
            WindowEvent::KeyboardInput { event, .. } if event.state == ElementState::Pressed => {
                if let Some(t) = event.text.as_deref().and_then(Utf8Text::new) {
                    self.input(InputEvent::Text(t));
                }
            }
            WindowEvent::CursorMoved { position, .. } => {
                if let Some((x, y)) = self.last_cursor {
                    let (dx, dy) = ((position.x - x).round() as i16, (position.y - y).round() as i16);
                    if dx != 0 || dy != 0 {
                        self.input(InputEvent::MouseMove { dx, dy });
                    }
                }
                self.last_cursor = Some((position.x, position.y));
            }
            WindowEvent::MouseInput { state, button, .. } => {
                let button = match button {
                    winit::event::MouseButton::Left => MouseButton::Left,
                    winit::event::MouseButton::Right => MouseButton::Right,
                    winit::event::MouseButton::Middle => MouseButton::Middle,
                    _ => return,
                };
                let action = if state == ElementState::Pressed { ButtonAction::Press } else { ButtonAction::Release };
                self.input(InputEvent::MouseButton { action, button });
            }
            _ => {}
        }
    }
}

/// Runs the window until it is closed or `stop` is set (then the video thread's next picture ends it).
pub fn run(
    el: EventLoop<()>,
    presenter: &Presenter,
    title: &str,
    control: SyncSender<ControlMessage>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let mut app = App {
        title: title.to_owned(),
        slot: presenter.slot.clone(),
        control,
        stop,
        window: None,
        surface: None,
        last_cursor: None,
    };
    el.run_app(&mut app)?;
    Ok(())
}
