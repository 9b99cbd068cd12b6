//! What every step of a deploy reads: the client, the validated inputs, the tuning and the log.

use hub::HubClient;

use crate::config::DeployConfig;
use crate::report::Reporter;
use crate::tuning::Tuning;

/// The deploy's fixed context, built once by the engine.
pub struct Ctx<'a> {
    pub client: HubClient,
    pub cfg: &'a DeployConfig,
    pub tuning: &'a Tuning,
    pub reporter: &'a Reporter,
}
