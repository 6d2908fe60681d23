//! The broker side: a gateway that impersonates Alibaba Cloud in front of an embedded rumqttd.
//! Only this folder imports rumqttd.
