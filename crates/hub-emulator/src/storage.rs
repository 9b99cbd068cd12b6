//! LFS object storage on disk. Bodies are streamed to a temp file while being hashed (never held
//! whole in memory), then renamed into place once sha256 and size match the announced oid.

use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Mismatch(String),
    #[error("upload interrupted: {0}")]
    Body(String),
}

pub struct LfsStore {
    root: PathBuf,
    objects: PathBuf,
    tmp: PathBuf,
    _temp: Option<tempfile::TempDir>,
    index: Mutex<HashMap<String, u64>>,
    /// Running sha256 of each multipart upload, so completion does not re-read the object.
    progress: Mutex<HashMap<String, HashProgress>>,
}

#[derive(Default)]
struct HashProgress {
    hashed_to: u64,
    /// `None` while a part or a catch-up holds it (`in_use`), or once invalid.
    sha: Option<Sha256>,
    in_use: Option<(u64, u64)>,
    /// Parts written beyond `hashed_to` that arrived out of order (offset → length): hashed from disk as soon
    /// as the bytes before them are, so completion never re-reads a whole object at the end of an upload
    /// whose parts went in parallel.
    written: BTreeMap<u64, u64>,
    /// A part rewrote hashed bytes or failed mid-hash: completion re-hashes from 0.
    invalid: bool,
}

/// Feeds `hasher` with `len` bytes of `path` from `offset` (to the end with `None`); a file shorter than `len`
/// is an error.
fn hash_from_disk(
    path: &Path,
    offset: u64,
    len: Option<u64>,
    hasher: Sha256,
) -> io::Result<Sha256> {
    let mut f = File::open(path)?;
    f.seek(io::SeekFrom::Start(offset))?;
    let mut h = hasher;
    let mut left = len.unwrap_or(u64::MAX);
    let mut buf = vec![0u8; 64 * 1024];
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = f.read(&mut buf[..want])?;
        if n == 0 {
            if len.is_some() {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            break;
        }
        h.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(h)
}

/// Removes `hub-emulator-*` dirs under `dir` left by processes that no longer exist (killed
/// with SIGKILL, so their temp dir was never removed; under /dev/shm that would hold RAM).
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("hub-emulator-") {
            continue;
        }
        let Ok(pid) = std::fs::read_to_string(e.path().join("owner.pid")) else {
            continue;
        };
        let alive = Path::new("/proc").join(pid.trim()).exists();
        if !alive && pid.trim().bytes().all(|b| b.is_ascii_digit()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl LfsStore {
    /// Objects live in `DIR/lfs/objects` with `--data-dir DIR`, else in a temp dir removed on drop:
    /// under `/dev/shm` when it is usable (RAM-backed, so the disk's page-cache throttling never
    /// caps upload speed), else the system temp dir.
    pub fn new(data_dir: Option<&Path>) -> io::Result<Self> {
        let (root, temp) = match data_dir {
            Some(d) => (d.join("lfs"), None),
            None => {
                let builder = || {
                    let mut b = tempfile::Builder::new();
                    b.prefix("hub-emulator-");
                    b
                };
                let shm = Path::new("/dev/shm");
                if shm.is_dir() {
                    remove_stale(shm);
                }
                let t = match shm.is_dir().then(|| builder().tempdir_in(shm)) {
                    Some(Ok(t)) => t,
                    _ => builder().tempdir()?,
                };
                // Lets a later run remove this dir if this process is killed without cleanup.
                std::fs::write(t.path().join("owner.pid"), std::process::id().to_string())?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let objects = root.join("objects");
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&objects)?;
        std::fs::create_dir_all(&tmp)?;
        let mut index = HashMap::new();
        // Objects left by an earlier run with the same data dir stay usable.
        if let Ok(rd) = std::fs::read_dir(&objects) {
            for sub in rd.flatten() {
                if let Ok(files) = std::fs::read_dir(sub.path()) {
                    for f in files.flatten() {
                        let name = f.file_name().to_string_lossy().into_owned();
                        if crate::git_hash::is_sha256(&name) {
                            if let Ok(m) = f.metadata() {
                                index.insert(name, m.len());
                            }
                        }
                    }
                }
            }
        }
        Ok(LfsStore {
            root,
            objects,
            tmp,
            _temp: temp,
            index: Mutex::new(index),
            progress: Mutex::new(HashMap::new()),
        })
    }

    /// The store's directory (the Xet store keeps its data beside the LFS objects).
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn size_of(&self, oid: &str) -> Option<u64> {
        self.index.lock().ok()?.get(oid).copied()
    }

    pub fn object_path(&self, oid: &str) -> PathBuf {
        let shard = oid.get(..2).unwrap_or("xx");
        self.objects.join(shard).join(oid)
    }

    fn commit_object(&self, tmp: &Path, oid: &str, size: u64) -> io::Result<()> {
        let dest = self.object_path(oid);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(tmp, &dest)?;
        if let Ok(mut i) = self.index.lock() {
            i.insert(oid.to_string(), size);
        }
        Ok(())
    }

    fn tmp_path(&self, name: &str) -> PathBuf {
        self.tmp.join(name)
    }

    /// Streams a basic-transfer body to disk, checking sha256 and size.
    pub async fn put_stream(
        &self,
        oid: &str,
        size: u64,
        body: axum::body::Body,
    ) -> Result<(), StoreError> {
        let tmp = self.tmp_path(&crate::ids::random_hex(24));
        // The hashing and writing happen on a blocking thread, pipelined with the socket reads.
        let (tx, mut rx) = mpsc::channel::<Bytes>(64);
        let path = tmp.clone();
        let writer = tokio::task::spawn_blocking(move || -> io::Result<(String, u64)> {
            // Frames are large (hyper reads up to ~400 KiB at a time): write them as they come.
            let mut w = File::create(&path)?;
            let mut h = Sha256::new();
            let mut n = 0u64;
            while let Some(chunk) = rx.blocking_recv() {
                h.update(&chunk);
                w.write_all(&chunk)?;
                n += chunk.len() as u64;
            }
            w.flush()?;
            Ok((hex::encode(h.finalize()), n))
        });
        let mut stream = body.into_data_stream();
        let mut body_err = None;
        while let Some(frame) = stream.next().await {
            match frame {
                Ok(b) => {
                    if tx.send(b).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    body_err = Some(e.to_string());
                    break;
                }
            }
        }
        drop(tx);
        let written = writer
            .await
            .map_err(|e| StoreError::Io(io::Error::other(e.to_string())))?;
        let result = match (body_err, written) {
            (Some(e), _) => Err(StoreError::Body(e)),
            (None, Err(e)) => Err(StoreError::Io(e)),
            (None, Ok((_, n))) if n != size => Err(StoreError::Mismatch(format!(
                "size mismatch: expected {size} bytes, received {n}"
            ))),
            (None, Ok((sha, _))) if sha != oid => Err(StoreError::Mismatch(format!(
                "sha256 mismatch: expected {oid}, content hashes to {sha}"
            ))),
            (None, Ok(_)) => self.commit_object(&tmp, oid, size).map_err(StoreError::Io),
        };
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Creates the (sparse) file multipart parts are written into.
    pub fn create_multipart(&self, upload_id: &str, size: u64) -> io::Result<()> {
        let f = File::create(self.tmp_path(upload_id))?;
        f.set_len(size)?;
        if let Ok(mut m) = self.progress.lock() {
            m.insert(
                upload_id.to_string(),
                HashProgress {
                    sha: Some(Sha256::new()),
                    ..HashProgress::default()
                },
            );
        }
        Ok(())
    }

    /// Claims the running hash when this part continues it (parts in order, as the Python client
    /// sends them); a part that rewrites hashed bytes invalidates it.
    fn claim_hash(&self, upload_id: &str, offset: u64, len: u64) -> Option<Sha256> {
        let mut m = self.progress.lock().ok()?;
        let p = m.get_mut(upload_id)?;
        let overlaps_in_use = p
            .in_use
            .is_some_and(|(o, l)| offset < o + l && o < offset + len);
        if offset < p.hashed_to || overlaps_in_use {
            p.invalid = true;
            return None;
        }
        // A rewrite of a written, not yet hashed part: no catch-up may read it half-written.
        p.written.remove(&offset);
        if offset == p.hashed_to && p.in_use.is_none() && !p.invalid && p.sha.is_some() {
            p.in_use = Some((offset, len));
            return p.sha.take();
        }
        None
    }

    fn release_hash(&self, upload_id: &str, sha: Sha256, ok_len: Option<u64>) {
        if let Ok(mut m) = self.progress.lock() {
            if let Some(p) = m.get_mut(upload_id) {
                p.in_use = None;
                match ok_len {
                    Some(n) if !p.invalid => {
                        p.sha = Some(sha);
                        p.hashed_to += n;
                    }
                    _ => p.invalid = true,
                }
            }
        }
    }

    /// Records a part written without being hashed (it arrived before the bytes preceding it).
    fn note_written(&self, upload_id: &str, offset: u64, len: u64) {
        if let Ok(mut m) = self.progress.lock() {
            if let Some(p) = m.get_mut(upload_id) {
                if offset >= p.hashed_to {
                    p.written.insert(offset, len);
                }
            }
        }
    }

    /// Takes the running hash and the next written part when that part continues it.
    fn claim_next_written(&self, upload_id: &str) -> Option<(Sha256, u64, u64)> {
        let mut m = self.progress.lock().ok()?;
        let p = m.get_mut(upload_id)?;
        if p.invalid || p.in_use.is_some() {
            return None;
        }
        let len = *p.written.get(&p.hashed_to)?;
        let offset = p.hashed_to;
        p.written.remove(&offset);
        let sha = p.sha.take()?;
        p.in_use = Some((offset, len));
        Some((sha, offset, len))
    }

    /// Hashes, from disk, every written part that now continues the running hash. Whoever holds the hash
    /// keeps going until no part is left in order, so once every part request has returned nothing is pending.
    async fn catch_up(&self, upload_id: &str) {
        while let Some((sha, offset, len)) = self.claim_next_written(upload_id) {
            let path = self.tmp_path(upload_id);
            let hashed =
                tokio::task::spawn_blocking(move || hash_from_disk(&path, offset, Some(len), sha))
                    .await;
            match hashed {
                Ok(Ok(h)) => self.release_hash(upload_id, h, Some(len)),
                // Completion falls back to hashing everything from the start.
                _ => self.release_hash(upload_id, Sha256::new(), None),
            }
        }
    }

    /// Writes one part at its offset, hashing it on the way when it continues the running hash.
    pub async fn put_part(
        &self,
        upload_id: &str,
        offset: u64,
        expected: u64,
        body: axum::body::Body,
    ) -> Result<(), StoreError> {
        let path = self.tmp_path(upload_id);
        let hasher = self.claim_hash(upload_id, offset, expected);
        let (tx, mut rx) = mpsc::channel::<Bytes>(64);
        let writer = tokio::task::spawn_blocking(move || -> (io::Result<u64>, Option<Sha256>) {
            let mut hasher = hasher;
            let result = (|| {
                let f = std::fs::OpenOptions::new().write(true).open(&path)?;
                let mut pos = offset;
                while let Some(chunk) = rx.blocking_recv() {
                    if let Some(h) = hasher.as_mut() {
                        h.update(&chunk);
                    }
                    f.write_all_at(&chunk, pos)?;
                    pos += chunk.len() as u64;
                }
                Ok(pos - offset)
            })();
            (result, hasher)
        });
        let mut stream = body.into_data_stream();
        let mut body_err = None;
        let mut sent = 0u64;
        while let Some(frame) = stream.next().await {
            match frame {
                Ok(b) => {
                    sent += b.len() as u64;
                    // Never write past the part: a too-long body would clobber the next part.
                    if sent > expected {
                        body_err = Some(format!("part is longer than {expected} bytes"));
                        break;
                    }
                    if tx.send(b).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    body_err = Some(e.to_string());
                    break;
                }
            }
        }
        drop(tx);
        let (written, hasher) = writer
            .await
            .map_err(|e| StoreError::Io(io::Error::other(e.to_string())))?;
        let outcome = match (written, body_err) {
            (Err(e), _) => Err(StoreError::Io(e)),
            (Ok(_), Some(e)) => Err(StoreError::Body(e)),
            (Ok(n), None) if n != expected => Err(StoreError::Mismatch(format!(
                "part size mismatch: expected {expected} bytes, received {n}"
            ))),
            (Ok(_), None) => Ok(()),
        };
        match hasher {
            Some(h) => self.release_hash(upload_id, h, outcome.is_ok().then_some(expected)),
            None if outcome.is_ok() => self.note_written(upload_id, offset, expected),
            None => {}
        }
        if outcome.is_ok() {
            self.catch_up(upload_id).await;
        }
        outcome
    }

    /// Hashes the assembled file and moves it into place.
    pub async fn complete_multipart(
        &self,
        upload_id: &str,
        oid: &str,
        size: u64,
    ) -> Result<(), StoreError> {
        let path = self.tmp_path(upload_id);
        let p = path.clone();
        // Only the bytes after the running hash are read back (usually none).
        let (start, hasher) = match self
            .progress
            .lock()
            .ok()
            .and_then(|mut m| m.remove(upload_id))
        {
            Some(HashProgress {
                sha: Some(h),
                hashed_to,
                invalid: false,
                in_use: None,
                ..
            }) => (hashed_to, h),
            _ => (0, Sha256::new()),
        };
        let sha = tokio::task::spawn_blocking(move || -> io::Result<String> {
            let h = hash_from_disk(&p, start, None, hasher)?;
            Ok(hex::encode(h.finalize()))
        })
        .await
        .map_err(|e| StoreError::Io(io::Error::other(e.to_string())))??;
        if sha != oid {
            return Err(StoreError::Mismatch(format!(
                "sha256 mismatch after assembling the parts: expected {oid}, got {sha}"
            )));
        }
        self.commit_object(&path, oid, size)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn sha(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    async fn upload(store: &LfsStore, id: &str, data: &[u8], chunk: usize, order: &[usize]) {
        store.create_multipart(id, data.len() as u64).unwrap();
        for &i in order {
            let part = &data[i * chunk..((i + 1) * chunk).min(data.len())];
            store
                .put_part(
                    id,
                    (i * chunk) as u64,
                    part.len() as u64,
                    Body::from(part.to_vec()),
                )
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn multipart_hash_in_order_out_of_order_and_rewritten() {
        let store = LfsStore::new(None).unwrap();
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 256) as u8).collect();
        upload(&store, "a", &data, 3000, &[0, 1, 2, 3]).await;
        assert_eq!(store.progress.lock().unwrap()["a"].hashed_to, 10_000);
        store
            .complete_multipart("a", &sha(&data), 10_000)
            .await
            .unwrap();
        assert_eq!(store.size_of(&sha(&data)), Some(10_000));

        // Out of order: each part is hashed from disk as soon as the parts before it are in.
        let other: Vec<u8> = data.iter().map(|b| b ^ 1).collect();
        upload(&store, "b", &other, 3000, &[2, 0, 3, 1]).await;
        assert_eq!(store.progress.lock().unwrap()["b"].hashed_to, 10_000);
        store
            .complete_multipart("b", &sha(&other), 10_000)
            .await
            .unwrap();

        // Part 0 uploaded, hashed, then rewritten with other bytes: the final hash must see the rewrite.
        let third: Vec<u8> = data.iter().map(|b| b ^ 2).collect();
        upload(&store, "c", &third, 3000, &[0, 1, 2, 3]).await;
        store
            .put_part("c", 0, 3000, Body::from(data[..3000].to_vec()))
            .await
            .unwrap();
        let err = store.complete_multipart("c", &sha(&third), 10_000).await;
        assert!(matches!(err, Err(StoreError::Mismatch(_))), "{err:?}");
    }
}
