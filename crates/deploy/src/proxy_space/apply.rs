//! The writes, after the target is deployed: create the proxy Space, its settings, its template, then wait
//! for it and probe it. Each step writes only what differs.

use hub::{CreateRepo, HubError, RepoRef};

use super::{
    naming, probe, settings, template, Prepared, ProvisionContext, ProvisionError, ProxyOutputs,
};

/// Creates or updates the proxy Space. Writes nothing that already has the wanted value.
pub async fn apply(
    ctx: &ProvisionContext<'_>,
    prepared: Prepared,
) -> Result<ProxyOutputs, ProvisionError> {
    let report = ctx.report;
    let proxy_ref = RepoRef::space(ctx.proxy.clone());
    let target_url = target_url(ctx).await?;
    let mut changed = false;

    let existed_before = prepared.existing.is_some();
    let mut info = prepared.existing;
    if info.is_none() {
        if ctx.dry_run {
            report.info(&format!(
                "proxy Space {}: would create it (public, docker)",
                ctx.proxy
            ));
        } else {
            create(ctx, &proxy_ref).await?;
            changed = true;
            info = ctx
                .client
                .repo_info(&proxy_ref, None)
                .await
                .map_err(ProvisionError::hub(format!(
                    "reading proxy Space {}",
                    ctx.proxy
                )))?;
        }
    }

    // Settings before the template, so the first build already runs with them.
    let settings_plan = match &target_url {
        Some(url) => {
            let wanted = settings::wanted_variables(
                url,
                &naming::validate_allow_origins(ctx.allow_origins)?,
            );
            settings::plan(
                &prepared.variables,
                prepared.secret_present,
                &wanted,
                ctx.proxy_token,
            )
        }
        None => {
            report.info(&format!(
                "proxy Space {}: would set {} and {} once the target Space exists",
                ctx.proxy,
                settings::TARGET_URL,
                settings::ALLOW_ORIGINS
            ));
            settings::SettingsPlan::default()
        }
    };
    if ctx.dry_run {
        for (key, value) in &settings_plan.variables {
            report.info(&format!(
                "proxy Space {}: would set variable {key} = {value}",
                ctx.proxy
            ));
        }
        if settings_plan.secret {
            report.info(&format!(
                "proxy Space {}: would set secret {}",
                ctx.proxy,
                settings::TOKEN_SECRET
            ));
        }
    } else if !settings_plan.is_empty() {
        settings::apply(
            ctx.client,
            ctx.proxy,
            &settings_plan,
            ctx.proxy_token,
            report,
        )
        .await?;
        changed = true;
    }

    let files = template::render(ctx.target, ctx.proxy);
    let commit = if info.is_some() {
        let (planned, commit) =
            template::sync(ctx.client, &proxy_ref, &files, ctx.dry_run, report).await?;
        match (&commit, ctx.dry_run) {
            (Some(oid), _) => report.info(&format!(
                "proxy Space {}: template {} (commit {oid})",
                ctx.proxy,
                planned.summary()
            )),
            (None, true) if !planned.is_empty() => report.info(&format!(
                "proxy Space {}: would update template: {}",
                ctx.proxy,
                planned.summary()
            )),
            (None, _) => report.info(&format!("proxy Space {}: template up to date", ctx.proxy)),
        }
        commit
    } else if ctx.dry_run {
        report.info(&format!(
            "proxy Space {}: would upload the template ({} files)",
            ctx.proxy,
            files.len()
        ));
        None
    } else {
        return Err(ProvisionError::Failed(format!(
            "proxy Space {} was created but the Hub does not show it; rerun the deploy",
            ctx.proxy
        )));
    };
    changed |= commit.is_some();

    // A commit rebuilds the Space; settings alone need a restart to reach the running proxy.
    if !ctx.dry_run && existed_before && commit.is_none() && !settings_plan.is_empty() {
        ctx.client
            .restart_space(ctx.proxy)
            .await
            .map_err(ProvisionError::hub(format!(
                "restarting {} to apply its new settings",
                ctx.proxy
            )))?;
        report.info(&format!(
            "proxy Space {}: restarted to apply the new settings",
            ctx.proxy
        ));
    }

    let url = info
        .as_ref()
        .and_then(|i| i.host.clone())
        .unwrap_or_default();
    if ctx.wait && !ctx.dry_run {
        probe::wait_and_probe(
            ctx.client,
            ctx.proxy,
            &url,
            ctx.wait_timeout,
            changed,
            report,
        )
        .await?;
    }
    Ok(ProxyOutputs {
        repo_id: ctx.proxy.to_string(),
        url: url.trim_end_matches('/').to_string(),
        commit,
        changed,
    })
}

/// The upstream: `proxy_target_url`, else the target Space's own app URL. `None` only in a dry run whose
/// target does not exist yet.
async fn target_url(ctx: &ProvisionContext<'_>) -> Result<Option<String>, ProvisionError> {
    if let Some(url) = ctx.target_url_override {
        return naming::validate_target_url(url).map(Some);
    }
    let info = ctx
        .client
        .repo_info(&RepoRef::space(ctx.target.clone()), None)
        .await
        .map_err(ProvisionError::hub(format!(
            "reading target Space {}",
            ctx.target
        )))?;
    if info.as_ref().is_some_and(|i| !i.private) {
        ctx.report.info(&format!(
            "target Space {} is public, so callers can also reach it directly; the proxy still adds its \
             CORS policy and limits",
            ctx.target
        ));
    }
    match info.and_then(|i| i.host) {
        Some(host) => naming::validate_target_url(&host).map(Some).map_err(|_| {
            ProvisionError::Failed(format!(
                "target Space {} reports an unusable app URL {host:?}; set proxy_target_url",
                ctx.target
            ))
        }),
        None if ctx.dry_run => Ok(None),
        None => Err(ProvisionError::Failed(format!(
            "target Space {} has no app URL (host) yet; set proxy_target_url or rerun once it exists",
            ctx.target
        ))),
    }
}

async fn create(ctx: &ProvisionContext<'_>, proxy_ref: &RepoRef) -> Result<(), ProvisionError> {
    let opts = CreateRepo {
        private: false,
        space_sdk: Some("docker".to_string()),
    };
    match ctx.client.create_repo(proxy_ref, &opts).await {
        Ok(created) if created.already_existed => {
            ctx.report.info(&format!(
                "proxy Space {} appeared meanwhile; reusing it",
                ctx.proxy
            ));
            Ok(())
        }
        Ok(_) => {
            ctx.report.info(&format!(
                "proxy Space {}: created (public, docker)",
                ctx.proxy
            ));
            Ok(())
        }
        Err(HubError::PaymentRequired { .. }) => {
            Err(naming::check_plan_message(&ctx.proxy.namespace))
        }
        Err(e) => Err(ProvisionError::hub(format!(
            "creating proxy Space {}",
            ctx.proxy
        ))(e)),
    }
}
