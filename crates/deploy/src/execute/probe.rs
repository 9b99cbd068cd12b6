//! After a change: wait for the proxy Space to run, then call its liveness path (which never wakes the
//! private Space) and its readiness path (one cached call through to the private Space with the token).
//! Probe failures are warnings: the Space is deployed, and the message says what to check.

use std::time::Duration;

use hub::{HubClient, RepoId, SpaceStage};

use super::space_wait::{wait_for_space, WaitOptions};
use crate::failure::Failure;
use crate::report::Report;

pub const HEALTH_PATH: &str = "/.proxy/healthz";
pub const READY_PATH: &str = "/.proxy/readyz";

/// How often the liveness path is tried after the Space reports RUNNING (the container may still be binding
/// its port).
const PROBE_ATTEMPTS: u32 = 5;

/// `changed`: whether this run wrote to the proxy Space. An untouched proxy that sleeps (idle Spaces do)
/// or was paused by hand is reported, not woken and not failed: nothing this deploy did is at stake.
pub async fn wait_and_probe(
    client: &HubClient,
    proxy: &RepoId,
    url: &str,
    opts: &WaitOptions,
    changed: bool,
    report: &dyn Report,
) -> Result<(), Failure> {
    if !changed {
        let runtime = client.space_runtime(proxy).await.map_err(|e| {
            Failure::hub(&format!("proxy Space: reading the runtime of {proxy}"), e)
        })?;
        match runtime.stage {
            SpaceStage::Sleeping => {
                report.info(&format!(
                    "proxy Space {proxy} is asleep; its first request wakes it"
                ));
                return Ok(());
            }
            SpaceStage::Paused | SpaceStage::Stopped => {
                report.warn(&format!(
                    "proxy Space {proxy} is {}: callers get no answer until you restart it in its settings",
                    runtime.stage
                ));
                return Ok(());
            }
            _ => {}
        }
    }
    wait_for_space(client, proxy, opts, report)
        .await
        .map_err(|e| Failure::runtime(format!("proxy Space {proxy} did not start: {e}")))?;
    if url.is_empty() {
        report.warn(&format!(
            "proxy Space {proxy} runs but the Hub reports no app URL for it; not probed"
        ));
        return Ok(());
    }
    let mut delay = opts.interval;
    let mut health = None;
    for attempt in 1..=PROBE_ATTEMPTS {
        match client.probe_app(url, HEALTH_PATH).await {
            Ok(200) => {
                health = Some(200);
                break;
            }
            Ok(status) => health = Some(status),
            Err(_) => health = None,
        }
        if attempt < PROBE_ATTEMPTS {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
    match health {
        Some(200) => report.info(&format!("proxy {url} is live ({HEALTH_PATH} 200)")),
        Some(status) => {
            report.warn(&format!(
                "proxy {url} answered {HEALTH_PATH} with {status}; it may not be running hf-space-proxy \
                 (see the Space's logs)"
            ));
            return Ok(());
        }
        None => {
            report.warn(&format!(
                "proxy {url} did not answer {HEALTH_PATH}; see the proxy Space's logs"
            ));
            return Ok(());
        }
    }
    match client.probe_app(url, READY_PATH).await {
        Ok(200) => report.info(&format!("proxy {url} reaches its upstream ({READY_PATH} 200)")),
        Ok(status) => report.warn(&format!(
            "proxy {url} runs but cannot reach the private Space yet ({READY_PATH} {status}); check that \
             proxy_hf_token can read it and that the Space is running"
        )),
        Err(e) => report.warn(&format!("proxy {url}: {READY_PATH} failed: {e}")),
    }
    Ok(())
}
