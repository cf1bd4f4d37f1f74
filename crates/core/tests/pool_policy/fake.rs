//! A stand-in connection for the pool's policy tests: no socket, no server. A `Server` decides
//! how connecting goes (up, down, failing for good, slow) and keeps every connection it opened,
//! so a test can break one, leave one in a transaction, or see which were closed.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pgtide_core::pool::{Callbacks, IdleOrder, Level, Pool, PoolConfig, PoolConnection, PoolKind, Settings};
use pgtide_core::{Error, Result, TransactionStatus};
use tokio::time::Instant;

#[derive(Default)]
pub struct Server {
    next_pid: AtomicI32,
    /// Connection attempts fail, as with a server that refuses them.
    pub down: AtomicBool,
    /// Connection attempts fail in a way no retry can fix (a wrong password...).
    pub refusing_for_good: AtomicBool,
    pub rollback_fails: AtomicBool,
    pub connect_delay: Mutex<Duration>,
    /// When each connection attempt started.
    pub attempts: Mutex<Vec<Instant>>,
    pub opened: Mutex<Vec<Arc<Fake>>>,
}

impl Server {
    pub fn new() -> Arc<Server> {
        Arc::new(Server {
            next_pid: AtomicI32::new(100),
            ..Server::default()
        })
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn set_connect_delay(&self, delay: Duration) {
        *self.connect_delay.lock().unwrap() = delay;
    }

    pub fn attempt_count(&self) -> usize {
        self.attempts.lock().unwrap().len()
    }

    pub fn opened_count(&self) -> usize {
        self.opened.lock().unwrap().len()
    }

    /// Connections opened and not closed.
    pub fn open_count(&self) -> usize {
        self.opened.lock().unwrap().iter().filter(|c| !c.is_closed()).count()
    }

    pub fn by_pid(&self, pid: i32) -> Arc<Fake> {
        let opened = self.opened.lock().unwrap();
        opened
            .iter()
            .find(|c| c.pid == pid)
            .cloned()
            .expect("a connection of this server")
    }
}

pub struct Fake {
    pub pid: i32,
    status: Mutex<TransactionStatus>,
    broken: AtomicBool,
    closed: AtomicBool,
    /// The server ended the session while the connection sat idle.
    ended: AtomicBool,
    pub rollbacks: AtomicUsize,
    pub commits: AtomicUsize,
    pub checks: AtomicUsize,
    server: Arc<Server>,
}

impl Fake {
    pub fn set_status(&self, status: TransactionStatus) {
        *self.status.lock().unwrap() = status;
    }

    pub fn break_it(&self) {
        self.broken.store(true, Ordering::SeqCst);
    }

    pub fn end_session(&self) {
        self.ended.store(true, Ordering::SeqCst);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn unusable_now(&self) -> bool {
        self.closed.load(Ordering::SeqCst) || self.broken.load(Ordering::SeqCst)
    }
}

impl PoolConnection for Fake {
    type Params = Arc<Server>;

    async fn connect(server: Arc<Server>) -> Result<Arc<Fake>> {
        server.attempts.lock().unwrap().push(Instant::now());
        let delay = *server.connect_delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if server.refusing_for_good.load(Ordering::SeqCst) {
            return Err(Error::Config("password authentication failed (stand-in)".into()));
        }
        if server.down.load(Ordering::SeqCst) {
            return Err(Error::operational("connection refused (stand-in)"));
        }
        let conn = Arc::new(Fake {
            pid: server.next_pid.fetch_add(1, Ordering::SeqCst),
            status: Mutex::new(TransactionStatus::Idle),
            broken: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            rollbacks: AtomicUsize::new(0),
            commits: AtomicUsize::new(0),
            checks: AtomicUsize::new(0),
            server: server.clone(),
        });
        server.opened.lock().unwrap().push(conn.clone());
        Ok(conn)
    }

    fn transaction_status(&self) -> TransactionStatus {
        if self.unusable_now() {
            return TransactionStatus::Unknown;
        }
        *self.status.lock().unwrap()
    }

    fn unusable(&self) -> bool {
        self.unusable_now()
    }

    fn lost_while_idle(&self) -> bool {
        self.unusable_now() || self.ended.load(Ordering::SeqCst)
    }

    async fn commit(&self) -> Result<()> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        self.set_status(TransactionStatus::Idle);
        Ok(())
    }

    async fn rollback(&self) -> Result<()> {
        self.rollbacks.fetch_add(1, Ordering::SeqCst);
        if self.server.rollback_fails.load(Ordering::SeqCst) {
            self.break_it();
            return Err(Error::operational(
                "server closed the connection unexpectedly (stand-in)",
            ));
        }
        self.set_status(TransactionStatus::Idle);
        Ok(())
    }

    async fn check(&self) -> Result<()> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        if self.lost_while_idle() {
            return Err(Error::operational("the connection is lost (stand-in)"));
        }
        Ok(())
    }

    async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    fn close_in_background(self: Arc<Self>) {
        self.closed.store(true, Ordering::SeqCst);
    }

    fn describe(&self) -> String {
        format!("backend_pid={} at the stand-in", self.pid)
    }
}

/// A pool's log, kept for assertions.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<(Level, String)>>>);

impl Log {
    pub fn contains(&self, part: &str) -> bool {
        self.0.lock().unwrap().iter().any(|(_, line)| line.contains(part))
    }

    pub fn count(&self, part: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, line)| line.contains(part))
            .count()
    }
}

pub struct Setup {
    pub kind: PoolKind,
    pub min_size: usize,
    pub max_size: usize,
    pub num_workers: usize,
    pub close_returns: bool,
    pub idle_order: IdleOrder,
    pub settings: Settings,
}

impl Setup {
    pub fn regular(min_size: usize, max_size: usize) -> Setup {
        Setup {
            kind: PoolKind::Regular,
            min_size,
            max_size,
            num_workers: 3,
            close_returns: false,
            idle_order: IdleOrder::Fifo,
            settings: Settings::default(),
        }
    }

    pub fn null(max_size: usize) -> Setup {
        Setup {
            kind: PoolKind::Null,
            min_size: 0,
            ..Setup::regular(0, max_size)
        }
    }

    /// The pool, not open yet, with `tweak` applied to its callbacks.
    pub fn build_with(self, server: &Arc<Server>, tweak: impl FnOnce(&mut Callbacks<Fake>)) -> (Pool<Fake>, Log) {
        let server = server.clone();
        let mut callbacks: Callbacks<Fake> = Callbacks::new(Arc::new(move || {
            let server = server.clone();
            Box::pin(async move { Ok(server) })
        }));
        let log = Log::default();
        let lines = log.0.clone();
        callbacks.logger = Some(Arc::new(move |level, line| lines.lock().unwrap().push((level, line))));
        callbacks.log_level = Level::Debug;
        tweak(&mut callbacks);
        let config = PoolConfig {
            kind: self.kind,
            name: "policy".into(),
            min_size: self.min_size,
            max_size: self.max_size,
            num_workers: self.num_workers,
            close_returns: self.close_returns,
            pipeline_depth: 1,
            idle_order: self.idle_order,
            settings: self.settings,
        };
        (Pool::new(config, callbacks), log)
    }

    /// The pool, open and filled to `min_size`.
    pub async fn open(self, server: &Arc<Server>) -> (Pool<Fake>, Log) {
        self.open_with(server, |_| {}).await
    }

    pub async fn open_with(self, server: &Arc<Server>, tweak: impl FnOnce(&mut Callbacks<Fake>)) -> (Pool<Fake>, Log) {
        let (pool, log) = self.build_with(server, tweak);
        pool.open().unwrap();
        pool.wait(Duration::from_secs(30)).await.unwrap();
        (pool, log)
    }
}

/// Polls `condition` on the paused clock (each step lets every ready task run) until it holds,
/// or fails the test after `within` of virtual time.
pub async fn eventually(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    loop {
        if condition() {
            return;
        }
        assert!(start.elapsed() <= within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Lets every task that can run, run (the clock moves by a millisecond at most per step).
pub async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}
