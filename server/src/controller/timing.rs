//! How often the controller polls, how it backs off, and when it gives up.

use std::time::Duration;

use jiff::Timestamp;

#[derive(Clone, Debug)]
pub struct Timing {
    /// Poll interval for async operations when the broker sends no `Retry-After`.
    pub poll_interval: Duration,
    /// Longest a `Retry-After` can make us wait.
    pub max_poll_interval: Duration,
    /// First retry delay after a failed call; doubles per attempt, with jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Retryable failures of one operation before it is given up as failed.
    pub max_attempts: u32,
    /// How long an async operation may run when the plan names no `maximum_polling_duration`.
    pub default_max_polling: Duration,
    /// Broker relist period when the broker names none.
    pub default_relist: Duration,
    /// Every object is reconciled at least this often.
    pub resync: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(2),
            max_poll_interval: Duration::from_secs(300),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            max_attempts: 10,
            default_max_polling: Duration::from_secs(7 * 24 * 3600),
            default_relist: Duration::from_secs(15 * 60),
            resync: Duration::from_secs(10 * 60),
        }
    }
}

impl Timing {
    /// Quick timings for tests.
    pub fn fast() -> Self {
        Self {
            poll_interval: Duration::from_millis(50),
            max_poll_interval: Duration::from_millis(500),
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(200),
            max_attempts: 4,
            default_max_polling: Duration::from_secs(30),
            default_relist: Duration::from_secs(60),
            resync: Duration::from_secs(30),
        }
    }

    /// Delay before retry number `attempt` (1-based): exponential with ±20 % jitter, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.backoff_base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.backoff_max);
        let jitter = 0.8 + 0.4 * fastrand::f64();
        capped.mul_f64(jitter).min(self.backoff_max)
    }

    /// The poll delay: the broker's `Retry-After` when given (bounded), else the interval.
    pub fn poll_delay(&self, retry_after: Option<Duration>) -> Duration {
        retry_after.map_or(self.poll_interval, |d| d.min(self.max_poll_interval))
    }
}

pub fn now() -> Timestamp {
    Timestamp::now().round(jiff::Unit::Millisecond).unwrap_or_else(|_| Timestamp::now())
}

pub fn format(ts: Timestamp) -> String {
    ts.to_string()
}

pub fn parse(ts: Option<&str>) -> Option<Timestamp> {
    ts.and_then(|s| s.parse().ok())
}

/// `ts + d` as RFC 3339.
pub fn after(ts: Timestamp, d: Duration) -> String {
    jiff::SignedDuration::try_from(d).ok().and_then(|d| ts.checked_add(d).ok()).map_or_else(|| format(ts), format)
}

/// Time left until `at`, zero when past or unparsable.
pub fn until(now: Timestamp, at: Option<&str>) -> Option<Duration> {
    let at = parse(at)?;
    let span = at.duration_since(now);
    Some(Duration::try_from(span).unwrap_or(Duration::ZERO))
}

/// How long since `since`, zero when in the future or unparsable.
pub fn since(now: Timestamp, since: Option<&str>) -> Duration {
    parse(since).map_or(Duration::ZERO, |s| Duration::try_from(now.duration_since(s)).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let t =
            Timing { backoff_base: Duration::from_secs(1), backoff_max: Duration::from_secs(60), ..Timing::default() };
        let first = t.backoff(1);
        assert!(first >= Duration::from_millis(800) && first <= Duration::from_millis(1200), "{first:?}");
        let fourth = t.backoff(4);
        assert!(fourth >= Duration::from_millis(6400) && fourth <= Duration::from_millis(9600), "{fourth:?}");
        assert!(t.backoff(30) <= Duration::from_secs(60));
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let t = Timing::default();
        assert_eq!(t.poll_delay(None), t.poll_interval);
        assert_eq!(t.poll_delay(Some(Duration::from_secs(7))), Duration::from_secs(7));
        assert_eq!(t.poll_delay(Some(Duration::from_secs(86_400))), t.max_poll_interval);
    }

    #[test]
    fn time_arithmetic_round_trips() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let later = after(t0, Duration::from_secs(90));
        assert_eq!(until(t0, Some(&later)), Some(Duration::from_secs(90)));
        assert_eq!(since(parse(Some(&later)).unwrap(), Some("2026-01-01T00:00:00Z")), Duration::from_secs(90));
        assert_eq!(until(parse(Some(&later)).unwrap(), Some("2026-01-01T00:00:00Z")), Some(Duration::ZERO));
    }
}
