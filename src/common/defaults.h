#pragma once

#include <cstddef>
#include <cstdint>

// The default of every setting that more than one layer carries: config::Config (what an
// operator sets, docs/CONFIG.md) and each layer's own configuration struct (what its tests
// construct) both take it from here, so that each default is written once. Why a value is
// what it is stays beside the struct that uses it; docs/CONFIG.md says it for operators.
namespace delayq::defaults {

// HTTP server (http::ServerConfig).
inline constexpr const char* kListen = "127.0.0.1:7700";
inline constexpr int64_t kIoThreads = 2;
inline constexpr uint64_t kMaxBodyBytes = 8 << 20;
inline constexpr uint64_t kMaxHeaderBytes = 16 << 10;
inline constexpr int64_t kIdleTimeoutMs = 60'000;
inline constexpr int64_t kMaxConnections = 10'000;

// Storage (store::StoreConfig, store::RedisClientOptions).
inline constexpr const char* kStore = "rocksdb";
inline constexpr const char* kDataDir = "./data";
inline constexpr int64_t kNearWindowMs = 10'000;
inline constexpr int64_t kNearWindowMaxTasks = 1'000'000;
inline constexpr uint64_t kMinFreeDiskBytes = 64ULL << 20;
inline constexpr const char* kRedisUrl = "redis://127.0.0.1:6379/0";
inline constexpr int64_t kRedisPollMs = 50;
inline constexpr int64_t kRedisConnectTimeoutMs = 500;
inline constexpr int64_t kRedisCommandTimeoutMs = 2'000;
inline constexpr int64_t kRedisWaitReplicas = 0;
inline constexpr int64_t kRedisWaitTimeoutMs = 1'000;

// Engine (engine::EngineConfig, queue::RetryPolicy, engine::TopicLimits).
inline constexpr int64_t kRetentionMs = 72LL * 3600 * 1000;
inline constexpr int64_t kPurgeIntervalMs = 1'000;
inline constexpr int64_t kMaxQueued = 200'000;
inline constexpr int64_t kMaxAttempts = 10;
inline constexpr int64_t kRetryInitialMs = 1'000;
inline constexpr int64_t kRetryMaxMs = 3'600'000;
inline constexpr double kRetryMultiplier = 2.0;
inline constexpr int64_t kCallbackMaxInFlight = 256;
inline constexpr int64_t kCallbackMaxInFlightPerTopic = 64;
inline constexpr int64_t kMetricsMaxTopics = 100;

// Delivery (delivery::HttpClient, the sinks).
inline constexpr int64_t kCallbackTimeoutMs = 10'000;
inline constexpr int64_t kCallbackMaxPerHost = 64;
inline constexpr int64_t kCallbackMaxConnections = 1024;
// A delivering task is due again when no outcome came within the longest delivery may take
// plus this margin (a crash while deliveries were in flight).
inline constexpr int64_t kDeliveryLeaseMarginMs = 5'000;

// API (api::ApiConfig).
inline constexpr uint64_t kMaxPayloadBytes = 1 << 20;
inline constexpr int64_t kMaxDelayMs = 732LL * 24 * 3600 * 1000;  // two years, leap day included

}  // namespace delayq::defaults
