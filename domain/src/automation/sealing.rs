//! Target secrets at rest: AES-256-GCM with the configured key (`OPSDECK_SECRETS_KEY`; the
//! embedded default generates one into the data directory, production refuses to start
//! without it). The additional data binds each sealed value to its org, target and name, so
//! a value copied onto another row does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use rand::RngCore;
use uuid::Uuid;

use crate::config::Config;

/// The format byte in front of every sealed value; a new key or cipher gets a new one.
const FORMAT_V1: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("OPSDECK_SECRETS_KEY is required when OPSDECK_DATABASE_URL is set (production)")]
    MissingKey,
    #[error("OPSDECK_SECRETS_KEY: expected 64 hexadecimal characters (32 bytes)")]
    BadKey,
    #[error("reading or creating the secrets key file: {0}")]
    KeyFile(#[source] anyhow::Error),
    #[error("a sealed secret does not open with this key (wrong key or tampered row)")]
    Unreadable,
}

#[derive(Clone)]
pub struct Sealer {
    key: std::sync::Arc<LessSafeKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

/// Which secret a sealed value is.
pub struct SecretSlot<'a> {
    pub org_id: Uuid,
    pub target_id: Uuid,
    pub name: &'a str,
}

impl SecretSlot<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(32 + self.name.len());
        aad.extend_from_slice(self.org_id.as_bytes());
        aad.extend_from_slice(self.target_id.as_bytes());
        aad.extend_from_slice(self.name.as_bytes());
        aad
    }
}

impl Sealer {
    pub fn from_config(config: &Config) -> Result<Self, SealError> {
        let bytes = match &config.secrets_key {
            Some(hexed) => hex::decode(hexed.expose().trim()).map_err(|_| SealError::BadKey)?,
            None if config.is_embedded() => {
                std::fs::create_dir_all(&config.data_dir)
                    .map_err(|e| SealError::KeyFile(e.into()))?;
                crate::object_store::load_or_create_key(&config.data_dir.join("secrets.key"))
                    .map_err(SealError::KeyFile)?
            }
            None => return Err(SealError::MissingKey),
        };
        Self::from_key(&bytes)
    }

    pub fn from_key(bytes: &[u8]) -> Result<Self, SealError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::BadKey)?;
        Ok(Sealer {
            key: std::sync::Arc::new(LessSafeKey::new(unbound)),
        })
    }

    pub fn seal(&self, slot: &SecretSlot<'_>, plaintext: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut in_out = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(slot.aad()),
                &mut in_out,
            )
            .expect("AES-GCM sealing cannot fail for inputs this small");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&in_out);
        out
    }

    pub fn open(&self, slot: &SecretSlot<'_>, sealed: &[u8]) -> Result<String, SealError> {
        let (&format, rest) = sealed.split_first().ok_or(SealError::Unreadable)?;
        if format != FORMAT_V1 || rest.len() < NONCE_LEN {
            return Err(SealError::Unreadable);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Unreadable)?;
        let mut body = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(slot.aad()), &mut body)
            .map_err(|_| SealError::Unreadable)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::Unreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(name: &str) -> SecretSlot<'_> {
        SecretSlot {
            org_id: Uuid::nil(),
            target_id: Uuid::max(),
            name,
        }
    }

    #[test]
    fn production_refuses_to_start_without_a_key() {
        let config = |pairs: &[(&str, &str)]| {
            Config::from_env_map(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let production = config(&[("OPSDECK_DATABASE_URL", "postgres://app@db/opsdeck")]).unwrap();
        assert!(matches!(
            Sealer::from_config(&production),
            Err(SealError::MissingKey)
        ));
        let keyed = config(&[
            ("OPSDECK_DATABASE_URL", "postgres://app@db/opsdeck"),
            ("OPSDECK_SECRETS_KEY", &"ab".repeat(32)),
        ])
        .unwrap();
        assert!(Sealer::from_config(&keyed).is_ok());
        assert!(
            config(&[("OPSDECK_SECRETS_KEY", "short")]).is_err(),
            "a malformed key is a configuration error"
        );
        // Embedded: a key is generated once into the data directory and reused.
        let dir = std::env::temp_dir().join(format!("opsdeck-sealing-{}", Uuid::now_v7()));
        let embedded = config(&[("OPSDECK_DATA_DIR", dir.to_str().unwrap())]).unwrap();
        let first = Sealer::from_config(&embedded).unwrap();
        let sealed = first.seal(&slot("pw"), "v");
        let again = Sealer::from_config(&embedded).unwrap();
        assert_eq!(again.open(&slot("pw"), &sealed).unwrap(), "v");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sealed_values_open_only_in_their_slot_and_with_their_key() {
        let sealer = Sealer::from_key(&[7u8; 32]).unwrap();
        let sealed = sealer.seal(&slot("password"), "hunter2");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(sealer.open(&slot("password"), &sealed).unwrap(), "hunter2");
        assert!(sealer.open(&slot("token"), &sealed).is_err());
        let other = Sealer::from_key(&[8u8; 32]).unwrap();
        assert!(other.open(&slot("password"), &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(sealer.open(&slot("password"), &tampered).is_err());
        // A fresh nonce each time.
        assert_ne!(sealed, sealer.seal(&slot("password"), "hunter2"));
    }
}
