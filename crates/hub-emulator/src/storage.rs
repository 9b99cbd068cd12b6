//! LFS object storage on disk. Bodies are streamed to a temp file while being hashed (never held
//! whole in memory), then renamed into place once sha256 and size match the announced oid.

use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
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
    objects: PathBuf,
    tmp: PathBuf,
    _temp: Option<tempfile::TempDir>,
    index: Mutex<HashMap<String, u64>>,
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
                let t = match shm.is_dir().then(|| builder().tempdir_in(shm)) {
                    Some(Ok(t)) => t,
                    _ => builder().tempdir()?,
                };
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
                        if crate::util::is_sha256(&name) {
                            if let Ok(m) = f.metadata() {
                                index.insert(name, m.len());
                            }
                        }
                    }
                }
            }
        }
        Ok(LfsStore {
            objects,
            tmp,
            _temp: temp,
            index: Mutex::new(index),
        })
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
        let tmp = self.tmp_path(&crate::util::random_hex(24));
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
        f.set_len(size)
    }

    /// Writes one part at its offset; returns the byte count.
    pub async fn put_part(
        &self,
        upload_id: &str,
        offset: u64,
        expected: u64,
        body: axum::body::Body,
    ) -> Result<(), StoreError> {
        let path = self.tmp_path(upload_id);
        let (tx, mut rx) = mpsc::channel::<Bytes>(64);
        let writer = tokio::task::spawn_blocking(move || -> io::Result<u64> {
            let f = std::fs::OpenOptions::new().write(true).open(&path)?;
            let mut pos = offset;
            while let Some(chunk) = rx.blocking_recv() {
                f.write_all_at(&chunk, pos)?;
                pos += chunk.len() as u64;
            }
            Ok(pos - offset)
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
        let n = writer
            .await
            .map_err(|e| StoreError::Io(io::Error::other(e.to_string())))??;
        if let Some(e) = body_err {
            return Err(StoreError::Body(e));
        }
        if n != expected {
            return Err(StoreError::Mismatch(format!(
                "part size mismatch: expected {expected} bytes, received {n}"
            )));
        }
        Ok(())
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
        let sha = tokio::task::spawn_blocking(move || -> io::Result<String> {
            let mut f = File::open(&p)?;
            let mut h = Sha256::new();
            let mut buf = vec![0u8; 4 << 20];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
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
