//! The ways to wait, on socket pairs: no server, no runtime.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;

use super::*;
use crate::stream::Stream;

/// Runs `test` on a thread of its own and fails if it does not end within 10 s (a lost
/// wake-up shows as a hang).
fn within_10s(test: impl FnOnce() + Send + 'static) {
    let (done, ended) = mpsc::channel();
    let runner = thread::spawn(move || {
        test();
        let _ = done.send(());
    });
    match ended.recv_timeout(Duration::from_secs(10)) {
        Ok(()) => runner.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => std::panic::resume_unwind(runner.join().unwrap_err()),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("still waiting after 10 s: a wake-up was lost"),
    }
}

fn depth() -> usize {
    WAITING.with(|waiting| waiting.block_on_depth.get())
}

fn noted_sockets() -> Vec<i32> {
    WAITING.with(|waiting| waiting.sockets.borrow().iter().map(|s| s.fd).collect())
}

fn strategy_name() -> &'static str {
    match strategy() {
        Strategy::Reactor => "reactor",
        Strategy::BlockOn => "block_on",
        Strategy::EventLoop(_) => "event loop",
    }
}

#[test]
fn block_on_sleeps_on_the_socket_until_its_peer_writes() {
    within_10s(|| {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut stream = Stream::unix_pair_end(ours);
        let writer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            (&theirs).write_all(b"answer").unwrap();
            theirs
        });
        let mut buf = [0u8; 16];
        // No runtime here: waiting through the reactor would fail, so the read can only have
        // waited in block_on's poll(2).
        let n = block_on(stream.read(&mut buf)).unwrap().unwrap();
        assert_eq!(&buf[..n], b"answer");
        drop(writer.join().unwrap());
        assert_eq!(depth(), 0);
        assert_eq!(strategy_name(), "reactor");
    });
}

#[test]
fn a_waker_fired_on_another_thread_wakes_the_blocked_thread() {
    within_10s(|| {
        let (tx, rx) = oneshot::channel();
        let sender = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            tx.send(7).unwrap();
        });
        assert_eq!(block_on(rx).unwrap().unwrap(), 7);
        sender.join().unwrap();
    });
}

#[test]
fn a_nested_block_on_leaves_a_wake_up_for_the_one_it_ran_inside() {
    within_10s(|| {
        let (tx_outer, mut rx_outer) = oneshot::channel::<u8>();
        let (tx_inner, rx_inner) = oneshot::channel::<u8>();
        let mut senders = Some((tx_outer, tx_inner, rx_inner));
        let mut sender = None;
        let outer = poll_fn(|cx| {
            if let Poll::Ready(value) = Pin::new(&mut rx_outer).poll(cx) {
                return Poll::Ready(value.unwrap());
            }
            if let Some((tx_outer, tx_inner, rx_inner)) = senders.take() {
                // The outer waker is registered: fire it, then the inner one, while the nested
                // call sleeps; the nested call consumes both wake-ups.
                sender = Some(thread::spawn(move || {
                    thread::sleep(Duration::from_millis(20));
                    tx_outer.send(1).unwrap();
                    thread::sleep(Duration::from_millis(20));
                    tx_inner.send(2).unwrap();
                }));
                assert_eq!(depth(), 1);
                let inner = block_on(rx_inner).unwrap().unwrap();
                assert_eq!(inner, 2);
                assert_eq!(depth(), 1, "the nested call is over");
            }
            Poll::Pending
        });
        assert_eq!(block_on(outer).unwrap(), 1);
        sender.unwrap().join().unwrap();
        assert_eq!(depth(), 0);
    });
}

#[test]
fn a_panic_in_a_nested_block_on_puts_the_state_back() {
    within_10s(|| {
        let (noted, _peer) = UnixStream::pair().unwrap();
        let fd = noted.as_raw_fd();
        block_on(async {
            wait_in_block_on(fd, libc::POLLIN);
            let caught = catch_unwind(AssertUnwindSafe(|| {
                block_on(async {
                    assert_eq!(depth(), 2);
                    assert!(noted_sockets().is_empty(), "a nested call notes its own sockets");
                    panic!("in the nested future");
                })
            }));
            assert!(caught.is_err());
            assert_eq!(depth(), 1);
            assert_eq!(strategy_name(), "block_on");
            assert_eq!(noted_sockets(), [fd], "the outer call's sockets are back");
            let caught = catch_unwind(|| never_blocking(|| panic!("in a poll that must not block")));
            assert!(caught.is_err());
            assert_eq!(strategy_name(), "block_on");
        })
        .unwrap();
        assert_eq!(depth(), 0);
        assert_eq!(strategy_name(), "reactor");
        assert!(noted_sockets().is_empty());
    });
}

/// An event loop that records the waits asked of it and releases of sockets.
#[derive(Default)]
struct FakeLoop {
    waits: RefCell<Vec<(u64, libc::c_short, Waker)>>,
    released: Arc<Released>,
}

#[derive(Default)]
struct Released(Mutex<Vec<u64>>);

impl Release for Released {
    fn release(&self, key: u64) {
        self.0.lock().unwrap().push(key);
    }
}

impl EventLoop for FakeLoop {
    fn wait(&self, key: u64, _fd: i32, events: libc::c_short, waker: &Waker) -> Option<Arc<dyn Release>> {
        self.waits.borrow_mut().push((key, events, waker.clone()));
        Some(self.released.clone())
    }
}

#[test]
fn the_strategy_follows_the_thread_state() {
    let event_loop = Rc::new(FakeLoop::default());
    assert_eq!(strategy_name(), "reactor");
    with_event_loop(event_loop.clone(), || {
        assert_eq!(strategy_name(), "event loop");
        block_on(async {
            assert_eq!(strategy_name(), "block_on");
            never_blocking(|| {
                // The loop does not run while its thread is blocked.
                assert_eq!(strategy_name(), "reactor");
            });
        })
        .unwrap();
        assert_eq!(strategy_name(), "event loop");
    });
    assert_eq!(strategy_name(), "reactor");
    let caught = catch_unwind(AssertUnwindSafe(|| with_event_loop(event_loop, || panic!("in a poll"))));
    assert!(caught.is_err());
    assert_eq!(strategy_name(), "reactor", "a panic uninstalls the loop too");
}

struct Flag(Mutex<bool>);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        *self.0.lock().unwrap() = true;
    }
}

#[test]
fn a_socket_waits_on_the_lent_event_loop_and_tells_it_when_it_closes() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let mut stream = Stream::unix_pair_end(ours);
    let event_loop = Rc::new(FakeLoop::default());
    let woken = Arc::new(Flag(Mutex::new(false)));
    let waker = Waker::from(woken.clone());
    let mut buf = [0u8; 16];
    {
        let mut read = pin!(stream.read(&mut buf));
        let mut cx = Context::from_waker(&waker);
        let first = with_event_loop(event_loop.clone(), || read.as_mut().poll(&mut cx));
        assert!(first.is_pending());
        let (key, events, loop_waker) = event_loop.waits.borrow_mut().pop().expect("the loop was asked to wait");
        assert_eq!(events, libc::POLLIN);
        (&theirs).write_all(b"ready").unwrap();
        loop_waker.wake();
        assert!(*woken.0.lock().unwrap(), "the loop wakes the reader's own waker");
        let second = with_event_loop(event_loop.clone(), || read.as_mut().poll(&mut cx));
        assert!(matches!(second, Poll::Ready(Ok(5))));
        drop(stream);
        assert_eq!(*event_loop.released.0.lock().unwrap(), [key]);
    }
}
