//! Limits on connections that have not authenticated yet, as sshd's
//! `MaxStartups` and `PerSourceMaxStartups` (sshd_config(5)): a listener
//! turns away a new connection when too many are still in their handshake
//! or login, so a flood of half-open connections cannot take all of the
//! server's sessions, and one address cannot take the room the others need.
//!
//! The listener asks [`Startups::admit`] for each accepted socket and holds
//! the returned [`StartupSlot`] until the connection authenticates or ends.
//! `LoginGraceTime` (the core's `TransportConfig::handshake_timeout`) ends
//! the slot of a connection that never gets there.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// `MaxStartups start:rate:full` and `PerSourceMaxStartups`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartupLimits {
    /// Unauthenticated connections accepted without question.
    pub start: u32,
    /// Percentage of new connections refused once `start` are
    /// unauthenticated; it grows linearly to 100 at `full` ("random early
    /// drop", sshd_config(5)).
    pub rate: u32,
    /// Unauthenticated connections past which every new one is refused.
    pub full: u32,
    /// Unauthenticated connections one source address may have at once
    /// (sshd's `PerSourceMaxStartups`); refused connections over it do not
    /// count towards `start` and `full`. `None`: no per-source limit.
    pub per_source: Option<u32>,
}

impl Default for StartupLimits {
    /// sshd's `MaxStartups 10:30:100`, and at most 5 unauthenticated
    /// connections per address (sshd has no per-source limit by default):
    /// half of `start`, so one address alone never reaches the point where
    /// others' connections are dropped.
    fn default() -> Self {
        StartupLimits {
            start: 10,
            rate: 30,
            full: 100,
            per_source: Some(5),
        }
    }
}

impl StartupLimits {
    /// Parses sshd's `MaxStartups` value: `start` or `start:rate:full`.
    pub fn parse_max_startups(&mut self, text: &str) -> Result<(), String> {
        let numbers: Result<Vec<u32>, _> = text.split(':').map(str::parse::<u32>).collect();
        let numbers = numbers.map_err(|e| format!("bad MaxStartups {text:?}: {e}"))?;
        let (start, rate, full) = match numbers[..] {
            [start] => (start, 100, start),
            [start, rate, full] => (start, rate, full),
            _ => {
                return Err(format!(
                    "bad MaxStartups {text:?}: want start or start:rate:full"
                ))
            }
        };
        // sshd's checks (servconf.c).
        if start > full || rate > 100 || rate < 1 && start != full || full == 0 {
            return Err(format!(
                "bad MaxStartups {text:?}: want start <= full, 1 <= rate <= 100"
            ));
        }
        (self.start, self.rate, self.full) = (start, rate, full);
        Ok(())
    }
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `full` or more unauthenticated connections, or the random early drop.
    MaxStartups {
        /// Unauthenticated connections at the time.
        startups: u32,
    },
    /// Its address already has `per_source` unauthenticated connections.
    PerSource {
        /// That limit.
        limit: u32,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::MaxStartups { startups } => {
                write!(f, "past MaxStartups ({startups} unauthenticated)")
            }
            Refusal::PerSource { limit } => write!(f, "past PerSourceMaxStartups {limit}"),
        }
    }
}

/// The count of unauthenticated connections, overall and by address.
#[derive(Debug)]
pub struct Startups {
    limits: StartupLimits,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    total: u32,
    by_source: HashMap<IpAddr, u32>,
    /// Decides the random early drop: seeded, so a test's drops repeat.
    rng: ChaCha20Rng,
}

impl Startups {
    /// No connection yet; the random early drop draws from an RNG seeded
    /// with `seed`.
    pub fn new(limits: StartupLimits, seed: [u8; 32]) -> Arc<Self> {
        Arc::new(Startups {
            limits,
            state: Mutex::new(State {
                total: 0,
                by_source: HashMap::new(),
                rng: ChaCha20Rng::from_seed(seed),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the counts half-updated.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Unauthenticated connections now.
    pub fn unauthenticated(&self) -> u32 {
        self.lock().total
    }

    /// Admits a connection from `source`, or says why not. The slot is
    /// released when dropped.
    pub fn admit(self: &Arc<Self>, source: IpAddr) -> Result<StartupSlot, Refusal> {
        let l = self.limits;
        let mut st = self.lock();
        let from_source = st.by_source.get(&source).copied().unwrap_or(0);
        if let Some(limit) = l.per_source {
            if from_source >= limit {
                return Err(Refusal::PerSource { limit });
            }
        }
        let startups = st.total;
        if startups >= l.full {
            return Err(Refusal::MaxStartups { startups });
        }
        if startups >= l.start {
            // sshd's drop_connection(): p = rate + (100 - rate) * (startups
            // - start) / (full - start), in percent.
            let span = l.full.saturating_sub(l.start).max(1);
            let p = l.rate + (100 - l.rate.min(100)) * (startups - l.start) / span;
            let r = st.rng.next_u32() % 100;
            if r < p {
                return Err(Refusal::MaxStartups { startups });
            }
        }
        st.total += 1;
        *st.by_source.entry(source).or_insert(0) += 1;
        Ok(StartupSlot {
            startups: Arc::clone(self),
            source,
        })
    }
}

/// One admitted connection's place among the unauthenticated ones.
#[derive(Debug)]
pub struct StartupSlot {
    startups: Arc<Startups>,
    source: IpAddr,
}

impl Drop for StartupSlot {
    fn drop(&mut self) {
        let mut st = self.startups.lock();
        st.total = st.total.saturating_sub(1);
        if let Some(n) = st.by_source.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                st.by_source.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_source_cannot_take_the_room_of_the_others() {
        let s = Startups::new(StartupLimits::default(), [1; 32]);
        let held: Vec<_> = (0..5).map(|_| s.admit(ip("127.0.0.2")).unwrap()).collect();
        for _ in 0..200 {
            assert_eq!(
                s.admit(ip("127.0.0.2")).unwrap_err(),
                Refusal::PerSource { limit: 5 }
            );
        }
        // Below `start`: another address is never dropped.
        let other: Vec<_> = (0..5).map(|_| s.admit(ip("127.0.0.1")).unwrap()).collect();
        assert_eq!(s.unauthenticated(), 10);
        drop(held);
        drop(other);
        assert_eq!(s.unauthenticated(), 0);
        assert!(s.admit(ip("127.0.0.2")).is_ok());
    }

    #[test]
    fn random_early_drop_between_start_and_full_then_all_refused() {
        let limits = StartupLimits {
            per_source: None,
            ..StartupLimits::default()
        };
        let s = Startups::new(limits, [2; 32]);
        let mut held = Vec::new();
        let mut refused_below_full = 0;
        for _ in 0..10_000 {
            match s.admit(ip("10.0.0.1")) {
                Ok(slot) => held.push(slot),
                Err(Refusal::MaxStartups { startups }) => {
                    assert!(startups >= 10);
                    if startups < 100 {
                        refused_below_full += 1;
                    }
                }
                Err(other) => panic!("{other:?}"),
            }
            if held.len() == 100 {
                break;
            }
        }
        // The first ten always get in; then some are dropped at random.
        assert_eq!(held.len(), 100);
        assert!(refused_below_full > 30, "{refused_below_full}");
        assert!(matches!(
            s.admit(ip("10.0.0.1")),
            Err(Refusal::MaxStartups { startups: 100 })
        ));
    }

    #[test]
    fn max_startups_parses_as_sshd_does() {
        let mut l = StartupLimits::default();
        l.parse_max_startups("20:50:200").unwrap();
        assert_eq!((l.start, l.rate, l.full), (20, 50, 200));
        l.parse_max_startups("7").unwrap();
        assert_eq!((l.start, l.rate, l.full), (7, 100, 7));
        for bad in ["", "1:2", "10:30:5", "10:101:100", "a:b:c"] {
            assert!(l.parse_max_startups(bad).is_err(), "{bad}");
        }
    }
}
