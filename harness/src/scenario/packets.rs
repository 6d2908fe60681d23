//! Stage two for the MQTT steps: raw packet field sets into [`MqttSend`], [`MqttExpect`],
//! [`BrokerSaw`], [`BrokerRefused`] and [`CloudPublish`], with the cross-field rules (one
//! payload form, a packet id exactly when QoS > 0).

use crate::mqtt::QoS;

use super::de::Sp;
use super::error::ErrorKind;
use super::location::Location;
use super::model::{
    BrokerRefused, BrokerSaw, CloudPublish, ConnectSpec, FilterMatch, FilterSpec, MqttExpect,
    MqttSend, Payload, PayloadMatch, PublishMatch, PublishSpec, SeenPacket,
};
use super::raw::{
    HexText, RawCloudPublish, RawFilter, RawMqttExpect, RawMqttSend, RawPublish, RawRefused,
    RawSeen, RawSeenPublish, Text,
};
use super::template::Template;
use super::validate::Ctx;

/// Reads an optional template, keeping "absent" apart from "failed".
fn opt_text(ctx: &mut Ctx<'_>, t: &Option<Sp<Text>>) -> Result<Option<Template>, ()> {
    match t {
        Some(t) => ctx.text(t).map(Some).ok_or(()),
        None => Ok(None),
    }
}

fn opt_qos(ctx: &mut Ctx<'_>, q: &Option<Sp<u8>>) -> Result<Option<QoS>, ()> {
    match q {
        Some(q) => ctx.qos(q).map(Some).ok_or(()),
        None => Ok(None),
    }
}

/// The one payload form given, or an error when several are.
fn payload_forms<'a>(
    ctx: &mut Ctx<'_>,
    at: Location,
    text: &'a Option<Sp<Text>>,
    hex: &'a Option<Sp<HexText>>,
    json: &'a Option<serde_json::Value>,
) -> Result<Option<PayloadForm<'a>>, ()> {
    let forms: Vec<PayloadForm<'a>> = [
        text.as_ref().map(PayloadForm::Text),
        hex.as_ref().map(PayloadForm::Hex),
        json.as_ref().map(PayloadForm::Json),
    ]
    .into_iter()
    .flatten()
    .collect();
    if forms.len() > 1 {
        ctx.error(
            at,
            ErrorKind::Value,
            "give one payload: `payload`, `payload_hex` or `payload_json`, not several",
        );
        return Err(());
    }
    Ok(forms.into_iter().next())
}

enum PayloadForm<'a> {
    Text(&'a Sp<Text>),
    Hex(&'a Sp<HexText>),
    Json(&'a serde_json::Value),
}

fn payload(ctx: &mut Ctx<'_>, form: Option<PayloadForm<'_>>) -> Option<Payload> {
    Some(match form {
        None => Payload::Bytes(Vec::new()),
        Some(PayloadForm::Text(t)) => Payload::Text(ctx.text(t)?),
        Some(PayloadForm::Hex(h)) => Payload::Bytes(ctx.hex(h)?),
        Some(PayloadForm::Json(j)) => Payload::Json(j.clone()),
    })
}

fn payload_match(
    ctx: &mut Ctx<'_>,
    form: Option<PayloadForm<'_>>,
) -> Result<Option<PayloadMatch>, ()> {
    Ok(match form {
        None => None,
        Some(PayloadForm::Text(t)) => Some(PayloadMatch::Text(ctx.text(t).ok_or(())?)),
        Some(PayloadForm::Hex(h)) => Some(PayloadMatch::Bytes(ctx.hex(h).ok_or(())?)),
        Some(PayloadForm::Json(j)) => Some(PayloadMatch::JsonSubset(j.clone())),
    })
}

pub(crate) fn send(ctx: &mut Ctx<'_>, sp: &Sp<RawMqttSend>) -> Option<MqttSend> {
    Some(match &sp.value {
        RawMqttSend::Connect(c) => {
            let client_id = opt_text(ctx, &c.client_id);
            let username = opt_text(ctx, &c.username);
            let password = opt_text(ctx, &c.password);
            let secret = opt_text(ctx, &c.secret);
            MqttSend::Connect(ConnectSpec {
                client_id: client_id.ok()?,
                username: username.ok()?,
                password: password.ok()?,
                secret: secret.ok()?,
                keepalive: c.keepalive,
                clean_session: c.clean_session,
                protocol_level: c.protocol_level,
            })
        }
        RawMqttSend::Publish(p) => MqttSend::Publish(publish(ctx, p)?),
        RawMqttSend::Subscribe(s) => {
            if s.filters.is_empty() {
                ctx.error(
                    sp.mark.location,
                    ErrorKind::Value,
                    "expected at least one filter to subscribe to, found none",
                );
                return None;
            }
            let filters: Vec<Option<FilterSpec>> = s
                .filters
                .iter()
                .map(|f| {
                    let (filter, qos) = filter(ctx, f).ok()?;
                    Some(FilterSpec {
                        filter,
                        qos: qos.unwrap_or(QoS::AtMostOnce),
                    })
                })
                .collect();
            MqttSend::Subscribe {
                packet_id: s.packet_id,
                filters: filters.into_iter().collect::<Option<_>>()?,
            }
        }
        RawMqttSend::Unsubscribe(u) => {
            if u.filters.is_empty() {
                ctx.error(
                    sp.mark.location,
                    ErrorKind::Value,
                    "expected at least one filter to unsubscribe from, found none",
                );
                return None;
            }
            let filters: Vec<Option<Template>> = u.filters.iter().map(|f| ctx.text(f)).collect();
            MqttSend::Unsubscribe {
                packet_id: u.packet_id,
                filters: filters.into_iter().collect::<Option<_>>()?,
            }
        }
        RawMqttSend::Puback(p) => MqttSend::Puback {
            packet_id: super::capture::packet_id(ctx, &p.packet_id)?,
        },
        RawMqttSend::Pubrec(p) => MqttSend::Pubrec {
            packet_id: super::capture::packet_id(ctx, &p.packet_id)?,
        },
        RawMqttSend::Pubrel(p) => MqttSend::Pubrel {
            packet_id: super::capture::packet_id(ctx, &p.packet_id)?,
        },
        RawMqttSend::Pubcomp(p) => MqttSend::Pubcomp {
            packet_id: super::capture::packet_id(ctx, &p.packet_id)?,
        },
        RawMqttSend::Pingreq => MqttSend::Pingreq,
        RawMqttSend::Disconnect => MqttSend::Disconnect,
    })
}

fn filter(ctx: &mut Ctx<'_>, f: &Sp<RawFilter>) -> Result<(Template, Option<QoS>), ()> {
    match &f.value {
        RawFilter::Plain(s) => {
            let text = Sp {
                value: Text(s.clone()),
                mark: f.mark,
                style: f.style,
            };
            Ok((ctx.text(&text).ok_or(())?, None))
        }
        RawFilter::Full(fields) => {
            let filter = ctx.text(&fields.filter);
            let qos = opt_qos(ctx, &fields.qos);
            Ok((filter.ok_or(())?, qos?))
        }
    }
}

fn publish(ctx: &mut Ctx<'_>, sp: &Sp<RawPublish>) -> Option<PublishSpec> {
    let p = &sp.value;
    let at = sp.mark.location;
    let topic = ctx.text(&p.topic);
    let form = payload_forms(ctx, at, &p.payload, &p.payload_hex, &p.payload_json).ok()?;
    let payload = payload(ctx, form);
    let qos = opt_qos(ctx, &p.qos).ok()?.unwrap_or(QoS::AtMostOnce);
    match (qos, p.packet_id) {
        (QoS::AtMostOnce, Some(_)) => {
            ctx.error(
                at,
                ErrorKind::Value,
                "a QoS 0 PUBLISH has no packet id; remove `packet_id` or set `qos: 1`",
            );
            return None;
        }
        (QoS::AtLeastOnce | QoS::ExactlyOnce, None) => {
            ctx.error(
                at,
                ErrorKind::MissingKey,
                format!("missing `packet_id`: a QoS {} PUBLISH needs one", qos as u8),
            );
            return None;
        }
        _ => {}
    }
    Some(PublishSpec {
        topic: topic?,
        payload: payload?,
        qos,
        retain: p.retain.unwrap_or(false),
        dup: p.dup.unwrap_or(false),
        packet_id: p.packet_id,
    })
}

pub(crate) fn expect(ctx: &mut Ctx<'_>, sp: &Sp<RawMqttExpect>) -> Option<MqttExpect> {
    Some(match &sp.value {
        RawMqttExpect::Connack(c) => MqttExpect::Connack {
            session_present: c.session_present,
            return_code: c.return_code,
        },
        RawMqttExpect::Publish(p) => {
            let seen = RawSeenPublish {
                client_id: None,
                topic: p.value.topic.clone(),
                payload: p.value.payload.clone(),
                payload_hex: p.value.payload_hex.clone(),
                payload_json: p.value.payload_json.clone(),
                qos: p.value.qos.clone(),
                retain: p.value.retain,
                dup: p.value.dup,
                packet_id: p.value.packet_id,
            };
            MqttExpect::Publish(publish_match(ctx, p.mark.location, &seen)?)
        }
        RawMqttExpect::Puback(p) => MqttExpect::Puback {
            packet_id: p.packet_id,
        },
        RawMqttExpect::Pubrec(p) => MqttExpect::Pubrec {
            packet_id: p.packet_id,
        },
        RawMqttExpect::Pubrel(p) => MqttExpect::Pubrel {
            packet_id: p.packet_id,
        },
        RawMqttExpect::Pubcomp(p) => MqttExpect::Pubcomp {
            packet_id: p.packet_id,
        },
        RawMqttExpect::Suback(s) => MqttExpect::Suback {
            packet_id: s.packet_id,
            return_codes: s.return_codes.clone(),
        },
        RawMqttExpect::Unsuback(p) => MqttExpect::Unsuback {
            packet_id: p.packet_id,
        },
        RawMqttExpect::Pingresp => MqttExpect::Pingresp,
    })
}

fn publish_match(ctx: &mut Ctx<'_>, at: Location, p: &RawSeenPublish) -> Option<PublishMatch> {
    let topic = opt_text(ctx, &p.topic);
    let form = payload_forms(ctx, at, &p.payload, &p.payload_hex, &p.payload_json);
    let payload = form.and_then(|f| payload_match(ctx, f));
    let qos = opt_qos(ctx, &p.qos);
    Some(PublishMatch {
        topic: topic.ok()?,
        payload: payload.ok()?,
        qos: qos.ok()?,
        retain: p.retain,
        dup: p.dup,
        packet_id: p.packet_id,
    })
}

pub(crate) fn seen(ctx: &mut Ctx<'_>, sp: &Sp<RawSeen>) -> Option<BrokerSaw> {
    let (client_id, packet) = match &sp.value {
        RawSeen::Connect(c) => {
            let client_id = opt_text(ctx, &c.client_id);
            let username = opt_text(ctx, &c.username);
            let packet = SeenPacket::Connect {
                username: username.ok()?,
                keepalive: c.keepalive,
                clean_session: c.clean_session,
            };
            (client_id, packet)
        }
        RawSeen::Publish(p) => {
            let client_id = opt_text(ctx, &p.value.client_id);
            let packet = SeenPacket::Publish(publish_match(ctx, p.mark.location, &p.value)?);
            (client_id, packet)
        }
        RawSeen::Subscribe(s) => {
            let client_id = opt_text(ctx, &s.client_id);
            let filters = match &s.filters {
                Some(list) => {
                    let all: Vec<Option<FilterMatch>> = list
                        .iter()
                        .map(|f| {
                            let (filter, qos) = filter(ctx, f).ok()?;
                            Some(FilterMatch { filter, qos })
                        })
                        .collect();
                    Some(all.into_iter().collect::<Option<Vec<_>>>()?)
                }
                None => None,
            };
            let packet = SeenPacket::Subscribe {
                packet_id: s.packet_id,
                filters,
            };
            (client_id, packet)
        }
        RawSeen::Unsubscribe(u) => {
            let client_id = opt_text(ctx, &u.client_id);
            let filters = match &u.filters {
                Some(list) => {
                    let all: Vec<Option<Template>> = list.iter().map(|f| ctx.text(f)).collect();
                    Some(all.into_iter().collect::<Option<Vec<_>>>()?)
                }
                None => None,
            };
            let packet = SeenPacket::Unsubscribe {
                packet_id: u.packet_id,
                filters,
            };
            (client_id, packet)
        }
        RawSeen::Puback(p) => (
            opt_text(ctx, &p.client_id),
            SeenPacket::Puback {
                packet_id: p.packet_id,
            },
        ),
        RawSeen::Pingreq(b) => (opt_text(ctx, &b.client_id), SeenPacket::Pingreq),
        RawSeen::Disconnect(b) => (opt_text(ctx, &b.client_id), SeenPacket::Disconnect),
    };
    Some(BrokerSaw {
        client_id: client_id.ok()?,
        packet,
    })
}

pub(crate) fn refused(ctx: &mut Ctx<'_>, sp: &Sp<RawRefused>) -> Option<BrokerRefused> {
    let r = &sp.value;
    Some(BrokerRefused {
        client_id: opt_text(ctx, &r.client_id).ok()?,
        code: r.code,
        reason: r.reason.clone(),
    })
}

pub(crate) fn cloud_publish(ctx: &mut Ctx<'_>, sp: &Sp<RawCloudPublish>) -> Option<CloudPublish> {
    let c = &sp.value;
    let topic = ctx.text(&c.topic);
    let form = payload_forms(
        ctx,
        sp.mark.location,
        &c.payload,
        &c.payload_hex,
        &c.payload_json,
    );
    let payload = form.ok().and_then(|f| payload(ctx, f));
    let qos = opt_qos(ctx, &c.qos);
    Some(CloudPublish {
        topic: topic?,
        payload: payload?,
        qos: qos.ok()?.unwrap_or(QoS::AtMostOnce),
        retain: c.retain.unwrap_or(false),
    })
}
