//! Users: found or created by their OIDC identity (issuer, subject) on each signed-in
//! request. A user invited by email (`members::add`) is claimed at first sign-in when the
//! token carries that email as verified.

use entity::user;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
};
use uuid::Uuid;

use crate::db::Db;
use crate::error::{DomainResult, is_unique_violation};

/// What a verified token says about its subject.
#[derive(Debug, Clone)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub display_name: Option<String>,
}

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub async fn find_by_identity(
    db: &Db,
    issuer: &str,
    subject: &str,
) -> DomainResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Issuer.eq(issuer))
        .filter(user::Column::Subject.eq(subject))
        .one(db)
        .await?)
}

pub async fn find_or_create(db: &Db, id: &Identity) -> DomainResult<user::Model> {
    if let Some(found) = find_by_identity(db, &id.issuer, &id.subject).await? {
        return Ok(found);
    }
    let email = id.email.as_deref().map(normalize_email);
    if let (Some(email), true) = (&email, id.email_verified)
        && let Some(invited) = user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .filter(user::Column::Issuer.is_null())
            .one(db)
            .await?
    {
        let mut claim = invited.into_active_model();
        claim.issuer = Set(Some(id.issuer.clone()));
        claim.subject = Set(Some(id.subject.clone()));
        if id.display_name.is_some() {
            claim.display_name = Set(id.display_name.clone());
        }
        return Ok(claim.update(db).await?);
    }
    // An unverified email is kept only if nobody holds it yet.
    let taken = match &email {
        Some(e) => user::Entity::find()
            .filter(user::Column::Email.eq(e.as_str()))
            .one(db)
            .await?
            .is_some(),
        None => false,
    };
    let new = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        issuer: Set(Some(id.issuer.clone())),
        subject: Set(Some(id.subject.clone())),
        email: Set(if taken { None } else { email }),
        display_name: Set(id.display_name.clone()),
        created_at: Set(crate::time::now()),
    };
    match new.insert(db).await {
        Ok(u) => Ok(u),
        // Two first requests of the same user raced: the other one created the row.
        Err(e) if is_unique_violation(&e) => find_by_identity(db, &id.issuer, &id.subject)
            .await?
            .ok_or_else(|| e.into()),
        Err(e) => Err(e.into()),
    }
}

/// Users by id, in one query (for batched loading).
pub async fn find_many(db: &Db, ids: &[Uuid]) -> DomainResult<Vec<user::Model>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}
