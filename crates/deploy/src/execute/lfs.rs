//! LFS uploads: one batch negotiation for the objects the plan needs, then the transfers that the Hub asks
//! for (objects it already stores get no action, which makes a rerun after a failure resume for free), in
//! parallel with a bound. When the Hub picks Xet, the objects go through one Xet upload instead, which
//! sends only the chunks the Hub's store lacks.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt, TryStreamExt};
use hub::{HubClient, LfsBatchObject, LfsObject, Progress, RepoRef, XetFile};

use crate::failure::Failure;
use crate::plan::files::Upload;
use crate::report::{human::bytes, Report, Reporter};
use crate::source::Content;

/// Objects per LFS batch call, and batch calls in flight.
const BATCH_CHUNK: usize = hub::MAX_FILES_PER_REQUEST;
const BATCH_CONCURRENCY: usize = 4;

/// What the upload step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadStats {
    pub objects: usize,
    pub bytes: u64,
    /// Objects the Hub already had.
    pub skipped: usize,
}

/// Where LFS objects go, and how many transfers run at once.
pub struct LfsTarget<'a> {
    pub client: &'a HubClient,
    pub repo: &'a RepoRef,
    pub revision: &'a str,
    /// The commit opens a pull request (Xet tokens are asked for accordingly).
    pub create_pr: bool,
    pub concurrency: usize,
    /// How often progress is printed without a terminal.
    pub progress_every: Duration,
}

/// Where each object's bytes are: oid → (repo path, file).
type Sources = HashMap<String, (String, PathBuf)>;

/// Uploads the LFS objects among `uploads` that the Hub does not have. `done` remembers objects uploaded
/// earlier in this run, so a re-plan after a 412 does not negotiate them again.
pub async fn upload_lfs(
    target: &LfsTarget<'_>,
    uploads: &[Upload],
    done: &mut HashSet<String>,
    reporter: &Reporter,
) -> Result<UploadStats, Failure> {
    let (sources, objects) = wanted(target, uploads, done)?;
    if objects.is_empty() {
        return Ok(UploadStats::default());
    }
    let (stats, todo) = negotiate(target, &objects, done).await?;
    if todo.iter().any(|o| o.via_xet) {
        let finished = xet(target, todo, &sources, stats.bytes, reporter).await?;
        done.extend(finished);
        return Ok(stats);
    }
    if todo.is_empty() {
        reporter.info(&format!(
            "LFS: the Hub already has all {} object(s): nothing to send",
            stats.skipped
        ));
        return Ok(stats);
    }
    reporter.info(&format!(
        "LFS: uploading {} object(s), {}{}",
        stats.objects,
        bytes(stats.bytes),
        if stats.skipped > 0 {
            format!(" ({} already on the Hub)", stats.skipped)
        } else {
            String::new()
        }
    ));
    let finished = transfer(target, todo, &sources, stats.bytes, reporter).await?;
    done.extend(finished);
    Ok(stats)
}

/// The LFS objects of `uploads` not sent yet in this run, and where their bytes are.
fn wanted(
    target: &LfsTarget<'_>,
    uploads: &[Upload],
    done: &HashSet<String>,
) -> Result<(Sources, Vec<LfsObject>), Failure> {
    let mut sources = Sources::new();
    let mut objects = Vec::new();
    for upload in uploads.iter().filter(|u| u.lfs) {
        if done.contains(&upload.file.sha256) || sources.contains_key(&upload.file.sha256) {
            continue;
        }
        // Content held in memory is small generated text (a README, the proxy template): the Hub asks for
        // LFS only when a `.gitattributes` rule in the repo says so.
        let Content::File(source) = &upload.file.content else {
            return Err(Failure::runtime(format!(
                "the Hub wants {} in {} stored as LFS; remove the LFS rule that matches it from the repo's \
                 .gitattributes",
                upload.file.path, target.repo.id
            )));
        };
        sources.insert(
            upload.file.sha256.clone(),
            (upload.file.path.clone(), source.clone()),
        );
        objects.push(LfsObject {
            oid: upload.file.sha256.clone(),
            size: upload.file.size,
        });
    }
    Ok((sources, objects))
}

/// The batch negotiation: which objects the Hub still needs (the others are recorded in `done`).
async fn negotiate(
    target: &LfsTarget<'_>,
    objects: &[LfsObject],
    done: &mut HashSet<String>,
) -> Result<(UploadStats, Vec<LfsBatchObject>), Failure> {
    // Batch calls of up to 256 objects, a few at once: for many LFS files, one round trip each would add up.
    let answers: Vec<Vec<LfsBatchObject>> =
        stream::iter(objects.chunks(BATCH_CHUNK).map(|chunk| async move {
            target
                .client
                .lfs_batch(target.repo, target.revision, chunk)
                .await
                .map_err(|e| Failure::hub("negotiating LFS uploads (batch)", e))
        }))
        .buffered(BATCH_CONCURRENCY)
        .try_collect()
        .await?;
    let mut stats = UploadStats::default();
    let mut todo = Vec::new();
    for answer in answers.into_iter().flatten() {
        if answer.needs_upload() {
            stats.objects += 1;
            stats.bytes += answer.size;
            todo.push(answer);
        } else {
            stats.skipped += 1;
            done.insert(answer.oid.clone());
        }
    }
    Ok((stats, todo))
}

/// Where an object the Hub asked for is (its repo path and file).
fn source_of<'s>(sources: &'s Sources, oid: &str) -> Result<&'s (String, PathBuf), Failure> {
    sources
        .get(oid)
        .ok_or_else(|| Failure::runtime(format!("the Hub asked for an unknown LFS object {oid}")))
}

/// One Xet upload for every object of the batch (the Hub picks the transfer per batch, so none is left for
/// LFS); returns the oids sent. The bar and log lines count bytes read and chunked; the end line says how
/// many bytes actually went over the network.
async fn xet(
    target: &LfsTarget<'_>,
    todo: Vec<LfsBatchObject>,
    sources: &Sources,
    total_bytes: u64,
    reporter: &Reporter,
) -> Result<Vec<String>, Failure> {
    let files = todo
        .iter()
        .map(|o| {
            source_of(sources, &o.oid).map(|(_, path)| XetFile {
                sha256: o.oid.clone(),
                path: path.clone(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    reporter.info(&format!(
        "Xet: {} file(s), {}: only the chunks the Hub does not hold are sent",
        files.len(),
        bytes(total_bytes)
    ));
    let meter = Arc::new(Meter::new(
        total_bytes,
        reporter.progress(total_bytes, "uploading (Xet)"),
        "Xet: {done} of {total} processed",
    ));
    let seen: Progress = {
        let meter = Arc::clone(&meter);
        Arc::new(move |n| meter.add(n))
    };
    let upload = target.client.upload_xet(
        target.repo,
        target.revision,
        target.create_pr,
        &files,
        Some(seen),
    );
    let result = with_heartbeat(&meter, target.progress_every, reporter, upload).await;
    meter.finish();
    let sent = result.map_err(|e| Failure::hub("uploading through Xet", e))?;
    reporter.info(&format!(
        "Xet: {} processed, {} sent ({} already on the Hub)",
        bytes(sent.file_bytes),
        bytes(sent.sent_bytes),
        bytes(sent.deduped_bytes)
    ));
    Ok(todo.into_iter().map(|o| o.oid).collect())
}

/// Runs `work`, printing the meter's line every `every` when there is no terminal (CI logs).
async fn with_heartbeat<T>(
    meter: &Meter,
    every: Duration,
    reporter: &Reporter,
    work: impl std::future::Future<Output = T>,
) -> T {
    if !meter.plain() {
        return work.await;
    }
    // A steady heartbeat, so a multi-GB file is not minutes of silence in a CI log.
    let ticker = async {
        let mut every = tokio::time::interval(every);
        every.tick().await;
        loop {
            every.tick().await;
            reporter.info(&meter.line());
        }
    };
    tokio::select! {
        done = work => done,
        () = ticker => unreachable!("the ticker never ends"),
    }
}

/// The transfers, `target.concurrency` at once; returns the oids sent. On a terminal the bar moves by bytes;
/// in logs (CI, pipes) a line every `progress_every` gives bytes, rate and ETA, and one line per finished file.
async fn transfer(
    target: &LfsTarget<'_>,
    todo: Vec<LfsBatchObject>,
    sources: &Sources,
    total_bytes: u64,
    reporter: &Reporter,
) -> Result<Vec<String>, Failure> {
    let meter = Arc::new(Meter::new(
        total_bytes,
        reporter.progress(total_bytes, "uploading"),
        "LFS: {done} of {total} sent",
    ));
    let total = todo.len();
    let count = AtomicUsize::new(0);
    let count = &count;
    let bytes_seen: Progress = {
        let meter = Arc::clone(&meter);
        Arc::new(move |n| meter.add(n))
    };
    let uploads = stream::iter(todo.into_iter().map(|object| {
        let source = source_of(sources, &object.oid);
        let bytes_seen = Arc::clone(&bytes_seen);
        let plain = meter.plain();
        async move {
            let (path, source) = source?;
            target
                .client
                .upload_lfs(&object, source, Some(bytes_seen))
                .await
                .map_err(|e| Failure::hub(&format!("uploading {path}"), e))?;
            let n = count.fetch_add(1, Ordering::Relaxed) + 1;
            if plain {
                reporter.info(&format!(
                    "LFS: {n}/{total} file(s) uploaded ({path}, {})",
                    bytes(object.size)
                ));
            }
            Ok(object.oid)
        }
    }))
    .buffer_unordered(target.concurrency)
    .try_collect();
    let finished = with_heartbeat(&meter, target.progress_every, reporter, uploads).await;
    meter.finish();
    finished
}

/// Bytes sent so far, for the terminal bar and the log lines.
struct Meter {
    total: u64,
    sent: AtomicI64,
    started: Instant,
    bar: indicatif::ProgressBar,
    /// The start of each log line, with `{done}` and `{total}` to fill in.
    what: &'static str,
}

impl Meter {
    fn new(total: u64, bar: indicatif::ProgressBar, what: &'static str) -> Meter {
        Meter {
            total,
            sent: AtomicI64::new(0),
            started: Instant::now(),
            bar,
            what,
        }
    }

    fn plain(&self) -> bool {
        self.bar.is_hidden()
    }

    fn add(&self, n: i64) {
        let now = self.sent.fetch_add(n, Ordering::Relaxed) + n;
        self.bar.set_position(u64::try_from(now).unwrap_or(0));
    }

    /// `LFS: 12.0 MiB of 64.0 MiB sent (18%), 3.1 MiB/s, about 17s left`.
    fn line(&self) -> String {
        let sent = u64::try_from(self.sent.load(Ordering::Relaxed))
            .unwrap_or(0)
            .min(self.total);
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { sent as f64 / secs } else { 0.0 };
        let left = if rate > 0.0 {
            format!(", about {:.0}s left", (self.total - sent) as f64 / rate)
        } else {
            String::new()
        };
        let what = self
            .what
            .replace("{done}", &bytes(sent))
            .replace("{total}", &bytes(self.total));
        format!(
            "{what} ({}%), {}/s{left}",
            sent * 100 / self.total.max(1),
            bytes(rate as u64),
        )
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
