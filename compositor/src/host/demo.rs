//! The built-in demo client (`lumen-session --demo`): a tiny Wayland client, run on a thread of the session
//! itself, that maps one xdg toplevel and redraws something moving on every frame callback (a colour sweep
//! and a bouncing white square) through wl_shm. It is the default app of `scripts/run-host.sh` on machines
//! without a terminal, and shows that frames flow with no external client installed.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::path::Path;

use wayland_client::protocol::{wl_buffer, wl_callback, wl_compositor, wl_registry, wl_shm, wl_shm_pool, wl_surface};
use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols::xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo client: {0}")]
    Io(#[from] std::io::Error),
    #[error("demo client: wayland: {0}")]
    Wayland(String),
}

#[derive(Default)]
struct Demo {
    compositor: Option<wl_compositor::WlCompositor>,
    shm: Option<wl_shm::WlShm>,
    wm: Option<xdg_wm_base::XdgWmBase>,
    size: (i32, i32),
    configured: bool,
    frame_due: bool,
    closed: bool,
}

/// Connects to `runtime_dir/socket` and animates until the compositor goes away or closes the window.
pub fn run(runtime_dir: &Path, socket: &str) -> Result<(), DemoError> {
    let w = |e: &dyn std::fmt::Display| DemoError::Wayland(e.to_string());
    let stream = UnixStream::connect(runtime_dir.join(socket))?;
    let conn = Connection::from_socket(stream).map_err(|e| w(&e))?;
    let mut queue = conn.new_event_queue::<Demo>();
    let qh = queue.handle();
    conn.display().get_registry(&qh, ());
    let mut st = Demo { size: (1280, 720), ..Default::default() };
    queue.roundtrip(&mut st).map_err(|e| w(&e))?;
    let (Some(comp), Some(shm), Some(wm)) = (st.compositor.clone(), st.shm.clone(), st.wm.clone()) else {
        return Err(DemoError::Wayland("missing wl_compositor, wl_shm or xdg_wm_base".into()));
    };
    let surface = comp.create_surface(&qh, ());
    let xdg = wm.get_xdg_surface(&surface, &qh, ());
    let top = xdg.get_toplevel(&qh, ());
    top.set_title("lumen demo".into());
    top.set_app_id("lumen-demo".into());
    surface.commit();
    while !st.configured {
        queue.blocking_dispatch(&mut st).map_err(|e| w(&e))?;
    }
    let mut pixels: Vec<u8> = Vec::new();
    let mut file: Option<(File, wl_shm_pool::WlShmPool, wl_buffer::WlBuffer, (i32, i32))> = None;
    let mut n: u32 = 0;
    tracing::info!(size = ?st.size, "demo client mapped");
    while !st.closed {
        let (width, height) = st.size;
        if file.as_ref().map(|f| f.3) != Some((width, height)) {
            if let Some((_, pool, buf, _)) = file.take() {
                buf.destroy();
                pool.destroy();
            }
            let fd = rustix::fs::memfd_create("lumen-demo", rustix::fs::MemfdFlags::CLOEXEC)
                .map_err(std::io::Error::from)?;
            let f = File::from(fd);
            let len = width as usize * height as usize * 4;
            f.set_len(len as u64)?;
            use std::os::fd::AsFd;
            let pool = shm.create_pool(f.as_fd(), len as i32, &qh, ());
            let buf = pool.create_buffer(0, width, height, width * 4, wl_shm::Format::Xrgb8888, &qh, ());
            pixels.resize(len, 0);
            file = Some((f, pool, buf, (width, height)));
        }
        let Some((f, _, buf, _)) = &file else { continue };
        draw(&mut pixels, width as usize, height as usize, n);
        f.write_all_at(&pixels, 0)?;
        surface.attach(Some(buf), 0, 0);
        surface.damage_buffer(0, 0, width, height);
        surface.frame(&qh, ());
        surface.commit();
        st.frame_due = false;
        while !st.frame_due && !st.closed {
            queue.blocking_dispatch(&mut st).map_err(|e| w(&e))?;
        }
        n = n.wrapping_add(1);
    }
    Ok(())
}

/// A horizontal colour sweep and a 120×120 white square bouncing across it (XRGB8888: B, G, R, X).
fn draw(px: &mut [u8], w: usize, h: usize, n: u32) {
    for (y, row) in px.chunks_exact_mut(w * 4).enumerate() {
        for (x, p) in row.chunks_exact_mut(4).enumerate() {
            let v = (x as u32 + 3 * n) & 511;
            let r = if v < 256 { v } else { 511 - v } as u8;
            p[0] = (y * 255 / h.max(1)) as u8;
            p[1] = 96;
            p[2] = r;
            p[3] = 255;
        }
    }
    let side = 120.min(w).min(h);
    let span_x = (w - side).max(1) as u32 * 2;
    let span_y = (h - side).max(1) as u32 * 2;
    let tri = |v: u32, span: u32| {
        let v = v % span;
        (if v < span / 2 { v } else { span - v }) as usize
    };
    let (x0, y0) = (tri(5 * n, span_x).min(w - side), tri(3 * n, span_y).min(h - side));
    for y in y0..y0 + side {
        px[(y * w + x0) * 4..(y * w + x0 + side) * 4].fill(255);
    }
}

impl Dispatch<wl_registry::WlRegistry, ()> for Demo {
    fn event(
        st: &mut Self,
        reg: &wl_registry::WlRegistry,
        ev: wl_registry::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let wl_registry::Event::Global { name, interface, version } = ev {
            match interface.as_str() {
                "wl_compositor" => st.compositor = Some(reg.bind(name, version.min(4), qh, ())),
                "wl_shm" => st.shm = Some(reg.bind(name, 1, qh, ())),
                "xdg_wm_base" => st.wm = Some(reg.bind(name, 1, qh, ())),
                _ => {}
            }
        }
    }
}

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for Demo {
    fn event(
        _: &mut Self,
        wm: &xdg_wm_base::XdgWmBase,
        ev: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = ev {
            wm.pong(serial);
        }
    }
}

impl Dispatch<xdg_surface::XdgSurface, ()> for Demo {
    fn event(
        st: &mut Self,
        s: &xdg_surface::XdgSurface,
        ev: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = ev {
            s.ack_configure(serial);
            st.configured = true;
        }
    }
}

impl Dispatch<xdg_toplevel::XdgToplevel, ()> for Demo {
    fn event(
        st: &mut Self,
        _: &xdg_toplevel::XdgToplevel,
        ev: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match ev {
            xdg_toplevel::Event::Configure { width, height, .. } if width > 0 && height > 0 => {
                st.size = (width, height)
            }
            xdg_toplevel::Event::Close => st.closed = true,
            _ => {}
        }
    }
}

impl Dispatch<wl_callback::WlCallback, ()> for Demo {
    fn event(
        st: &mut Self,
        _: &wl_callback::WlCallback,
        ev: wl_callback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { .. } = ev {
            st.frame_due = true;
        }
    }
}

impl Dispatch<wl_shm::WlShm, ()> for Demo {
    fn event(_: &mut Self, _: &wl_shm::WlShm, _: wl_shm::Event, _: &(), _: &Connection, _: &QueueHandle<Self>) {}
}

impl Dispatch<wl_buffer::WlBuffer, ()> for Demo {
    fn event(
        _: &mut Self,
        _: &wl_buffer::WlBuffer,
        _: wl_buffer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

wayland_client::delegate_noop!(Demo: ignore wl_compositor::WlCompositor);
wayland_client::delegate_noop!(Demo: ignore wl_surface::WlSurface);
wayland_client::delegate_noop!(Demo: ignore wl_shm_pool::WlShmPool);
