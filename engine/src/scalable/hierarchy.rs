//! Limits at three scopes: instance, tenant, user. The narrowest scope that
//! sets a limit wins.

use std::collections::HashMap;

use super::Limits;

/// Where a set of limits applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The whole engine.
    Instance,
    /// One tenant.
    Tenant(String),
    /// One user of one tenant.
    User {
        /// The user's tenant.
        tenant: String,
        /// The user.
        user: String,
    },
}

/// Limits by scope. Tenant and user scopes hold only the limits they
/// override.
#[derive(Debug, Clone, Default)]
pub struct LimitHierarchy {
    instance: Limits,
    tenants: HashMap<String, Limits>,
    users: HashMap<(String, String), Limits>,
}

impl LimitHierarchy {
    /// A hierarchy with instance limits and no overrides.
    pub fn new(instance: Limits) -> LimitHierarchy {
        LimitHierarchy {
            instance,
            ..LimitHierarchy::default()
        }
    }

    /// Sets one limit at one scope.
    pub fn set(&mut self, scope: &Scope, key: &str, value: u64) {
        match scope {
            Scope::Instance => self.instance.set(key, value),
            Scope::Tenant(t) => self.tenants.entry(t.clone()).or_default().set(key, value),
            Scope::User { tenant, user } => self
                .users
                .entry((tenant.clone(), user.clone()))
                .or_default()
                .set(key, value),
        }
    }

    /// The limits in force for a scope: instance, overlaid by the tenant's,
    /// overlaid by the user's.
    pub fn effective(&self, scope: &Scope) -> Limits {
        let tenant = match scope {
            Scope::Instance => return self.instance.clone(),
            Scope::Tenant(t) | Scope::User { tenant: t, .. } => t,
        };
        let mut out = self.instance.clone();
        if let Some(t) = self.tenants.get(tenant) {
            out = out.overlaid(t);
        }
        if let Scope::User { tenant, user } = scope {
            if let Some(u) = self.users.get(&(tenant.clone(), user.clone())) {
                out = out.overlaid(u);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowest_scope_that_sets_a_limit_wins() {
        let mut h = LimitHierarchy::new(
            Limits::new()
                .with(Limits::MAX_ENTRIES, 1_000)
                .with(Limits::MAX_QUEUE_DEPTH, 64),
        );
        h.set(&Scope::Tenant("acme".into()), Limits::MAX_ENTRIES, 100);
        let alice = Scope::User {
            tenant: "acme".into(),
            user: "alice".into(),
        };
        h.set(&alice, Limits::MAX_QUEUE_DEPTH, 8);
        let bob = Scope::User {
            tenant: "acme".into(),
            user: "bob".into(),
        };
        let other = Scope::User {
            tenant: "other".into(),
            user: "alice".into(),
        };

        let e = h.effective(&alice);
        assert_eq!(
            (e.get(Limits::MAX_ENTRIES), e.get(Limits::MAX_QUEUE_DEPTH)),
            (Some(100), Some(8))
        );
        let e = h.effective(&bob);
        assert_eq!(
            (e.get(Limits::MAX_ENTRIES), e.get(Limits::MAX_QUEUE_DEPTH)),
            (Some(100), Some(64))
        );
        let e = h.effective(&other);
        assert_eq!(
            (e.get(Limits::MAX_ENTRIES), e.get(Limits::MAX_QUEUE_DEPTH)),
            (Some(1_000), Some(64))
        );
        assert_eq!(
            h.effective(&Scope::Instance).get(Limits::MAX_ENTRIES),
            Some(1_000)
        );
    }
}
