//! What a test's connections hold in this process (file descriptors,
//! sockets, the blocking adapter's pump threads), to check that they let
//! go of all of it, and waiting for a condition.

use std::thread::{self};
use std::time::{Duration, Instant};

use super::FAULT_NOTICE;

/// The number of open file descriptors of this process (Linux).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// This process's TCP sockets that are not listening: connections, open or
/// already reset (Linux). What a finished connection must not leave.
pub fn connected_sockets() -> usize {
    // Only TCP sockets that are not listening: the connections under test.
    // A runtime's own Unix socket pairs (tokio's signal driver, with the
    // `signal` feature another crate of the workspace turns on) are not
    // connections and stay for the process's life.
    let mut connected = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // State 0A is LISTEN; field 9 the inode.
            if fields.get(3) != Some(&"0A") {
                if let Some(inode) = fields.get(9) {
                    connected.push(format!("socket:[{inode}]"));
                }
            }
        }
    }
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .map(|target| target.display().to_string())
        .filter(|target| connected.contains(target))
        .count()
}

/// What connections hold in this process (fds, the blocking adapter's
/// pump threads), to check that a test's connections let go of all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Open file descriptors.
    pub fds: usize,
    /// `conch-read`/`conch-write` threads.
    pub pump_threads: usize,
}

impl Held {
    /// What is held now.
    pub fn now() -> Self {
        Held {
            fds: open_fds(),
            pump_threads: pump_threads(),
        }
    }

    /// What is held before a test's connections, taken once the connections
    /// of earlier tests in the process have closed (a task or thread may
    /// still be finishing one).
    pub fn baseline() -> Self {
        wait_until(FAULT_NOTICE, || connected_sockets() == 0);
        Self::now()
    }

    /// Whether everything taken since `self` has been let go: no
    /// connection's socket is open, and no more fds or pump threads are
    /// held (what earlier tests left may still close meanwhile, never open).
    pub fn released(&self) -> bool {
        let now = Self::now();
        connected_sockets() == 0 && now.fds <= self.fds && now.pump_threads <= self.pump_threads
    }

    /// What is left, for a failure message.
    pub fn describe_left(&self) -> String {
        format!(
            "{:?} held, {:?} before, {} connected sockets: {}",
            Self::now(),
            self,
            connected_sockets(),
            describe_threads_and_fds()
        )
    }
}

/// The number of this process's threads that run connections: the
/// blocking adapter's `conch-read` and `conch-write` pump threads (Linux).
/// (Other threads come and go with the test harness.)
pub fn pump_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.starts_with("conch-"))
        })
        .count()
}

/// This process's threads (by name) and file descriptors (by target),
/// for the message of a test that found something left behind.
pub fn describe_threads_and_fds() -> String {
    let list = |dir: &str, entry: &dyn Fn(&std::path::Path) -> String| -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .map(|e| entry(&e.path()))
            .collect::<Vec<_>>()
    };
    let threads = list("/proc/self/task", &|p| {
        std::fs::read_to_string(p.join("comm"))
            .unwrap_or_default()
            .trim()
            .to_string()
    });
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let fds = list("/proc/self/fd", &|p| {
        let target = std::fs::read_link(p)
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        // A TCP socket: its ports (hex) and state, from /proc/net/tcp.
        let inode = target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'));
        let line = inode.and_then(|inode| {
            tcp.lines()
                .find(|l| l.split_whitespace().nth(9) == Some(inode))
        });
        match line {
            Some(l) => {
                let f: Vec<&str> = l.split_whitespace().collect();
                format!("{target} {} -> {} st {}", f[1], f[2], f[3])
            }
            None => target,
        }
    });
    format!("threads {threads:?}, fds {fds:?}")
}

/// Checks `cond` every few milliseconds until it holds or `limit` passes
/// (blocking the thread); whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}
