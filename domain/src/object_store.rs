//! The object store port: S3 (or any S3-compatible endpoint) in production, a local
//! directory in the embedded deployment. Artifacts and reports arrive with later work;
//! today the store is configured, created and checked by `/readyz`.

use std::path::PathBuf;

use crate::config::Config;

#[derive(Clone)]
pub enum ObjectStore {
    Local(PathBuf),
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
    },
}

impl ObjectStore {
    pub async fn from_config(config: &Config) -> anyhow::Result<Self> {
        let Some(s3) = &config.s3 else {
            let dir = config.data_dir.join("objects");
            std::fs::create_dir_all(&dir)?;
            return Ok(ObjectStore::Local(dir));
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
            ObjectStore::Local(dir) => {
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
}
