//! The incident lifecycle as pure rules, no I/O:
//!
//! ```text
//! DETECTED → INVESTIGATING → MITIGATED → RESOLVED → POSTMORTEM → CLOSED
//!                                         RESOLVED → CLOSED          (SEV3–SEV4 only)
//!                                         RESOLVED → INVESTIGATING   (re-open)
//! DETECTED | INVESTIGATING → CANCELLED                               (MANAGER+, reason)
//! DETECTED | INVESTIGATING | MITIGATED → DUPLICATE                   (markIncidentDuplicate)
//! ```
//! ENGINEER moves an incident up to RESOLVED (and re-opens it); POSTMORTEM, CLOSED and
//! CANCELLED need MANAGER. CLOSED, CANCELLED and DUPLICATE are terminal.

use std::fmt;
use std::str::FromStr;

use crate::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Detected,
    Investigating,
    Mitigated,
    Resolved,
    Postmortem,
    Closed,
    Cancelled,
    Duplicate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Sev1,
    Sev2,
    Sev3,
    Sev4,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Detected,
        Status::Investigating,
        Status::Mitigated,
        Status::Resolved,
        Status::Postmortem,
        Status::Closed,
        Status::Cancelled,
        Status::Duplicate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Detected => "DETECTED",
            Status::Investigating => "INVESTIGATING",
            Status::Mitigated => "MITIGATED",
            Status::Resolved => "RESOLVED",
            Status::Postmortem => "POSTMORTEM",
            Status::Closed => "CLOSED",
            Status::Cancelled => "CANCELLED",
            Status::Duplicate => "DUPLICATE",
        }
    }

    /// Not yet resolved: the incident is still being worked (SLA clocks run).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::Detected | Status::Investigating | Status::Mitigated
        )
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Closed | Status::Cancelled | Status::Duplicate)
    }
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Sev1,
        Severity::Sev2,
        Severity::Sev3,
        Severity::Sev4,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Sev1 => "SEV1",
            Severity::Sev2 => "SEV2",
            Severity::Sev3 => "SEV3",
            Severity::Sev4 => "SEV4",
        }
    }

    /// SEV1 and SEV2 must go through a postmortem before closing.
    pub fn requires_postmortem(self) -> bool {
        matches!(self, Severity::Sev1 | Severity::Sev2)
    }
}

macro_rules! text_enum {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| format!("unknown value {s:?}"))
            }
        }
    };
}
text_enum!(Status);
text_enum!(Severity);

/// One allowed move: where to, and who may make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    pub to: Status,
    pub min_role: Role,
    /// A note is required (cancellation reason).
    pub needs_note: bool,
}

const fn mv(to: Status, min_role: Role) -> Move {
    Move {
        to,
        min_role,
        needs_note: false,
    }
}

/// Moves `transitionIncident` may make from `from` at `severity` (DUPLICATE has its own
/// mutation and is not listed).
pub fn moves(from: Status, severity: Severity) -> Vec<Move> {
    use Status::*;
    let cancel = Move {
        to: Cancelled,
        min_role: Role::Manager,
        needs_note: true,
    };
    match from {
        Detected => vec![mv(Investigating, Role::Engineer), cancel],
        Investigating => vec![mv(Mitigated, Role::Engineer), cancel],
        Mitigated => vec![mv(Resolved, Role::Engineer)],
        Resolved => {
            let mut m = vec![
                mv(Postmortem, Role::Manager),
                mv(Investigating, Role::Engineer),
            ];
            if !severity.requires_postmortem() {
                m.push(mv(Closed, Role::Manager));
            }
            m
        }
        Postmortem => vec![mv(Closed, Role::Manager)],
        Closed | Cancelled | Duplicate => vec![],
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a move from this state; `allowed` lists where it can go.
    NotAllowed {
        allowed: Vec<Status>,
    },
    Role {
        need: Role,
    },
    NoteRequired,
}

/// Checks one move. The order matters for the error a client sees: an impossible move is
/// reported as such even to a VIEWER, so the allowed states are always discoverable.
pub fn check(
    from: Status,
    to: Status,
    severity: Severity,
    role: Role,
    note: Option<&str>,
) -> Result<Move, Refusal> {
    let options = moves(from, severity);
    let Some(found) = options.iter().find(|m| m.to == to).copied() else {
        return Err(Refusal::NotAllowed {
            allowed: options.iter().map(|m| m.to).collect(),
        });
    };
    if !role.at_least(found.min_role) {
        return Err(Refusal::Role {
            need: found.min_role,
        });
    }
    if found.needs_note && note.is_none_or(|n| n.trim().is_empty()) {
        return Err(Refusal::NoteRequired);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn every_pair_of_states_is_decided() {
        // The complete table: (from, to, SEV1 allowed, SEV4 allowed).
        let allowed =
            |from: Status, to: Status, sev: Severity| moves(from, sev).iter().any(|m| m.to == to);
        let expected: &[(Status, Status)] = &[
            (Detected, Investigating),
            (Detected, Cancelled),
            (Investigating, Mitigated),
            (Investigating, Cancelled),
            (Mitigated, Resolved),
            (Resolved, Postmortem),
            (Resolved, Investigating),
            (Postmortem, Closed),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                let listed = expected.contains(&(from, to));
                assert_eq!(
                    allowed(from, to, Severity::Sev1),
                    listed,
                    "SEV1 {from} → {to}"
                );
                let sev4 = listed || (from, to) == (Resolved, Closed);
                assert_eq!(
                    allowed(from, to, Severity::Sev4),
                    sev4,
                    "SEV4 {from} → {to}"
                );
            }
        }
    }

    #[test]
    fn roles_and_notes() {
        assert_eq!(
            check(
                Detected,
                Investigating,
                Severity::Sev2,
                Role::Engineer,
                None
            )
            .map(|m| m.to),
            Ok(Investigating)
        );
        assert_eq!(
            check(Detected, Investigating, Severity::Sev2, Role::Viewer, None),
            Err(Refusal::Role {
                need: Role::Engineer
            })
        );
        assert_eq!(
            check(
                Detected,
                Cancelled,
                Severity::Sev2,
                Role::Engineer,
                Some("dup")
            ),
            Err(Refusal::Role {
                need: Role::Manager
            })
        );
        assert_eq!(
            check(
                Detected,
                Cancelled,
                Severity::Sev2,
                Role::Manager,
                Some("  ")
            ),
            Err(Refusal::NoteRequired)
        );
        assert_eq!(
            check(Resolved, Closed, Severity::Sev4, Role::Engineer, None),
            Err(Refusal::Role {
                need: Role::Manager
            })
        );
        assert_eq!(
            check(Resolved, Closed, Severity::Sev1, Role::Admin, None),
            Err(Refusal::NotAllowed {
                allowed: vec![Postmortem, Investigating]
            })
        );
        assert_eq!(
            check(Closed, Investigating, Severity::Sev4, Role::Admin, None),
            Err(Refusal::NotAllowed { allowed: vec![] })
        );
    }
}
