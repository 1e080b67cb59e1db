//! Evidence attachments. The client uploads straight to the object store with a short-lived
//! URL; `complete` then checks the object is there with the declared size before the
//! attachment counts (and goes on the timeline). Content types come from an allow-list,
//! sizes are capped, filenames are reduced to a safe form.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{incident, incident_attachment};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};
use serde_json::json;
use uuid::Uuid;

use super::timeline;
use crate::audit::{self, Entry};
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::object_store::{ObjectStore, PresignedPut};
use crate::org::OrgCtx;
use crate::outbox;
use crate::role::Role;

pub type Attachment = incident_attachment::Model;

pub const UPLOAD_TTL: Duration = Duration::from_secs(15 * 60);
pub const DOWNLOAD_TTL: Duration = Duration::from_secs(5 * 60);

/// What evidence may be: screenshots, documents, logs and archives; never HTML or scripts
/// a browser would run from our origin.
pub const ALLOWED_CONTENT_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "text/markdown",
    "application/json",
    "application/x-ndjson",
    "application/zip",
    "application/gzip",
    "application/octet-stream",
];

/// The last path component, with anything but letters, digits, `.`, `-` and `_` replaced.
pub fn sanitize_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    cleaned = cleaned.trim_start_matches('.').chars().take(120).collect();
    if cleaned.trim_matches('_').is_empty() {
        "file".to_owned()
    } else {
        cleaned
    }
}

pub struct Upload {
    pub attachment: Attachment,
    pub upload: PresignedPut,
}

pub struct NewUpload<'a> {
    pub incident_id: Uuid,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
}

pub async fn create_upload(
    db: &Db,
    store: &ObjectStore,
    org: &OrgCtx,
    input: NewUpload<'_>,
    max_bytes: u64,
) -> DomainResult<Upload> {
    org.require(Role::Engineer)?;
    let NewUpload {
        incident_id,
        filename,
        content_type,
        size_bytes,
    } = input;
    let content_type = content_type.trim().to_ascii_lowercase();
    if !ALLOWED_CONTENT_TYPES.contains(&content_type.as_str()) {
        return Err(DomainError::invalid_field(
            "contentType",
            format!(
                "not an accepted type; use one of {}",
                ALLOWED_CONTENT_TYPES.join(", ")
            ),
        ));
    }
    if size_bytes < 1 || size_bytes as u64 > max_bytes {
        return Err(DomainError::invalid_field(
            "sizeBytes",
            format!("between 1 and {max_bytes} bytes"),
        ));
    }
    if filename.trim().is_empty() || filename.chars().count() > 255 {
        return Err(DomainError::invalid_field(
            "filename",
            "1 to 255 characters",
        ));
    }
    let filename = sanitize_filename(filename);
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    incident::Entity::find_in_org(org.org_id(), incident_id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("incident"))?;
    let id = Uuid::now_v7();
    let object_key = format!(
        "orgs/{}/incidents/{incident_id}/attachments/{id}/{filename}",
        org.org_id()
    );
    let attachment = incident_attachment::Model {
        id,
        org_id: org.org_id(),
        incident_id,
        filename,
        content_type: content_type.clone(),
        size_bytes,
        object_key: object_key.clone(),
        status: "PENDING".into(),
        created_by_type: org.actor().kind().to_owned(),
        created_by_id: org.actor().id(),
        created_at: crate::time::now(),
        completed_at: None,
    };
    incident_attachment::Entity::insert(
        incident_attachment::ActiveModel::from(attachment.clone()).reset_all(),
    )
    .exec_without_returning(&tx)
    .await?;
    let upload = store
        .presign_put(&object_key, &content_type, size_bytes as u64, UPLOAD_TTL)
        .await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "attachment.upload_created",
            target_type: "incident_attachment",
            target_id: Some(id),
            before: None,
            after: Some(json!({ "incidentId": incident_id, "filename": attachment.filename, "contentType": content_type, "sizeBytes": size_bytes })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Upload { attachment, upload })
}

/// Marks the upload complete once the object is present with the declared size.
pub async fn complete(
    db: &Db,
    store: &ObjectStore,
    org: &OrgCtx,
    id: Uuid,
) -> DomainResult<Attachment> {
    org.require(Role::Engineer)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let attachment = incident_attachment::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("attachment"))?;
    if attachment.status == "COMPLETE" {
        tx.commit().await?;
        return Ok(attachment);
    }
    match store.size_of(&attachment.object_key).await? {
        None => {
            return Err(DomainError::invalid(
                "nothing has been uploaded for this attachment yet",
            ));
        }
        Some(n) if n != attachment.size_bytes as u64 => {
            return Err(DomainError::invalid(format!(
                "the uploaded object has {n} bytes; {} were declared",
                attachment.size_bytes
            )));
        }
        Some(_) => {}
    }
    let mut change = attachment.into_active_model();
    change.status = Set("COMPLETE".into());
    change.completed_at = Set(Some(crate::time::now()));
    let attachment = change.update(&tx).await?;
    let data = json!({ "attachmentId": attachment.id, "filename": attachment.filename, "contentType": attachment.content_type, "sizeBytes": attachment.size_bytes });
    timeline::append(
        &tx,
        org,
        attachment.incident_id,
        "evidence_added",
        None,
        data.clone(),
    )
    .await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "attachment.completed",
            target_type: "incident_attachment",
            target_id: Some(attachment.id),
            before: None,
            after: Some(data.clone()),
        },
    )
    .await?;
    let mut payload = data;
    payload["incidentId"] = json!(attachment.incident_id);
    outbox::enqueue(&tx, org.org_id(), "incident.evidence_added", payload).await?;
    tx.commit().await?;
    Ok(attachment)
}

/// Completed attachments of an incident, oldest first.
pub async fn of_incident(
    db: &Db,
    org: &OrgCtx,
    incident_id: Uuid,
) -> DomainResult<Vec<Attachment>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let rows = incident_attachment::Entity::find()
        .filter(incident_attachment::Column::OrgId.eq(org.org_id()))
        .filter(incident_attachment::Column::IncidentId.eq(incident_id))
        .filter(incident_attachment::Column::Status.eq("COMPLETE"))
        .order_by_asc(incident_attachment::Column::Id)
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// A short-lived download link for a completed attachment.
pub async fn download_url(
    store: &ObjectStore,
    attachment: &Attachment,
) -> DomainResult<Option<(String, DateTime<Utc>)>> {
    if attachment.status != "COMPLETE" {
        return Ok(None);
    }
    let url = store
        .presign_get(&attachment.object_key, DOWNLOAD_TTL)
        .await?;
    Ok(Some((
        url,
        crate::time::now() + chrono::Duration::from_std(DOWNLOAD_TTL).unwrap_or_default(),
    )))
}

#[cfg(test)]
mod tests {
    use super::sanitize_filename;

    #[test]
    fn filenames_are_reduced_to_a_safe_form() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(
            sanitize_filename("C:\\\\Users\\\\me\\\\shot 1.png"),
            "shot_1.png"
        );
        assert_eq!(sanitize_filename(".hidden"), "hidden");
        assert_eq!(sanitize_filename("<script>.html"), "_script_.html");
        assert_eq!(sanitize_filename("///"), "file");
    }
}
