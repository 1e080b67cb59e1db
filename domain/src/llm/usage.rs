//! Per-organization LLM usage by calendar month (UTC): calls, failures and tokens, and
//! the monthly token cap that stops further calls (QUOTA_EXCEEDED).

use chrono::{DateTime, Datelike, Utc};
use entity::{llm_usage, organization};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use uuid::Uuid;

use super::client::Tokens;
use crate::config::LlmConfig;
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::org::OrgCtx;
use crate::role::Role;

pub fn month_of(t: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", t.year(), t.month())
}

/// A month's counters, with the cap and whether the model may be asked at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub month: String,
    pub calls: i64,
    pub failures: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub token_cap: i64,
    /// The organization opted in.
    pub enabled: bool,
    /// An endpoint is configured.
    pub configured: bool,
}

impl Usage {
    pub fn tokens(&self) -> i64 {
        self.prompt_tokens + self.completion_tokens
    }

    pub fn may_call(&self) -> bool {
        self.enabled && self.configured
    }
}

pub async fn read(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    month: &str,
    cfg: &LlmConfig,
) -> DomainResult<Usage> {
    let org = organization::Entity::find_by_id(org_id)
        .one(conn)
        .await?
        .ok_or(DomainError::not_found("organization"))?;
    let row = llm_usage::Entity::find_by_id((org_id, month.to_owned()))
        .one(conn)
        .await?;
    Ok(Usage {
        month: month.to_owned(),
        calls: row.as_ref().map_or(0, |r| r.calls),
        failures: row.as_ref().map_or(0, |r| r.failures),
        prompt_tokens: row.as_ref().map_or(0, |r| r.prompt_tokens),
        completion_tokens: row.as_ref().map_or(0, |r| r.completion_tokens),
        token_cap: org
            .llm_monthly_token_cap
            .unwrap_or(cfg.monthly_token_cap as i64),
        enabled: org.llm_enabled,
        configured: cfg.base_url.is_some(),
    })
}

/// ADMIN: a month's usage (`YYYY-MM`).
pub async fn get(db: &Db, org: &OrgCtx, month: &str, cfg: &LlmConfig) -> DomainResult<Usage> {
    org.require(Role::Admin)?;
    let valid = month.len() == 7
        && chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_ok();
    if !valid {
        return Err(DomainError::invalid_field("month", "a month as YYYY-MM"));
    }
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let usage = read(&tx, org.org_id(), month, cfg).await?;
    tx.commit().await?;
    Ok(usage)
}

/// Refuses a call once the month's tokens reached the cap.
pub fn check_cap(usage: &Usage) -> DomainResult<()> {
    if usage.tokens() >= usage.token_cap {
        return Err(DomainError::QuotaExceeded(format!(
            "the organization used {} of its {} LLM tokens in {}; generation that needs the model waits for next month or a higher llmMonthlyTokenCap",
            usage.tokens(),
            usage.token_cap,
            usage.month
        )));
    }
    Ok(())
}

/// Adds one call (failed or not) and its tokens to the month's counters.
pub async fn record(
    db: &Db,
    org_id: Uuid,
    month: &str,
    failed: bool,
    tokens: Tokens,
) -> DomainResult<()> {
    let tx = db::begin(db, Scope::org(org_id)).await?;
    let failures = i64::from(failed);
    let row = llm_usage::ActiveModel {
        org_id: Set(org_id),
        month: Set(month.to_owned()),
        calls: Set(1),
        failures: Set(failures),
        prompt_tokens: Set(tokens.prompt),
        completion_tokens: Set(tokens.completion),
        updated_at: Set(crate::time::now()),
    };
    use llm_usage::Column as C;
    llm_usage::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([C::OrgId, C::Month])
                .value(C::Calls, Expr::col((llm_usage::Entity, C::Calls)).add(1))
                .value(
                    C::Failures,
                    Expr::col((llm_usage::Entity, C::Failures)).add(failures),
                )
                .value(
                    C::PromptTokens,
                    Expr::col((llm_usage::Entity, C::PromptTokens)).add(tokens.prompt),
                )
                .value(
                    C::CompletionTokens,
                    Expr::col((llm_usage::Entity, C::CompletionTokens)).add(tokens.completion),
                )
                .value(C::UpdatedAt, Expr::value(crate::time::now()))
                .to_owned(),
        )
        .exec_without_returning(&tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
