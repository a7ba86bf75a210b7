//! Pool leasing, buffer ages and the newest-wins mailbox, with real Pixman targets.

use std::time::{Duration, Instant};

use lumen_render::{mailbox, Frame, FrameSink, OutputId, Renderer, RendererChoice, TargetPool};
use smithay::backend::allocator::Fourcc;

fn pool(n: usize) -> (Renderer, TargetPool) {
    let mut r = lumen_render::select(RendererChoice::Pixman).expect("pixman");
    let targets = (0..n).map(|_| r.create_target(64, 32).expect("target")).collect();
    (r, TargetPool::new(targets))
}

fn frame(pool: &mut TargetPool, seq: u64) -> Frame {
    let (index, _age) = pool.pick().expect("free target");
    let (lease, mut damage) = pool.lend(index).expect("lend");
    damage.push(lumen_render::DamageRect { x: 0, y: 0, w: 64, h: 32 });
    Frame::new(OutputId(0), seq, Duration::ZERO, 64, 32, Fourcc::Xrgb8888, damage, None, lease)
}

#[test]
fn leases_return_and_ages_follow_content() {
    let (_r, mut p) = pool(3);
    assert_eq!(p.available(), 3);
    // Never-rendered targets have age 0 (unknown content).
    assert_eq!(p.pick().map(|(_, age)| age), Some(0));
    let f1 = frame(&mut p, 1);
    assert_eq!(p.available(), 2);
    let idx1 = f1.target_index();
    let px = f1.target().cpu_pixels().expect("cpu target");
    assert_eq!((px.width, px.height), (64, 32));
    assert!(px.stride >= 64 * 4 && px.data.len() == px.stride * 32);
    drop(f1);
    assert_eq!(p.available(), 3);
    // The target that holds the newest frame is picked again, with age 1.
    assert_eq!(p.pick(), Some((idx1, 1)));
    // While it is lent out, another one is used and its age is unknown (0) or older.
    let f2 = frame(&mut p, 2);
    let (other, age) = p.pick().expect("free");
    assert_ne!(other, f2.target_index());
    assert_eq!(age, 0);
    // All three lent: nothing to pick.
    let f3 = frame(&mut p, 3);
    let f4 = frame(&mut p, 4);
    assert_eq!(p.pick(), None);
    drop((f2, f3, f4));
    assert_eq!(p.available(), 3);
}

#[test]
fn targets_outliving_their_pool_are_freed() {
    let (_r, mut p) = pool(2);
    let f = frame(&mut p, 1);
    drop(p);
    drop(f); // returns into a closed channel: freed, no panic
}

#[test]
fn mailbox_keeps_only_the_newest_frame() {
    let (_r, mut p) = pool(3);
    let (mut sink, rx) = mailbox();
    sink.submit(frame(&mut p, 1));
    sink.submit(frame(&mut p, 2));
    // Frame 1 was replaced and its target went back to the pool.
    assert_eq!(p.available(), 2);
    assert_eq!(rx.replaced(), 1);
    let got = rx.take_timeout(Duration::from_millis(100)).expect("frame");
    assert_eq!(got.seq, 2);
    assert!(rx.try_take().is_none());
    // A consumer blocked in `take_timeout` is woken by the submit: submit once it is parked there.
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        tid_tx.send(current_tid()).unwrap();
        rx.take_timeout(Duration::from_secs(5)).map(|f| f.seq)
    });
    let tid = tid_rx.recv_timeout(Duration::from_secs(5)).expect("consumer thread started");
    wait_until_sleeping(tid, Duration::from_secs(5));
    sink.submit(frame(&mut p, 3));
    assert_eq!(t.join().unwrap(), Some(3));
    drop(got);
    assert_eq!(p.available(), 3);
}

/// The kernel's id of the calling thread (the first field of `/proc/thread-self/stat`).
fn current_tid() -> u32 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("/proc/thread-self/stat");
    stat.split_whitespace().next().and_then(|t| t.parse().ok()).expect("tid")
}

/// Waits until thread `tid` of this process is asleep (state `S`: blocked, here in the mailbox's condvar,
/// its only blocking call after telling us its id); panics after `timeout`.
fn wait_until_sleeping(tid: u32, timeout: Duration) {
    let path = format!("/proc/self/task/{tid}/stat");
    let deadline = Instant::now() + timeout;
    let mut state = String::new();
    while Instant::now() < deadline {
        let stat = std::fs::read_to_string(&path).unwrap_or_default();
        // "pid (comm) S ...": the state follows the last ')' (comm may contain spaces and parentheses).
        state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().chars().take(1).collect()).unwrap_or_default();
        if state == "S" {
            return;
        }
        std::thread::sleep(Duration::from_millis(1)); // the poll interval
    }
    panic!("consumer thread {tid} never blocked within {timeout:?} (last state {state:?})");
}

/// A sink's attachment (the GPU route's CUDA registration) travels with the frame through the mailbox: a
/// shared reference, read back by type; another type reads as `None`; dropping the frame drops its share.
#[test]
fn attachments_travel_with_the_frame() {
    let (_r, mut p) = pool(2);
    let (mut sink, rx) = lumen_render::mailbox();
    let tag = std::sync::Arc::new(42u64);
    let mut f = frame(&mut p, 1);
    assert!(f.attachment::<u64>().is_none());
    f.set_attachment(tag.clone());
    lumen_render::FrameSink::submit(&mut sink, f);
    let got = rx.take_timeout(Duration::from_secs(1)).expect("frame");
    assert_eq!(got.attachment::<u64>(), Some(&42));
    assert!(got.attachment::<u32>().is_none());
    assert_eq!(std::sync::Arc::strong_count(&tag), 2);
    drop(got);
    assert_eq!(std::sync::Arc::strong_count(&tag), 1);
}
