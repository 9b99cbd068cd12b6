//! Smoke measurement of `hub::hash::hash_file` throughput (sha256 + git sha1 in one pass).
//! `cargo run -p hub --example hash_speed -- [MiB]` (dependencies are optimised even in dev builds).

use std::io::Write;
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(512);
    let mut file = tempfile::NamedTempFile::new()?;
    let block: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    for _ in 0..mib {
        file.write_all(&block)?;
    }
    file.flush()?;
    // Warm the page cache so the figure is hashing, not disk.
    hub::hash::hash_file(file.path())?;
    let start = Instant::now();
    let h = hub::hash::hash_file(file.path())?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "hashed {} MiB in {:.3}s: {:.2} GB/s (sha256 {}…, git sha1 {}…)",
        mib,
        secs,
        h.size as f64 / secs / 1e9,
        &h.sha256[..12],
        &h.git_sha1[..12]
    );
    // The two digests alone, over the same bytes in memory, to show where the time goes.
    use sha2::Digest as _;
    let data: Vec<u8> = block.repeat(64);
    let t = Instant::now();
    let d = sha2::Sha256::digest(&data);
    let s256 = data.len() as f64 / t.elapsed().as_secs_f64() / 1e9;
    let t = Instant::now();
    let d1 = sha1::Sha1::digest(&data);
    let s1 = data.len() as f64 / t.elapsed().as_secs_f64() / 1e9;
    println!(
        "in memory: sha256 {s256:.2} GB/s, sha1 {s1:.2} GB/s ({:02x}{:02x})",
        d[0], d1[0]
    );
    Ok(())
}
