//! `GET /api/whoami-v2`: the user, its orgs (with plans) and the token's role.

use super::json;
use crate::auth;
use crate::clock;
use crate::config::Plan;
use crate::context::Ctx;
use crate::errors::{ApiError, ApiResult};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

pub fn whoami(ctx: &Ctx, headers: &HeaderMap) -> ApiResult<Response> {
    let st = ctx.lock();
    let caller = auth::caller(&st, headers)?
        .ok_or_else(|| ApiError::unauthorized("Invalid credentials in Authorization header"))?;
    let user = st
        .users
        .get(&caller.user.to_ascii_lowercase())
        .ok_or_else(ApiError::invalid_token)?;
    let orgs: Vec<serde_json::Value> = st
        .orgs_of(&user.name)
        .into_iter()
        .map(|o| {
            let first = o
                .members
                .first()
                .is_some_and(|m| m.eq_ignore_ascii_case(&user.name));
            json!({
                "type": "org",
                "id": o.mongo_id,
                "name": o.name,
                "fullname": o.name,
                "avatarUrl": format!("{}/avatars/{}.svg", ctx.base_url, o.name),
                "roleInOrg": if first { "admin" } else { "write" },
                "isEnterprise": false,
                "plan": o.plan.as_str(),
                "canPay": o.plan.is_paid(),
                "periodEnd": serde_json::Value::Null,
            })
        })
        .collect();
    let hub_accounts = st.config.realism.hub_accounts;
    let mut v = json!({
            "type": "user",
            "id": user.mongo_id,
            "name": user.name,
            "fullname": user.name,
            "email": format!("{}@example.invalid", user.name),
            "emailVerified": true,
            "canPay": user.plan.is_paid(),
            "isPro": user.plan == Plan::Pro,
            "plan": user.plan.as_str(),
            "periodEnd": serde_json::Value::Null,
            "avatarUrl": format!("{}/avatars/{}.svg", ctx.base_url, user.name),
            "orgs": orgs,
            "auth": {
                "type": "access_token",
                "accessToken": {
                    "displayName": format!("{}-{}", user.name, caller.role.as_str()),
                    "role": caller.role.as_str(),
                    "createdAt": clock::iso(user.created_at),
                }
            }
    });
    if hub_accounts {
        // The Hub's user objects carry `isPro` and no `plan` (orgs keep theirs); clients must
        // read the user's plan from `isPro`.
        if let Some(o) = v.as_object_mut() {
            o.remove("plan");
            o.insert("isPro".into(), json!(user.plan.is_paid()));
        }
    }
    Ok(json(StatusCode::OK, v))
}
