//! Smoke measurement of `hub::hash` throughput on one file (page cache warm).
//! `cargo run -p hub --example hash_speed -- [FILE | MiB]` — with a number, a temp file of that size
//! is generated. Dependencies (sha2, sha1) are optimised even in dev builds.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// CPU seconds (user + system) of this process so far, from /proc (Linux; 0 elsewhere).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn rate(label: &str, bytes: u64, run: impl Fn() -> std::io::Result<()>) -> std::io::Result<()> {
    run()?; // warm-up: page cache, CPU frequency
    let (start, cpu) = (Instant::now(), cpu_secs());
    run()?;
    let (secs, cpu) = (start.elapsed().as_secs_f64(), cpu_secs() - cpu);
    let per_cpu = if cpu > 0.0 {
        bytes as f64 / cpu / 1e9
    } else {
        f64::NAN
    };
    println!(
        "{label:<26} wall {secs:>6.3} s {:>5.2} GB/s | cpu {cpu:>6.2} s {per_cpu:>5.2} GB/s per CPU-second",
        bytes as f64 / secs / 1e9
    );
    Ok(())
}

fn main() -> std::io::Result<()> {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "512".into());
    let generated;
    let path: &Path = match arg.parse::<usize>() {
        Ok(mib) => {
            let mut file = tempfile::NamedTempFile::new()?;
            let block: Vec<u8> = (0..1u32 << 20)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect();
            for _ in 0..mib {
                file.write_all(&block)?;
            }
            file.flush()?;
            generated = file;
            generated.path()
        }
        Err(_) => Path::new(&arg),
    };
    let bytes = std::fs::metadata(path)?.len();
    println!("{} bytes", bytes);
    rate("sha256 only", bytes, || {
        hub::hash::hash_file(path, hub::hash::Digests::Sha256Only).map(drop)
    })?;
    rate("sha256 + git blob sha1", bytes, || {
        hub::hash::hash_file(path, hub::hash::Digests::Both).map(drop)
    })?;
    Ok(())
}
