//! Simulated writers: each a loop of what a person does in the web app, with its own cookies;
//! and an attacker who tries wrong passwords against victim accounts, many at once.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use tokio::time::{Instant, sleep};
use uuid::Uuid;

use crate::{
    http::{Client, Jar, Outcome, multipart, sha256_hex},
    run::{Incident, Put, Run, SentFile, Target, Tracked},
};

/// The fixtures sent as files (tests/fixtures/).
pub struct Fixtures {
    pub manuscript_docx: Bytes,
    pub bomb_docx: Bytes,
    pub chapter_txt: Bytes,
}

/// What every user shares.
pub struct Ctx {
    pub run: Arc<Run>,
    pub client: Client,
    pub api: String,
    pub fixtures: Fixtures,
    /// Distinguishes this run's accounts.
    pub tag: String,
}

/// The same password for every account: the soak measures the API, not password strength.
const PASSWORD: &str = "soak-correct-horse-battery";
/// Typos a user makes on their own account in a whole run: fewer than the lockout's 10.
const MAX_TYPOS: u32 = 3;

const WORDS: &[&str] = &[
    "the",
    "rain",
    "fell",
    "in",
    "torrents",
    "she",
    "said",
    "and",
    "left",
    "chapter",
    "night",
    "écoute",
    "river",
    "letter",
    "quietly",
    "window",
    "manuscript",
    "draft",
    "ending",
    "✍",
];

pub struct User {
    ctx: Arc<Ctx>,
    pub email: String,
    username: String,
    jar: Jar,
    signed_in: bool,
    /// This user's accepted tasks: id, and whether it has a file.
    tasks: Vec<(Uuid, bool)>,
    typos: u32,
    serial: u32,
}

/// How long to wait before the next action.
type Pace = Option<Duration>;

impl User {
    pub fn new(ctx: Arc<Ctx>, role: &str, index: usize) -> Self {
        let email = format!("{role}-{index}-{}@soak.example", ctx.tag);
        let username = format!("{role}-{index}-{}", ctx.tag);
        Self {
            ctx,
            email,
            username,
            jar: Jar::default(),
            signed_in: false,
            tasks: Vec::new(),
            typos: 0,
            serial: 0,
        }
    }

    fn run(&self) -> &Run {
        &self.ctx.run
    }

    /// One request to the API with this user's cookies; `ok` lists the answers that are right
    /// for this kind of request when all is well.
    async fn api(
        &mut self,
        kind: &'static str,
        method: Method,
        path: &str,
        body: Option<(&str, Bytes)>,
        ok: &[u16],
    ) -> Outcome {
        let route = path.split('?').next().unwrap_or(path);
        let mut headers = Vec::new();
        if let Some(cookie) = self.jar.header_for(route) {
            headers.push(("cookie".to_owned(), cookie));
        }
        let bytes = match body {
            Some((content_type, bytes)) => {
                headers.push(("content-type".to_owned(), content_type.to_owned()));
                bytes
            }
            None => Bytes::new(),
        };
        let url = format!("{}{path}", self.ctx.api);
        let was_signed_in = self.signed_in;
        let start = Instant::now();
        let outcome = self
            .ctx
            .client
            .send(method.clone(), &url, &headers, bytes)
            .await;
        let success = outcome.status().is_some_and(|s| ok.contains(&s));
        self.run()
            .sample(kind, Target::Api, start, &outcome, success);
        if let Outcome::Answered(answer) = &outcome {
            self.jar.store(&answer.headers);
            if answer.status == 401 && was_signed_in {
                self.run().incident_signed_out(
                    &self.email,
                    format!(
                        "{method} {path} ({kind}) answered 401: {}",
                        answer.snippet()
                    ),
                );
                self.signed_in = false;
            }
        }
        outcome
    }

    /// Registers (or, when an earlier answer was lost, logs in), retrying through faults.
    pub async fn register(&mut self) {
        let body = json!({"email": self.email, "username": self.username, "password": PASSWORD});
        while !self.run().stopping() {
            let outcome = self
                .api(
                    "register",
                    Method::POST,
                    "/auth/register",
                    Some(("application/json", Bytes::from(body.to_string()))),
                    &[201],
                )
                .await;
            match outcome.status() {
                Some(201) => {
                    self.signed_in = true;
                    return;
                }
                // Registered by an attempt whose answer was lost.
                Some(409) => {
                    self.log_in().await;
                    return;
                }
                _ => sleep(backoff(&outcome).unwrap_or(Duration::from_secs(1))).await,
            }
        }
    }

    /// Logs in with the right password until it works (or the run ends).
    pub async fn log_in(&mut self) {
        let body = json!({"email": self.email, "password": PASSWORD}).to_string();
        while !self.run().stopping() {
            let outcome = self
                .api(
                    "login",
                    Method::POST,
                    "/auth/login",
                    Some(("application/json", Bytes::from(body.clone()))),
                    &[200],
                )
                .await;
            match &outcome {
                Outcome::Answered(a) if a.status == 200 => {
                    self.signed_in = true;
                    return;
                }
                Outcome::Answered(a) if a.status == 401 => {
                    self.run().incident_signed_out(
                        &self.email,
                        format!("the right password was refused: 401 {}", a.snippet()),
                    );
                    sleep(Duration::from_secs(1)).await;
                }
                other => sleep(backoff(other).unwrap_or(Duration::from_secs(1))).await,
            }
        }
    }

    /// The user's loop until the run stops.
    pub async fn drive(mut self) {
        self.register().await;
        while !self.run().stopping() {
            if !self.signed_in {
                self.log_in().await;
                continue;
            }
            let pace = match fastrand::u32(0..100) {
                0..10 => self.me().await,
                10..22 => self.list().await,
                22..34 => self.get().await,
                34..42 => self.create_json().await,
                42..56 => self.create_with_file().await,
                56..65 => self.direct_upload().await,
                65..74 => self.download().await,
                74..86 => self.result().await,
                86..93 => self.refresh_in_two_tabs().await,
                93..97 => self.log_out_and_in().await,
                _ => self.typo().await,
            };
            let think = Duration::from_millis(fastrand::u64(100..400));
            sleep(pace.unwrap_or(think)).await;
        }
    }

    async fn me(&mut self) -> Pace {
        let outcome = self.api("me", Method::GET, "/auth/me", None, &[200]).await;
        backoff(&outcome)
    }

    async fn list(&mut self) -> Pace {
        let path = match fastrand::u8(0..4) {
            0 => "/api/v1/tasks?status_filter=completed&limit=10",
            1 => "/api/v1/tasks?limit=5&skip=5",
            _ => "/api/v1/tasks?limit=20",
        };
        let outcome = self.api("list", Method::GET, path, None, &[200]).await;
        backoff(&outcome)
    }

    async fn get(&mut self) -> Pace {
        let Some((id, _)) = self.pick(false) else {
            return self.create_json().await;
        };
        let outcome = self
            .api(
                "get",
                Method::GET,
                &format!("/api/v1/tasks/{id}"),
                None,
                &[200],
            )
            .await;
        backoff(&outcome)
    }

    async fn create_json(&mut self) -> Pace {
        self.serial += 1;
        let body = json!({
            "title": format!("Outline {} of {}", self.serial, self.username),
            "description": "plot points, in order",
            "due_date": "2031-01-01T12:00:00Z",
        });
        let outcome = self
            .api(
                "create_json",
                Method::POST,
                "/api/v1/tasks",
                Some(("application/json", Bytes::from(body.to_string()))),
                &[202],
            )
            .await;
        self.accepted(&outcome, None, None);
        backoff(&outcome)
    }

    /// A text of its own (so every file's SHA-256 is unique), or a fixture.
    fn some_file(&mut self) -> (String, &'static str, Bytes, bool) {
        self.serial += 1;
        match fastrand::u32(0..100) {
            0..2 => (
                "bomb.docx".to_owned(),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                self.ctx.fixtures.bomb_docx.clone(),
                true,
            ),
            2..20 => (
                format!("manuscript-{}.docx", self.serial),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                self.ctx.fixtures.manuscript_docx.clone(),
                false,
            ),
            20..30 => (
                "chapter.txt".to_owned(),
                "text/plain",
                self.ctx.fixtures.chapter_txt.clone(),
                false,
            ),
            _ => {
                let size = fastrand::usize(200..16 * 1024);
                (
                    format!("draft {} (v{}).txt", self.serial, fastrand::u8(1..9)),
                    "text/plain",
                    text(&format!("{} draft {}", self.username, self.serial), size),
                    false,
                )
            }
        }
    }

    async fn create_with_file(&mut self) -> Pace {
        let (name, content_type, bytes, unreadable) = self.some_file();
        self.create_file(&name, content_type, bytes, unreadable, "create_file")
            .await
    }

    /// `POST /api/v1/tasks` as multipart with a file; tracked when accepted.
    pub async fn create_file(
        &mut self,
        name: &str,
        content_type: &str,
        bytes: Bytes,
        unreadable: bool,
        kind: &'static str,
    ) -> Pace {
        let title = format!("Manuscript {} of {}", self.serial, self.username);
        let (form_type, body) = multipart(
            &[("title", &title), ("description", "for review")],
            Some((name, content_type, &bytes)),
        );
        let outcome = self
            .api(
                kind,
                Method::POST,
                "/api/v1/tasks",
                Some((&form_type, body)),
                &[202],
            )
            .await;
        let sent = SentFile {
            sha256: sha256_hex(&bytes),
            size: bytes.len(),
            unreadable,
        };
        self.accepted(&outcome, Some(sent), None);
        backoff(&outcome)
    }

    /// Tracks a task the API accepted.
    fn accepted(
        &mut self,
        outcome: &Outcome,
        file: Option<SentFile>,
        direct: Option<Put>,
    ) -> Option<Uuid> {
        let Outcome::Answered(answer) = outcome else {
            return None;
        };
        if !matches!(answer.status, 201 | 202) {
            return None;
        }
        let id = answer.json()["id"].as_str().and_then(|s| s.parse().ok())?;
        self.tasks.push((id, file.is_some()));
        self.run().track(Tracked {
            id,
            email: self.email.clone(),
            file,
            direct,
        });
        Some(id)
    }

    /// A direct upload: sign it, then PUT the bytes to S3 (or, one time in ten, never).
    async fn direct_upload(&mut self) -> Pace {
        self.serial += 1;
        let size = fastrand::usize(200..64 * 1024);
        let bytes = text(&format!("{} direct {}", self.username, self.serial), size);
        let body = json!({
            "title": format!("Upload {} of {}", self.serial, self.username),
            "file": {"name": format!("novel-{}.txt", self.serial), "size": bytes.len(), "content_type": "text/plain"},
        });
        let outcome = self
            .api(
                "create_upload",
                Method::POST,
                "/api/v1/tasks/uploads",
                Some(("application/json", Bytes::from(body.to_string()))),
                &[201],
            )
            .await;
        let Outcome::Answered(answer) = &outcome else {
            return backoff(&outcome);
        };
        if answer.status != 201 {
            return backoff(&outcome);
        }
        let now = self.run().now();
        self.run().with(|r| r.last_upload_signed = Some(now));
        let view = answer.json();
        let sent = SentFile {
            sha256: sha256_hex(&bytes),
            size: bytes.len(),
            unreadable: false,
        };
        let put = if fastrand::u8(0..10) == 0 {
            Put::Never
        } else {
            self.put(&view["upload"], bytes).await
        };
        self.accepted(&outcome, Some(sent), Some(put));
        None
    }

    /// PUTs to the presigned URL with exactly the headers it names, retrying what went unanswered.
    async fn put(&mut self, upload: &Value, bytes: Bytes) -> Put {
        let Some(url) = upload["url"].as_str() else {
            return Put::Failed;
        };
        let headers: Vec<(String, String)> = upload["headers"]
            .as_object()
            .map(|h| {
                h.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let mut unanswered = false;
        for _ in 0..3 {
            let start = Instant::now();
            let outcome = self
                .ctx
                .client
                .send(Method::PUT, url, &headers, bytes.clone())
                .await;
            let status = outcome.status();
            self.run().sample(
                "put_upload",
                Target::S3,
                start,
                &outcome,
                status == Some(200),
            );
            match status {
                Some(200) => return Put::Stored,
                // If-None-Match: * — only an earlier attempt of ours can have stored it.
                Some(412) if unanswered => return Put::Stored,
                Some(s) if s < 500 => {
                    return if unanswered {
                        Put::Unknown
                    } else {
                        Put::Failed
                    };
                }
                _ => {
                    unanswered = true;
                    sleep(Duration::from_secs(2)).await;
                }
            }
        }
        Put::Unknown
    }

    async fn download(&mut self) -> Pace {
        let Some((id, _)) = self.pick(true) else {
            return self.create_with_file().await;
        };
        let outcome = self
            .api(
                "file",
                Method::GET,
                &format!("/api/v1/tasks/{id}/file"),
                None,
                &[200, 404, 409],
            )
            .await;
        let Outcome::Answered(answer) = &outcome else {
            return backoff(&outcome);
        };
        if answer.status != 200 {
            return backoff(&outcome);
        }
        // (`?`: no URL, nothing to fetch; the usual think time follows.)
        let url = answer.json()["url"].as_str().map(str::to_owned)?;
        let start = Instant::now();
        let fetched = self
            .ctx
            .client
            .send(Method::GET, &url, &[], Bytes::new())
            .await;
        self.run().sample(
            "download_bytes",
            Target::S3,
            start,
            &fetched,
            fetched.status() == Some(200),
        );
        if let Outcome::Answered(file) = &fetched
            && file.status == 200
        {
            let expected = self
                .run()
                .with(|r| r.tasks.get(&id).and_then(|t| t.file.clone()));
            if let Some(sent) = expected
                && sha256_hex(&file.body) != sent.sha256
            {
                let at = self.run().now();
                let what = format!(
                    "task {id}: downloaded {} bytes with SHA-256 {}, sent {} bytes with {}",
                    file.body.len(),
                    sha256_hex(&file.body),
                    sent.size,
                    sent.sha256
                );
                self.run().violation(&what);
                let email = self.email.clone();
                self.run().with(|r| {
                    r.downloads_differing.push(Incident { at, email, what });
                });
            }
        }
        None
    }

    async fn result(&mut self) -> Pace {
        let Some((id, _)) = self.pick(true) else {
            return self.create_with_file().await;
        };
        let outcome = self
            .api(
                "result",
                Method::GET,
                &format!("/api/v1/tasks/{id}/result"),
                None,
                &[200, 409],
            )
            .await;
        if let Outcome::Answered(answer) = &outcome
            && answer.status == 200
        {
            let document = answer.json();
            let at = self.run().now();
            let email = self.email.clone();
            let sent = self
                .run()
                .with(|r| r.tasks.get(&id).and_then(|t| t.file.clone()));
            let mut found = Vec::new();
            self.run().with(|r| {
                let first = r.results_seen.entry(id).or_insert_with(|| document.clone());
                if *first != document {
                    let what = format!("task {id}: result read as {first} and later as {document}");
                    found.push(what.clone());
                    r.results_differing.push(Incident {
                        at,
                        email: email.clone(),
                        what,
                    });
                }
                if let Some(sent) = sent
                    && document["sha256"].as_str() != Some(sent.sha256.as_str())
                {
                    let what = format!(
                        "task {id}: result names SHA-256 {}, the file sent has {}",
                        document["sha256"], sent.sha256
                    );
                    found.push(what.clone());
                    r.results_differing.push(Incident { at, email, what });
                }
            });
            for what in found {
                self.run().violation(&what);
            }
        }
        backoff(&outcome)
    }

    /// Two tabs refresh at once with the same refresh cookie: both must get new tokens of the
    /// same session, and neither may sign the user out.
    async fn refresh_in_two_tabs(&mut self) -> Pace {
        // (`?`: without a refresh cookie there is nothing to refresh.)
        self.jar.refresh.as_ref()?;
        let cookie = self.jar.header_for("/auth/refresh")?;
        let url = format!("{}/auth/refresh", self.ctx.api);
        let headers = vec![("cookie".to_owned(), cookie)];
        let (start_a, start_b) = (Instant::now(), Instant::now());
        let (a, b) = tokio::join!(
            self.ctx
                .client
                .send(Method::POST, &url, &headers, Bytes::new()),
            self.ctx
                .client
                .send(Method::POST, &url, &headers, Bytes::new()),
        );
        let mut unanswered = false;
        for (start, outcome) in [(start_a, &a), (start_b, &b)] {
            self.run().sample(
                "refresh",
                Target::Api,
                start,
                outcome,
                outcome.status() == Some(200),
            );
            match outcome {
                Outcome::Answered(answer) => {
                    self.jar.store(&answer.headers);
                    if answer.status == 401 && self.signed_in {
                        let other = if std::ptr::eq(outcome, &a) { &b } else { &a };
                        let other = other
                            .status()
                            .map_or("unanswered".to_owned(), |s| s.to_string());
                        self.run().incident_signed_out(
                            &self.email,
                            format!(
                                "POST /auth/refresh, one of two tabs at once, answered 401 {} (the other tab: {})",
                                answer.snippet(),
                                other,
                            ),
                        );
                        self.signed_in = false;
                    }
                }
                _ => unanswered = true,
            }
        }
        if unanswered && self.signed_in {
            // The token may have been rotated without our hearing of it: retry at once, as a
            // browser's next request would, well within the reuse grace period.
            for _ in 0..20 {
                let outcome = self
                    .api("refresh", Method::POST, "/auth/refresh", None, &[200])
                    .await;
                if outcome.status().is_some() || !self.signed_in {
                    break;
                }
                sleep(Duration::from_secs(1)).await;
            }
        }
        backoff(&a).or(backoff(&b))
    }

    async fn log_out_and_in(&mut self) -> Pace {
        let email = self.email.clone();
        self.run()
            .with(|r| *r.logouts.entry(email).or_default() += 1);
        let outcome = self
            .api("logout", Method::POST, "/auth/logout", None, &[200])
            .await;
        match outcome.status() {
            Some(200) => {}
            // Not revoked: the database refused; still signed in.
            Some(503) => return backoff(&outcome),
            // Unanswered: it may have ended the session; start a new one as the user would.
            _ => self.jar = Jar::default(),
        }
        self.signed_in = false;
        sleep(Duration::from_millis(fastrand::u64(200..800))).await;
        self.log_in().await;
        None
    }

    /// A wrong password on one's own account (while signed in elsewhere): a `401`, and the
    /// session goes on.
    async fn typo(&mut self) -> Pace {
        if self.typos >= MAX_TYPOS {
            return self.me().await;
        }
        self.typos += 1;
        let body = json!({"email": self.email, "password": "soak-wrong-horse"}).to_string();
        let signed_in = self.signed_in;
        // Not through `api`: this 401 is the right answer, and the jar must not be touched.
        let url = format!("{}/auth/login", self.ctx.api);
        let start = Instant::now();
        let outcome = self
            .ctx
            .client
            .send(
                Method::POST,
                &url,
                &[("content-type".to_owned(), "application/json".to_owned())],
                Bytes::from(body),
            )
            .await;
        self.run().sample(
            "login_wrong",
            Target::Api,
            start,
            &outcome,
            outcome.status() == Some(401),
        );
        if outcome.status() == Some(401) {
            let at = self.run().now();
            let email = self.email.clone();
            self.run()
                .with(|r| r.wrong_password_401s.entry(email).or_default().push(at));
        }
        self.signed_in = signed_in;
        backoff(&outcome)
    }

    /// One of this user's tasks at random (with a file, if `with_file`).
    fn pick(&self, with_file: bool) -> Option<(Uuid, bool)> {
        let candidates: Vec<&(Uuid, bool)> = self
            .tasks
            .iter()
            .filter(|(_, has_file)| !with_file || *has_file)
            .collect();
        (!candidates.is_empty()).then(|| *candidates[fastrand::usize(..candidates.len())])
    }
}

/// The pause a client makes after this answer: `Retry-After` (at most 5 s) after a `503` or
/// `429`, a second after no answer; `None` for the usual think time.
pub fn backoff(outcome: &Outcome) -> Pace {
    match outcome {
        Outcome::Answered(a) if a.status == 503 || a.status == 429 => {
            let secs = a
                .headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1);
            Some(Duration::from_secs(secs.clamp(1, 5)))
        }
        Outcome::Answered(_) => None,
        _ => Some(Duration::from_secs(1)),
    }
}

/// `size` bytes of UTF-8 text that start with `head` (so no two are alike).
pub fn text(head: &str, size: usize) -> Bytes {
    let mut out = format!("{head} {:016x}\n", fastrand::u64(..));
    while out.len() < size {
        let word = WORDS[fastrand::usize(..WORDS.len())];
        out.push_str(word);
        out.push(if fastrand::u8(0..12) == 0 { '\n' } else { ' ' });
    }
    Bytes::from(out)
}

/// Wrong passwords against each victim in turn, `burst` at once, every `every`; each `401` is
/// a failed login the API evaluated (the lockout allows 10 per email in 15 minutes).
pub async fn attack(ctx: Arc<Ctx>, victims: Vec<String>, every: Duration, burst: usize) {
    let mut round = 0usize;
    loop {
        let wake = ctx.run.started + every * u32::try_from(round + 1).unwrap_or(u32::MAX);
        tokio::time::sleep_until(wake).await;
        if ctx.run.stopping() || victims.is_empty() {
            return;
        }
        let victim = victims[round % victims.len()].clone();
        round += 1;
        let url = format!("{}/auth/login", ctx.api);
        let attempts = (0..burst).map(|n| {
            let (ctx, url, victim) = (ctx.clone(), url.clone(), victim.clone());
            tokio::spawn(async move {
                let body = json!({"email": victim, "password": format!("guess-{n:04}-wrong")});
                let start = Instant::now();
                let outcome = ctx
                    .client
                    .send(
                        Method::POST,
                        &url,
                        &[("content-type".to_owned(), "application/json".to_owned())],
                        Bytes::from(body.to_string()),
                    )
                    .await;
                let status = outcome.status();
                ctx.run.sample(
                    "login_wrong",
                    Target::Api,
                    start,
                    &outcome,
                    matches!(status, Some(401 | 429)),
                );
                if status == Some(401) {
                    let at = ctx.run.now();
                    ctx.run
                        .with(|r| r.wrong_password_401s.entry(victim).or_default().push(at));
                }
                status
            })
        });
        let mut evaluated = 0;
        let mut locked = 0;
        for attempt in attempts.collect::<Vec<_>>() {
            match attempt.await {
                Ok(Some(401)) => evaluated += 1,
                Ok(Some(429)) => locked += 1,
                _ => {}
            }
        }
        eprintln!(
            "soak: [{:>5.1}s] {burst} wrong passwords at once for {victim}: {evaluated} evaluated (401), {locked} locked out (429)",
            ctx.run.now().as_secs_f64()
        );
    }
}
