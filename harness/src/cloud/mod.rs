//! Cloud platform vocabulary: Alibaba Cloud and OneNET credentials, topics and replies.
