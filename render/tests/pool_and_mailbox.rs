//! Pool leasing, buffer ages and the newest-wins mailbox, with real Pixman targets.

use std::time::Duration;

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
    let t = std::thread::spawn(move || rx.take_timeout(Duration::from_secs(5)).map(|f| f.seq));
    std::thread::sleep(Duration::from_millis(50));
    sink.submit(frame(&mut p, 3));
    assert_eq!(t.join().unwrap(), Some(3));
    drop(got);
    assert_eq!(p.available(), 3);
}
