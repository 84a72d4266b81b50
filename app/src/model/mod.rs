//! The catalog's resources, shaped and serialised exactly like `servicecatalog.k8s.io/v1beta1`
//! (and core `v1` Secrets). Serde only, no I/O: the browser and the server share these types.

pub mod binding;
pub mod catalog;
pub mod condition;
pub mod instance;
pub mod meta;
pub mod phase;
pub mod secret;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub use binding::*;
pub use catalog::*;
pub use condition::{Condition, ConditionStatus};
pub use instance::*;
pub use meta::*;
pub use phase::{Phase, StatusLine, Tone, binding_status, instance_status};
pub use secret::*;

pub const GROUP: &str = "servicecatalog.k8s.io";
pub const VERSION: &str = "v1beta1";
pub const API_VERSION: &str = "servicecatalog.k8s.io/v1beta1";

/// Every kind the portal stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    ClusterServiceBroker,
    ServiceBroker,
    ClusterServiceClass,
    ServiceClass,
    ClusterServicePlan,
    ServicePlan,
    ServiceInstance,
    ServiceBinding,
    Secret,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::ClusterServiceBroker,
        Kind::ServiceBroker,
        Kind::ClusterServiceClass,
        Kind::ServiceClass,
        Kind::ClusterServicePlan,
        Kind::ServicePlan,
        Kind::ServiceInstance,
        Kind::ServiceBinding,
        Kind::Secret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ClusterServiceBroker => "ClusterServiceBroker",
            Kind::ServiceBroker => "ServiceBroker",
            Kind::ClusterServiceClass => "ClusterServiceClass",
            Kind::ServiceClass => "ServiceClass",
            Kind::ClusterServicePlan => "ClusterServicePlan",
            Kind::ServicePlan => "ServicePlan",
            Kind::ServiceInstance => "ServiceInstance",
            Kind::ServiceBinding => "ServiceBinding",
            Kind::Secret => "Secret",
        }
    }

    pub fn parse(kind: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    /// The lower-case plural used in API paths (`serviceinstances`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::ClusterServiceBroker => "clusterservicebrokers",
            Kind::ServiceBroker => "servicebrokers",
            Kind::ClusterServiceClass => "clusterserviceclasses",
            Kind::ServiceClass => "serviceclasses",
            Kind::ClusterServicePlan => "clusterserviceplans",
            Kind::ServicePlan => "serviceplans",
            Kind::ServiceInstance => "serviceinstances",
            Kind::ServiceBinding => "servicebindings",
            Kind::Secret => "secrets",
        }
    }

    pub fn from_plural(plural: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.plural() == plural)
    }

    pub fn short_names(self) -> &'static [&'static str] {
        match self {
            Kind::ClusterServiceBroker => &["csb"],
            Kind::ServiceBroker => &["sb"],
            Kind::ClusterServiceClass => &["csc"],
            Kind::ServiceClass => &["sc"],
            Kind::ClusterServicePlan => &["csp"],
            Kind::ServicePlan => &["sp"],
            Kind::ServiceInstance => &["si"],
            Kind::ServiceBinding => &["sbd"],
            Kind::Secret => &[],
        }
    }

    pub fn namespaced(self) -> bool {
        !matches!(self, Kind::ClusterServiceBroker | Kind::ClusterServiceClass | Kind::ClusterServicePlan)
    }

    pub fn api_version(self) -> &'static str {
        if self == Kind::Secret { "v1" } else { API_VERSION }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A catalog object: `apiVersion`, `kind`, `metadata`, `spec`, `status`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<S, T> {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: S,
    #[serde(default)]
    pub status: T,
}

/// What the store and the API need to know of a typed object.
pub trait Resource: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    const KIND: Kind;
    fn meta(&self) -> &ObjectMeta;
    fn meta_mut(&mut self) -> &mut ObjectMeta;

    /// A new object of this kind with `apiVersion` and `kind` filled in.
    fn new_named(namespace: Option<&str>, name: &str) -> Self
    where
        Self: Default,
    {
        let mut obj = Self::default();
        obj.set_type_meta();
        obj.meta_mut().name = name.to_string();
        obj.meta_mut().namespace = namespace.map(str::to_string);
        obj
    }

    fn set_type_meta(&mut self);
}

macro_rules! impl_resource {
    ($ty:ty, $kind:expr) => {
        impl Resource for $ty {
            const KIND: Kind = $kind;
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
            fn set_type_meta(&mut self) {
                self.api_version = $kind.api_version().to_string();
                self.kind = $kind.as_str().to_string();
            }
        }
    };
}

impl_resource!(ClusterServiceBroker, Kind::ClusterServiceBroker);
impl_resource!(ServiceBroker, Kind::ServiceBroker);
impl_resource!(ClusterServiceClass, Kind::ClusterServiceClass);
impl_resource!(ServiceClass, Kind::ServiceClass);
impl_resource!(ClusterServicePlan, Kind::ClusterServicePlan);
impl_resource!(ServicePlan, Kind::ServicePlan);
impl_resource!(ServiceInstance, Kind::ServiceInstance);
impl_resource!(ServiceBinding, Kind::ServiceBinding);
impl_resource!(Secret, Kind::Secret);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert_eq!(Kind::from_plural(kind.plural()), Some(kind));
        }
        assert!(!Kind::ClusterServicePlan.namespaced());
        assert!(Kind::ServiceInstance.namespaced());
    }
}
