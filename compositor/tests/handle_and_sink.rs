//! The seams the streaming side uses: a `CompositorHandle` from another thread creates an output whose
//! frames go to a `FrameSink` (here the newest-wins mailbox), and removes it again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use lumen_compositor::{run, Config, OutputMode, RendererChoice};
use lumen_render::{mailbox, Frame, FrameSink, MailboxSink, OutputId, Target};

struct CountingSink {
    inner: MailboxSink,
    created: Arc<AtomicUsize>,
    removed: mpsc::Sender<OutputId>,
}

impl FrameSink for CountingSink {
    fn target_created(&mut self, _output: OutputId, _index: u32, target: &Target) {
        assert!(target.cpu_pixels().is_some(), "pixman targets are CPU images");
        self.created.fetch_add(1, Ordering::SeqCst);
    }
    fn output_removed(&mut self, output: OutputId) {
        let _ = self.removed.send(output);
    }
    fn submit(&mut self, frame: Frame) {
        self.inner.submit(frame)
    }
}

#[test]
fn output_frames_reach_a_sink_on_another_thread() {
    let rt = std::env::temp_dir().join(format!("lumen-handle-test-{}", std::process::id()));
    std::fs::create_dir_all(&rt).unwrap();
    std::env::set_var("XDG_RUNTIME_DIR", &rt);
    let (tx, rx) = mpsc::channel();
    let config = Config {
        renderer: RendererChoice::Pixman,
        outputs: Vec::new(),
        socket: Some(format!("lumen-handle-{}", std::process::id())),
        ..Config::default()
    };
    let compositor = std::thread::spawn(move || {
        run(config, |handle, _socket| {
            tx.send(handle).unwrap();
        })
    });
    let handle = rx.recv_timeout(Duration::from_secs(30)).expect("compositor started");

    let (sink, frames) = mailbox();
    let created = Arc::new(AtomicUsize::new(0));
    let (removed, removals) = mpsc::channel();
    let sink = CountingSink { inner: sink, created: created.clone(), removed };
    let mode = OutputMode { width: 320, height: 240, refresh_mhz: 60_000 };
    let id = handle.create_output(mode, Some(Box::new(sink))).unwrap();

    let frame = frames.take_timeout(Duration::from_secs(10)).expect("first frame");
    assert_eq!(frame.output, id);
    assert_eq!(frame.seq, 1);
    assert_eq!((frame.width, frame.height), (320, 240));
    assert_eq!(created.load(Ordering::SeqCst), lumen_compositor::output::POOL_SIZE);
    // The first frame is fully damaged.
    let d = frame.damage.iter().map(|r| (r.w * r.h) as i64).sum::<i64>();
    assert!(d >= 320 * 240, "first frame damage {:?}", frame.damage);
    let px = frame.target().cpu_pixels().unwrap();
    assert_eq!((px.width, px.height), (320, 240));
    // Nothing changes (no clients): no second frame (a 300 ms observation window, not a wait).
    drop(frame);
    assert!(frames.take_timeout(Duration::from_millis(300)).is_none());

    handle.remove_output(id).unwrap();
    let gone = removals.recv_timeout(Duration::from_secs(5)).expect("the sink is told the output was removed");
    assert_eq!(gone, id);
    assert!(removals.try_recv().is_err(), "output_removed called more than once");

    handle.stop().unwrap();
    compositor.join().unwrap().expect("clean exit");
    assert!(handle.create_output(mode, None).is_err(), "a stopped compositor refuses requests");
    let _ = std::fs::remove_dir_all(&rt);
}
