//! Collects every invalid field of an input before refusing it, so a form shows its whole
//! error list at once (`extensions.fields`).

use crate::error::{DomainError, DomainResult, FieldError};

#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn into_result(self) -> DomainResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DomainError::invalid_fields(self.0))
        }
    }
}

/// A trimmed display name of 1 to `max` characters.
pub fn name(problems: &mut Problems, field: &str, raw: &str, max: usize) -> String {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > max {
        problems.add(field, format!("1 to {max} characters"));
    }
    trimmed.to_owned()
}
