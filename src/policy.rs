//! Who is asking and who may see what: the vocabulary of access control, shared by the
//! catalog's configuration, the index and the view.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer};

/// Who may see a layer or an attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in staff member.
    Internal,
    /// Staff holding at least one of these roles.
    Roles(BTreeSet<String>),
}

impl Audience {
    /// Whether everyone admitted by `self` is also admitted by `outer`.
    pub fn is_within(&self, outer: &Audience) -> bool {
        match (self, outer) {
            (_, Audience::Public) => true,
            (Audience::Public, _) => false,
            (_, Audience::Internal) => true,
            (Audience::Internal, Audience::Roles(_)) => false,
            (Audience::Roles(inner), Audience::Roles(outer)) => inner.is_subset(outer),
        }
    }

    /// Whether `principal` belongs to this audience.
    pub fn admits(&self, principal: &Principal) -> bool {
        match (self, principal) {
            (Audience::Public, _) => true,
            (_, Principal::Anonymous) => false,
            (Audience::Internal, Principal::Staff { .. }) => true,
            (Audience::Roles(wanted), Principal::Staff { roles, .. }) => {
                wanted.iter().any(|r| roles.contains(r))
            }
        }
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Audience::Public => f.write_str("public"),
            Audience::Internal => f.write_str("internal"),
            Audience::Roles(r) => {
                let list: Vec<_> = r.iter().map(String::as_str).collect();
                write!(f, "roles [{}]", list.join(", "))
            }
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            Roles(Vec<String>),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "public" => Ok(Audience::Public),
            Raw::Word(w) if w == "internal" => Ok(Audience::Internal),
            Raw::Word(w) => Err(de::Error::custom(format!(
                "audience must be \"public\", \"internal\" or a list of roles, got \"{w}\""
            ))),
            Raw::Roles(r) if r.is_empty() || r.iter().any(|x| x.trim().is_empty()) => Err(
                de::Error::custom("audience role list must name at least one non-empty role"),
            ),
            Raw::Roles(r) => Ok(Audience::Roles(r.into_iter().collect())),
        }
    }
}

/// Whoever is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A resident on the public map, or anyone not signed in.
    Anonymous,
    /// A signed-in staff member with their department and roles.
    Staff {
        user: String,
        department: String,
        roles: BTreeSet<String>,
    },
}

impl Principal {
    /// The name written to the audit log: the user, or `-` for anonymous callers.
    pub fn name(&self) -> &str {
        match self {
            Principal::Anonymous => "-",
            Principal::Staff { user, .. } => user,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(r: &[&str]) -> BTreeSet<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn audiences_admit_the_right_principals() {
        let anon = Principal::Anonymous;
        let welfare = Principal::Staff {
            user: "a".into(),
            department: "福祉課".into(),
            roles: roles(&["staff", "welfare"]),
        };
        let water = Principal::Staff {
            user: "b".into(),
            department: "上下水道課".into(),
            roles: roles(&["staff", "water"]),
        };
        let restricted = Audience::Roles(roles(&["welfare", "disaster"]));
        assert!(Audience::Public.admits(&anon));
        assert!(!Audience::Internal.admits(&anon));
        assert!(!restricted.admits(&anon));
        assert!(Audience::Internal.admits(&water));
        assert!(restricted.admits(&welfare));
        assert!(!restricted.admits(&water));
    }

    #[test]
    fn narrower_is_within_broader() {
        let r = Audience::Roles(roles(&["welfare"]));
        assert!(r.is_within(&Audience::Internal));
        assert!(Audience::Internal.is_within(&Audience::Public));
        assert!(!Audience::Public.is_within(&Audience::Internal));
        assert!(!Audience::Internal.is_within(&r));
        assert!(!Audience::Roles(roles(&["water"])).is_within(&r));
    }
}
