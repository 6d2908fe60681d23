//! Alibaba Cloud IoT as a [`CloudPlatform`]: one device one secret logins, the CONNACK codes,
//! topic permissions, limits and Alink post replies of the [`CloudProfile`] in force (§ below
//! is the research notes on Alibaba Cloud and OneNET; `docs/cloud-fidelity.md` lists each rule).

use std::sync::Arc;

use super::{CloudPlatform, PostReply, SubscribeVerdict};
use crate::broker::policy::{
    refuse, violation, Admission, ConnectDecision, RefusalKind, TopicMemo, UplinkVerdict,
};
use crate::broker::profile::config::{Implicit, RetainRule, WillRule};
use crate::broker::profile::keepalive::{self, Verdict};
use crate::broker::profile::topics::Permissions;
use crate::broker::profile::{limits, thing, CloudProfile};
use crate::cloud::{verify_aliyun_connect, Device, DeviceRegistry, Platform, Refusal};
use crate::mqtt::{Connect, Publish, QoS};

/// Alibaba Cloud under a profile.
#[derive(Debug, Clone)]
pub struct Aliyun {
    pub profile: Arc<CloudProfile>,
}

impl CloudPlatform for Aliyun {
    fn platform(&self) -> Platform {
        Platform::Aliyun
    }

    /// Every CONNECT no other platform claims: Alibaba Cloud's refusals are the precise ones
    /// for a malformed client id or username.
    fn claims(&self, _connect: &Connect, _devices: &DeviceRegistry) -> bool {
        true
    }

    fn decide_connect(&self, connect: &Connect, devices: &DeviceRegistry) -> ConnectDecision {
        let profile = &self.profile;
        let codes = &profile.login;
        let accepted = match verify_aliyun_connect(connect, devices) {
            Ok(a) => a,
            Err(refusal) => {
                let (kind, code) = match &refusal {
                    Refusal::MalformedClientId(_) | Refusal::UnsupportedSignMethod { .. } => (
                        RefusalKind::MalformedClientId,
                        codes.malformed_client_id_code,
                    ),
                    Refusal::MissingUsername { .. }
                    | Refusal::UsernameNotDnPk { .. }
                    | Refusal::UsernameReversed { .. }
                    | Refusal::MissingPassword { .. } => {
                        (RefusalKind::BadCredentials, codes.bad_credentials_code)
                    }
                    Refusal::UnknownDevice { .. } => {
                        (RefusalKind::UnknownDevice, codes.unknown_device_code)
                    }
                    Refusal::DeviceDisabled { .. } => {
                        (RefusalKind::DeviceDisabled, codes.disabled_device_code)
                    }
                    Refusal::SecretUnavailable { .. } => {
                        (RefusalKind::SecretUnavailable, refusal.connack_code())
                    }
                    Refusal::SignMismatch { .. } | Refusal::SecretSignMismatch { .. } => {
                        (RefusalKind::SignMismatch, codes.sign_mismatch_code)
                    }
                };
                let device = connect.username.as_deref().and_then(|u| {
                    let (dn, pk) = crate::cloud::aliyun::split_username(u)?;
                    devices.find_aliyun(pk, dn)
                });
                return refuse(code, kind, redact(refusal.to_string(), device));
            }
        };
        let mut notes = Vec::new();
        let keepalive = match keepalive::decide(&profile.keepalive, connect.keepalive) {
            Verdict::Refuse { code, detail } => {
                return refuse(code, RefusalKind::KeepaliveOutOfRange, detail)
            }
            Verdict::Accept { effective, note } => {
                notes.extend(note);
                effective
            }
        };
        let keep_will = profile.protocol.will == WillRule::Keep;
        if let (Some(will), false) = (&connect.will, keep_will) {
            notes.push(format!(
                "the CONNECT carries a will on {}; the cloud has no wills, it will never be \
                 published (§2.5)",
                will.topic
            ));
        }
        let implicit = match profile.topics.implicit {
            Implicit::Always => true,
            Implicit::Never => false,
            Implicit::Sdk => accepted.params.other("_ss") == Some("1"),
        };
        let permissions = Permissions::new(
            &profile.topics,
            &accepted.product_key,
            &accepted.device_name,
        );
        let implicit_filters = if implicit {
            permissions.implicit_filters()
        } else {
            Vec::new()
        };
        ConnectDecision::Accept(Admission {
            device: accepted.device,
            platform: Platform::Aliyun,
            upstream_client_id: format!("{}.{}", accepted.product_key, accepted.device_name),
            product_key: accepted.product_key,
            device_name: accepted.device_name,
            onenet_auth: None,
            granted_qos: profile.protocol.granted_qos,
            keepalive,
            keep_will,
            implicit_filters,
            notes,
        })
    }

    /// §2.5, §2.6, §2.7.
    fn uplink(
        &self,
        admission: &Admission,
        publish: &Publish,
        memo: &mut TopicMemo,
    ) -> UplinkVerdict {
        let profile = &self.profile;
        if publish.qos == QoS::ExactlyOnce {
            return violation(
                profile.protocol.qos2_publish,
                format!(
                    "the PUBLISH to {} asks for QoS 2, which the cloud does not support (§2.5)",
                    publish.topic
                ),
            );
        }
        if let Err(why) =
            limits::check_payload(&profile.limits, &publish.topic, publish.payload.len())
        {
            return violation(profile.limits.oversize_payload, why);
        }
        // The topic's form and the device's right to it depend only on the topic, the link
        // and the profile.
        if !memo.allows(profile, &publish.topic) {
            if let Err(why) = limits::check_topic(&profile.limits, &publish.topic) {
                return violation(profile.topics.unpermitted_publish, why);
            }
            let permissions = Permissions::new(
                &profile.topics,
                &admission.product_key,
                &admission.device_name,
            );
            if let Err(why) = permissions.may_publish(&publish.topic) {
                return violation(profile.topics.unpermitted_publish, why);
            }
            memo.remember(profile, &publish.topic);
        }
        if publish.retain && profile.protocol.retain == RetainRule::Clear {
            return UplinkVerdict::Forward {
                publish: Publish {
                    retain: false,
                    ..publish.clone()
                },
                note: Some(format!(
                    "the PUBLISH to {} asks to be retained; the cloud has no retained \
                     messages, it is delivered once and not kept (§2.5)",
                    publish.topic
                )),
            };
        }
        UplinkVerdict::Forward {
            publish: publish.clone(),
            note: None,
        }
    }

    /// §2.6, §2.7: a filter the device may not have gets `80`, the link stays.
    fn subscription(&self, admission: &Admission, filter: &str) -> SubscribeVerdict {
        let profile = &self.profile;
        let checked = limits::check_topic(&profile.limits, filter).and_then(|()| {
            Permissions::new(
                &profile.topics,
                &admission.product_key,
                &admission.device_name,
            )
            .may_subscribe(filter)
        });
        match checked {
            Ok(()) => SubscribeVerdict::Grant,
            Err(why) => SubscribeVerdict::Refuse(why),
        }
    }

    /// The publisher's QoS (seed 002's property set arrived as `30 …`).
    fn delivery_qos(&self, _admission: &Admission, publisher_qos: QoS) -> QoS {
        publisher_qos
    }

    /// The Alink `…/post_reply` (§2.8), at the profile's `thing.reply_qos`.
    fn reply_to(&self, post: &Publish) -> Option<PostReply> {
        let thing = &self.profile.thing;
        let reply = thing::reply_to(thing, &post.topic, &post.payload)?;
        Some(PostReply {
            topic: reply.topic,
            payload: reply.payload,
            code: reply.code,
            qos: QoS::try_from(thing.reply_qos).unwrap_or(QoS::AtMostOnce),
        })
    }
}

/// A device that typed its DeviceSecret where the sign belongs would have it echoed in the
/// refusal's "got …"; cut it out so no log line carries a secret.
fn redact(detail: String, device: Option<&Device>) -> String {
    match device.and_then(|d| d.secret().ok()) {
        Some(secret) if !secret.is_empty() => detail.replace(secret.expose(), "***"),
        _ => detail,
    }
}
