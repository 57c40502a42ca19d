//! What one run records while it goes: every request's outcome, the faults and their windows,
//! the tasks the API accepted, and incidents found on the spot.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::time::Instant;
use uuid::Uuid;

use crate::http::Outcome;

/// Grace after a fault ends during which its after-effects (a `503`, a reset connection) are
/// still the fault's: the API's `Retry-After` is 5 s, a pool reconnects within it.
pub const RECOVERY_ALLOWANCE: Duration = Duration::from_secs(15);

/// Whether a request went to the API or straight to S3 (a presigned URL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Api,
    S3,
}

/// One request, as the client saw it.
#[derive(Clone, Debug)]
pub struct Sample {
    pub kind: &'static str,
    pub target: Target,
    /// Since the run's start.
    pub start: Duration,
    pub took: Duration,
    pub status: Option<u16>,
    pub retry_after: bool,
    /// `None` when answered; else what happened.
    pub failure: Option<String>,
    /// For 5xx answers: the body, to report.
    pub detail: Option<String>,
    /// Whether the answer was the one this kind of request expects when all is well.
    pub success: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    LocalStackPaused,
    PostgresRestarted,
    LocalApiKilled,
    ProcessorDied,
}

impl FaultKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::LocalStackPaused => "LocalStack paused (SIGSTOP, then SIGCONT)",
            Self::PostgresRestarted => "Postgres restarted (pg_ctl restart -m fast)",
            Self::LocalApiKilled => "local-api killed (SIGKILL) mid-batch, started again",
            Self::ProcessorDied => "a processor died after writing a result, before completing",
        }
    }

    /// Whether requests to the API itself may go unanswered during it.
    pub fn api_may_be_down(self) -> bool {
        matches!(self, Self::LocalApiKilled)
    }

    /// Whether S3 itself may not answer during it.
    pub fn s3_may_be_down(self) -> bool {
        matches!(self, Self::LocalStackPaused)
    }
}

#[derive(Clone, Debug)]
pub struct Fault {
    pub kind: FaultKind,
    pub start: Duration,
    pub end: Duration,
    /// What exactly happened (pids, the batch seen in flight, the task abandoned).
    pub detail: String,
    /// Until `/health` answered 200 again, from the fault's end.
    pub health_back_after: Option<Duration>,
    /// For the dying processor: until its task was completed by the real one.
    pub task_recovered_after: Option<Duration>,
}

impl Fault {
    pub fn window(&self) -> (Duration, Duration) {
        (self.start, self.end + RECOVERY_ALLOWANCE)
    }
}

/// What became of a direct upload's PUT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Put {
    /// Deliberately never sent: the task must end `cancelled` ("upload not received").
    Never,
    /// S3 answered 200 (or 412 after an attempt whose answer was lost): it must end `completed`.
    Stored,
    /// Every attempt was refused or unanswered with no sign that one landed.
    Failed,
    /// An attempt went unanswered and none succeeded: either ending is right.
    Unknown,
}

/// A task the API accepted (`201`/`202`), and what its ending must be.
#[derive(Clone, Debug)]
pub struct Tracked {
    pub id: Uuid,
    pub email: String,
    pub file: Option<SentFile>,
    pub direct: Option<Put>,
}

#[derive(Clone, Debug)]
pub struct SentFile {
    pub sha256: String,
    pub size: usize,
    /// A file no processor can read (the zip bomb): `cancelled` for the client's reason is right.
    pub unreadable: bool,
}

/// Something wrong seen on the spot, with its evidence.
#[derive(Clone, Debug)]
pub struct Incident {
    pub at: Duration,
    pub email: String,
    pub what: String,
}

#[derive(Default)]
pub struct Records {
    pub samples: Vec<Sample>,
    pub faults: Vec<Fault>,
    pub tasks: HashMap<Uuid, Tracked>,
    /// A 401 to a user who had not logged out (or a correct password refused).
    pub signed_out: Vec<Incident>,
    /// Results read through the API: task → (first document seen, its description).
    pub results_seen: HashMap<Uuid, serde_json::Value>,
    /// Tasks whose result was read twice with different contents, with both.
    pub results_differing: Vec<Incident>,
    /// Files downloaded through the API whose bytes differ from what was sent.
    pub downloads_differing: Vec<Incident>,
    /// Times (since start) of each `401` to a wrong password, by email.
    pub wrong_password_401s: HashMap<String, Vec<Duration>>,
    /// Tasks whose result object the harness itself may have spoiled (see `faults`).
    pub spoiled_by_harness: Vec<Uuid>,
    /// Last time a direct upload was signed.
    pub last_upload_signed: Option<Duration>,
    /// Logouts each user asked for (answered or not): no session may end as `logout` beyond these.
    pub logouts: HashMap<String, u32>,
}

pub struct Run {
    pub started: Instant,
    pub records: Mutex<Records>,
    stop: AtomicBool,
    /// Violations printed as they happen; past [`PRINTED_VIOLATIONS`], only the report has them.
    printed: AtomicUsize,
}

/// How many violations are printed as they happen.
const PRINTED_VIOLATIONS: usize = 10;

impl Run {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            records: Mutex::new(Records::default()),
            stop: AtomicBool::new(false),
            printed: AtomicUsize::new(0),
        }
    }

    pub fn now(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut Records) -> T) -> T {
        let mut guard = match self.records.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Records one request; `success` says whether its answer is this kind's good one.
    pub fn sample(
        &self,
        kind: &'static str,
        target: Target,
        start: Instant,
        outcome: &Outcome,
        success: bool,
    ) {
        let took = start.elapsed();
        let start = start.saturating_duration_since(self.started);
        let (status, retry_after, failure, detail) = match outcome {
            Outcome::Answered(a) => (
                Some(a.status),
                a.has_retry_after(),
                None,
                (a.status >= 500).then(|| a.snippet()),
            ),
            other => (None, false, Some(other.describe()), None),
        };
        self.with(|r| {
            r.samples.push(Sample {
                kind,
                target,
                start,
                took,
                status,
                retry_after,
                failure,
                detail,
                success,
            });
        });
    }

    /// Prints a violation as it happens (the first few; the report lists them all).
    pub fn violation(&self, what: &str) {
        let n = self.printed.fetch_add(1, Ordering::Relaxed);
        if n < PRINTED_VIOLATIONS {
            eprintln!(
                "soak: [{:>5.1}s] VIOLATION {what}",
                self.now().as_secs_f64()
            );
        } else if n == PRINTED_VIOLATIONS {
            eprintln!(
                "soak: (further violations are not printed as they happen; the report lists them)"
            );
        }
    }

    pub fn incident_signed_out(&self, email: &str, what: String) {
        let at = self.now();
        self.violation(&format!("signed out unexpectedly: {email}: {what}"));
        self.with(|r| {
            r.signed_out.push(Incident {
                at,
                email: email.to_owned(),
                what,
            });
        });
    }

    pub fn track(&self, task: Tracked) {
        self.with(|r| {
            r.tasks.insert(task.id, task);
        });
    }
}
