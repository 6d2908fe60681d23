//! Cloud platform vocabulary: Alibaba Cloud and OneNET credentials ([`AliyunCredentials`],
//! [`OneNetCredentials`]), the broker-side checks ([`verify_aliyun`], [`verify_onenet`]) and the device
//! registry ([`DeviceRegistry`]) both sides take device triples from.

pub mod aliyun;
pub mod client_id;
pub mod mismatch;
pub mod onenet;
pub mod registry;
pub mod secret;
pub mod sign;
pub mod verify;

pub use aliyun::{AliyunCredentials, Endpoint};
pub use client_id::{ClientIdError, ClientIdParams, ClientIdProblem};
pub use mismatch::SignDiffers;
pub use onenet::{OneNetAuth, OneNetCredentials, Token, TokenError};
pub use registry::{
    Device, DeviceFileError, DeviceRegistry, DeviceStatus, Platform, RegistryError, SecretError,
    SecretSource,
};
pub use secret::DeviceSecret;
pub use sign::{SignMethod, UnknownSignMethod};
pub use verify::{
    kept_outside, verify_aliyun, verify_aliyun_connect, verify_onenet, verify_onenet_connect,
    Accepted, DeviceLookup, OneNetAccepted, OneNetRefusal, Refusal,
};
