//! The cloud platforms the gateway impersonates, behind one trait: [`CloudPlatform`]. Alibaba
//! Cloud ([`aliyun::Aliyun`]) and China Mobile OneNET ([`onenet::OneNet`]) each decide a
//! CONNECT (and with it the CONNACK code, the SUBACK grant and the implicit subscriptions of
//! the [`Admission`]), what becomes of a PUBLISH or a SUBSCRIBE, at which QoS a downlink
//! arrives, and how the platform answers a device's post. [`CloudPolicy`](super::CloudPolicy)
//! picks the platform a CONNECT claims to be for (the device file's `platform`) and asks it;
//! the session never sees which one answered.

pub mod aliyun;
pub mod onenet;
mod onenet_topics;

pub use aliyun::Aliyun;
pub use onenet::OneNet;

use super::policy::{Admission, ConnectDecision, TopicMemo, UplinkVerdict};
use crate::cloud::{DeviceRegistry, Platform};
use crate::mqtt::{Connect, Publish, QoS};

/// What the platform does with a SUBSCRIBE's filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeVerdict {
    /// Subscribe it upstream; the SUBACK carries the platform's grant.
    Grant,
    /// SUBACK `80` for this filter, keep the link; the text says why.
    Refuse(String),
    /// Close the link; the text says why.
    Disconnect(String),
}

/// A platform's answer to a device's post, published by the cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostReply {
    pub topic: String,
    pub payload: Vec<u8>,
    /// 200, or the error code the payload carries.
    pub code: u16,
    pub qos: QoS,
}

/// One cloud platform's rules, as the gateway asks them. Implementations hold their profile;
/// none does I/O.
pub trait CloudPlatform {
    fn platform(&self) -> Platform;

    /// Whether `connect` is addressed to this platform: its username or client id names one of
    /// the platform's devices (or its form is the platform's).
    fn claims(&self, connect: &Connect, devices: &DeviceRegistry) -> bool;

    /// Accept (with what the login decides for the connection), refuse with a CONNACK code,
    /// or close without one. The admission's `upstream_client_id` is the device's own base
    /// id; the policy numbers it per login.
    fn decide_connect(&self, connect: &Connect, devices: &DeviceRegistry) -> ConnectDecision;

    /// The SUBACK return code for one filter, given rumqttd's: its failure (`80`) stands,
    /// otherwise the grant the login decided whatever was asked (Alibaba Cloud `01` even for
    /// QoS 0 and 2, seed 002; OneNET per auth form).
    fn granted(&self, admission: &Admission, upstream_code: u8) -> u8 {
        if upstream_code & 0x80 != 0 {
            upstream_code
        } else {
            admission.granted_qos
        }
    }

    /// What becomes of a device's PUBLISH. A platform may skip the topic checks `memo` says
    /// passed already for this link under the same profile, and records those that pass.
    fn uplink(
        &self,
        admission: &Admission,
        publish: &Publish,
        memo: &mut TopicMemo,
    ) -> UplinkVerdict;

    /// What becomes of one filter of a device's SUBSCRIBE.
    fn subscription(&self, admission: &Admission, filter: &str) -> SubscribeVerdict;

    /// The QoS a downlink reaches the device at, given its publisher's.
    fn delivery_qos(&self, admission: &Admission, publisher_qos: QoS) -> QoS;

    /// The platform's answer to a PUBLISH that reached the cloud, if it answers that topic.
    fn reply_to(&self, post: &Publish) -> Option<PostReply>;
}

/// One platform's rules under the profiles in force, as [`CloudPolicy`](super::CloudPolicy)
/// hands them out: by value, since the policy asks for them for every PUBLISH (a box each time
/// was an allocation per message).
pub enum Rules {
    Aliyun(Aliyun),
    OneNet(OneNet),
}

impl std::ops::Deref for Rules {
    type Target = dyn CloudPlatform;

    fn deref(&self) -> &Self::Target {
        match self {
            Rules::Aliyun(a) => a,
            Rules::OneNet(o) => o,
        }
    }
}
