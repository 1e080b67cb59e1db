//! The object store port: S3 (or any S3-compatible endpoint) in production, a local
//! directory in the embedded deployment. Clients move bytes directly with short-lived URLs:
//! presigned S3 requests, or URLs the api-server itself serves and checks (HMAC-signed,
//! expiring, bound to the object key, content type and size).

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::config::Config;

#[derive(Clone)]
pub enum ObjectStore {
    Local {
        dir: PathBuf,
        /// Where the api-server serves `/objects/…`.
        public_url: String,
        signing_key: Vec<u8>,
    },
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
    },
}

/// A URL to PUT one object, and the headers the PUT must carry.
#[derive(Debug, Clone)]
pub struct PresignedPut {
    pub url: String,
    pub expires_at: DateTime<Utc>,
    pub headers: Vec<(String, String)>,
}

/// What a local object URL grants, once its signature checks out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    Put { content_type: String, size: u64 },
    Get,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("the link is not valid")]
    BadSignature,
    #[error("the link has expired")]
    Expired,
}

type HmacSha256 = Hmac<Sha256>;

/// Object keys are ours (never user input), but check anyway before touching the disk.
pub fn safe_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
}

pub(crate) fn load_or_create_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(hexed) = std::fs::read_to_string(path) {
        return Ok(hex::decode(hexed.trim())?);
    }
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    std::fs::write(path, hex::encode(&key))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(key)
}

impl ObjectStore {
    pub async fn from_config(config: &Config) -> anyhow::Result<Self> {
        let Some(s3) = &config.s3 else {
            let dir = config.data_dir.join("objects");
            std::fs::create_dir_all(&dir)?;
            let signing_key = match &config.object_signing_key {
                Some(k) => k.expose().as_bytes().to_vec(),
                None => load_or_create_key(&config.data_dir.join("object-signing.key"))?,
            };
            return Ok(ObjectStore::Local {
                dir,
                public_url: config.public_url(),
                signing_key,
            });
        };
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(s3.region.clone()));
        if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
            // Static credentials also skip the instance-metadata lookups.
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                id.clone(),
                secret.expose().to_owned(),
                None,
                None,
                "opsdeck-config",
            ));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared);
        if let Some(endpoint) = &s3.endpoint {
            builder = builder.endpoint_url(endpoint).force_path_style(true);
        }
        Ok(ObjectStore::S3 {
            client: aws_sdk_s3::Client::from_conf(builder.build()),
            bucket: s3.bucket.clone(),
        })
    }

    /// Reachable and usable: the directory exists, or the bucket answers HEAD.
    pub async fn check(&self) -> anyhow::Result<()> {
        match self {
            ObjectStore::Local { dir, .. } => {
                anyhow::ensure!(
                    tokio::fs::metadata(dir).await?.is_dir(),
                    "{} is not a directory",
                    dir.display()
                );
                Ok(())
            }
            ObjectStore::S3 { client, bucket } => {
                client.head_bucket().bucket(bucket).send().await?;
                Ok(())
            }
        }
    }

    fn sign(
        key: &[u8],
        op: &str,
        object: &str,
        content_type: &str,
        size: u64,
        expires: i64,
    ) -> String {
        let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
        mac.update(format!("{op}\n{object}\n{content_type}\n{size}\n{expires}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn encode(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }

    /// A URL to upload `key` with exactly this content type and at most `size` bytes.
    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        ttl: Duration,
    ) -> anyhow::Result<PresignedPut> {
        anyhow::ensure!(safe_key(key), "unsafe object key");
        let expires_at = crate::time::now() + chrono::Duration::from_std(ttl)?;
        let headers = vec![("Content-Type".to_owned(), content_type.to_owned())];
        match self {
            ObjectStore::Local {
                public_url,
                signing_key,
                ..
            } => {
                let exp = expires_at.timestamp();
                let sig = Self::sign(signing_key, "put", key, content_type, size, exp);
                let url = format!(
                    "{public_url}/objects/{key}?op=put&ct={}&len={size}&exp={exp}&sig={sig}",
                    Self::encode(content_type)
                );
                Ok(PresignedPut {
                    url,
                    expires_at,
                    headers,
                })
            }
            ObjectStore::S3 { client, bucket } => {
                let req = client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type(content_type)
                    .content_length(size as i64)
                    .presigned(PresigningConfig::expires_in(ttl)?)
                    .await?;
                Ok(PresignedPut {
                    url: req.uri().to_string(),
                    expires_at,
                    headers,
                })
            }
        }
    }

    /// A URL to download `key`, valid for `ttl`.
    pub async fn presign_get(&self, key: &str, ttl: Duration) -> anyhow::Result<String> {
        anyhow::ensure!(safe_key(key), "unsafe object key");
        match self {
            ObjectStore::Local {
                public_url,
                signing_key,
                ..
            } => {
                let exp = (crate::time::now() + chrono::Duration::from_std(ttl)?).timestamp();
                let sig = Self::sign(signing_key, "get", key, "", 0, exp);
                Ok(format!(
                    "{public_url}/objects/{key}?op=get&exp={exp}&sig={sig}"
                ))
            }
            ObjectStore::S3 { client, bucket } => {
                let req = client
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .presigned(PresigningConfig::expires_in(ttl)?)
                    .await?;
                Ok(req.uri().to_string())
            }
        }
    }

    /// The stored size of `key`, or `None` when there is no such object.
    pub async fn size_of(&self, key: &str) -> anyhow::Result<Option<u64>> {
        anyhow::ensure!(safe_key(key), "unsafe object key");
        match self {
            ObjectStore::Local { dir, .. } => match tokio::fs::metadata(dir.join(key)).await {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            },
            ObjectStore::S3 { client, bucket } => {
                match client.head_object().bucket(bucket).key(key).send().await {
                    Ok(head) => Ok(Some(head.content_length().unwrap_or(0).max(0) as u64)),
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Checks a local object URL (`/objects/{key}?op=…`); S3 URLs are checked by S3.
    pub fn verify_local(
        &self,
        key: &str,
        query: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<Grant, UrlError> {
        let ObjectStore::Local { signing_key, .. } = self else {
            return Err(UrlError::BadSignature);
        };
        if !safe_key(key) {
            return Err(UrlError::BadSignature);
        }
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let exp: i64 = get("exp")
            .and_then(|v| v.parse().ok())
            .ok_or(UrlError::BadSignature)?;
        let sig = get("sig").ok_or(UrlError::BadSignature)?;
        let (grant, expected) = match get("op") {
            Some("put") => {
                let ct = get("ct").ok_or(UrlError::BadSignature)?;
                let size: u64 = get("len")
                    .and_then(|v| v.parse().ok())
                    .ok_or(UrlError::BadSignature)?;
                (
                    Grant::Put {
                        content_type: ct.to_owned(),
                        size,
                    },
                    Self::sign(signing_key, "put", key, ct, size, exp),
                )
            }
            Some("get") => (Grant::Get, Self::sign(signing_key, "get", key, "", 0, exp)),
            _ => return Err(UrlError::BadSignature),
        };
        use subtle::ConstantTimeEq;
        if !bool::from(expected.as_bytes().ct_eq(sig.as_bytes())) {
            return Err(UrlError::BadSignature);
        }
        if now.timestamp() > exp {
            return Err(UrlError::Expired);
        }
        Ok(grant)
    }

    /// Stores the file at `path` as `key`, streamed from disk (memory stays bounded).
    pub async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> anyhow::Result<u64> {
        anyhow::ensure!(safe_key(key), "unsafe object key");
        let size = tokio::fs::metadata(path).await?.len();
        match self {
            ObjectStore::Local { dir, .. } => {
                let target = dir.join(key);
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                // Copy beside the target, then rename: a reader never sees half a file.
                let partial = target.with_extension("partial");
                tokio::fs::copy(path, &partial).await?;
                tokio::fs::rename(&partial, &target).await?;
            }
            ObjectStore::S3 { client, bucket } => {
                let body = aws_sdk_s3::primitives::ByteStream::from_path(path).await?;
                client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type(content_type)
                    .content_length(size as i64)
                    .body(body)
                    .send()
                    .await?;
            }
        }
        Ok(size)
    }

    /// Stores `bytes` as `key` (small objects: screenshots, pages, logs).
    pub async fn put_bytes(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> anyhow::Result<u64> {
        anyhow::ensure!(safe_key(key), "unsafe object key");
        let size = bytes.len() as u64;
        match self {
            ObjectStore::Local { dir, .. } => {
                let target = dir.join(key);
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                let partial = target.with_extension("partial");
                tokio::fs::write(&partial, &bytes).await?;
                tokio::fs::rename(&partial, &target).await?;
            }
            ObjectStore::S3 { client, bucket } => {
                client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type(content_type)
                    .content_length(size as i64)
                    .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
                    .send()
                    .await?;
            }
        }
        Ok(size)
    }

    /// Removes `key`; a missing object is not an error.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        anyhow::ensure!(safe_key(key), "unsafe object key");
        match self {
            ObjectStore::Local { dir, .. } => match tokio::fs::remove_file(dir.join(key)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(()),
            },
            ObjectStore::S3 { client, bucket } => {
                client
                    .delete_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await?;
                Ok(())
            }
        }
    }

    /// The file behind a local object key.
    pub fn local_path(&self, key: &str) -> Option<PathBuf> {
        match self {
            ObjectStore::Local { dir, .. } if safe_key(key) => Some(dir.join(key)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> ObjectStore {
        ObjectStore::Local {
            dir: PathBuf::from("/nonexistent"),
            public_url: "http://127.0.0.1:8080".into(),
            signing_key: b"k".to_vec(),
        }
    }

    fn query(url: &str) -> (String, Vec<(String, String)>) {
        let (path, q) = url.split_once('?').unwrap();
        let key = path.split_once("/objects/").unwrap().1.to_owned();
        (
            key,
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    #[tokio::test]
    async fn local_urls_are_bound_to_key_type_size_and_time() {
        let store = local();
        let put = store
            .presign_put("orgs/a/file.png", "image/png", 10, Duration::from_secs(60))
            .await
            .unwrap();
        let (key, q) = query(&put.url);
        let now = crate::time::now();
        assert_eq!(
            store.verify_local(&key, &q, now),
            Ok(Grant::Put {
                content_type: "image/png".into(),
                size: 10
            })
        );
        assert_eq!(
            store.verify_local("orgs/a/other.png", &q, now),
            Err(UrlError::BadSignature)
        );
        let mut bigger = q.clone();
        bigger.iter_mut().find(|(k, _)| k == "len").unwrap().1 = "11".into();
        assert_eq!(
            store.verify_local(&key, &bigger, now),
            Err(UrlError::BadSignature)
        );
        assert_eq!(
            store.verify_local(&key, &q, now + chrono::Duration::seconds(120)),
            Err(UrlError::Expired)
        );
        assert!(!safe_key("orgs/../etc/passwd") && !safe_key("/abs") && safe_key("orgs/a/b.txt"));
    }
}
