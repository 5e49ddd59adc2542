// delayq: a durable delay-queue service. This file only parses the command line, loads the
// configuration and wires the concrete types together; everything else lives in the
// layers under src/ (docs/ARCHITECTURE.md).

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "api/auth.h"
#include "api/router.h"
#include "cli/commands.h"
#include "config/config.h"
#include "config/etcd_source.h"
#include "delivery/callback_spec.h"
#include "delivery/dispatcher.h"
#include "delivery/http_client.h"
#include "delivery/registry.h"
#include "engine/engine.h"
#include "http/server.h"
#include "store/store.h"

namespace {

using namespace delayq;

void SetUpLogging(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("delayq");
  // Structured, one line per event: ts=... level=... msg="..." key=value.
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%e%z level=%l %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

// Per-topic settings (file `topics` or the config centre) as the API and the engine use
// them. Default callbacks are checked against `registry` like a callback given on an add.
struct TopicTables {
  api::TopicDefaultsTable::Map defaults;
  std::map<std::string, engine::EngineConfig::TopicLimits> limits;
};

Result<TopicTables> BuildTopics(const std::map<std::string, config::Config::Topic>& topics,
                                const delivery::Registry& registry,
                                const engine::EngineConfig::TopicLimits& base) {
  TopicTables tables;
  for (const auto& [name, topic] : topics) {
    engine::EngineConfig::TopicLimits topic_limits = base;
    if (topic.max_in_flight != 0)
      topic_limits.max_in_flight = static_cast<size_t>(topic.max_in_flight);
    topic_limits.rate_limit = topic.rate_limit;
    tables.limits[name] = topic_limits;
    api::TopicDefaults defaults;
    defaults.max_attempts = static_cast<uint32_t>(topic.max_attempts);
    if (!topic.callback_json.empty()) {
      std::string field = "topics." + name + ".callback";
      auto spec = delivery::ParseCallbackObject(topic.callback_json, field);
      if (!spec) return std::unexpected(spec.error());
      if (auto ok = registry.Check(*spec, field); !ok) return std::unexpected(ok.error());
      defaults.callback_json = delivery::EncodeCallbackSpec(*spec);
    }
    tables.defaults[name] = std::move(defaults);
  }
  return tables;
}

int Serve(const config::Config& cfg) {
  SetUpLogging(cfg.log_level);

  // Block the stop signals in every thread; the main thread waits for them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  store::StoreConfig store_config;
  store_config.backend = cfg.store;
  store_config.data_dir = cfg.data_dir;
  store_config.durability =
      cfg.durability == "buffered" ? store::Durability::kBuffered : store::Durability::kFsync;
  store_config.near_window_ms = cfg.near_window_ms;
  store_config.near_window_max_tasks = static_cast<size_t>(cfg.near_window_max_tasks);
  store_config.min_free_disk_bytes = cfg.min_free_disk_bytes;
  store_config.redis_url = cfg.redis_url;
  store_config.redis_poll_ms = cfg.redis_poll_ms;
  store_config.redis_connect_timeout_ms = cfg.redis_connect_timeout_ms;
  store_config.redis_command_timeout_ms = cfg.redis_command_timeout_ms;
  store_config.redis_sentinels = cfg.redis_sentinels;
  store_config.redis_sentinel_master = cfg.redis_sentinel_master;
  store_config.redis_sentinel_user = cfg.redis_sentinel_user;
  store_config.redis_sentinel_password = cfg.redis_sentinel_password;
  store_config.redis_wait_replicas = cfg.redis_wait_replicas;
  store_config.redis_wait_timeout_ms = cfg.redis_wait_timeout_ms;
  auto store = store::OpenStore(store_config);
  if (!store) {
    spdlog::critical("msg=\"cannot open store\" error=\"{}\"", store.error().message);
    return 1;
  }
  // With a shared store the node number is leased, so that no two live instances mint the
  // same ids; the embedded store keeps the configured one.
  auto node_id = (*store)->AcquireNodeId(static_cast<uint32_t>(cfg.node_id));
  if (!node_id) {
    spdlog::critical("msg=\"cannot get a node number\" error=\"{}\"", node_id.error().message);
    return 1;
  }

  // config.source etcd: services and topics come from the config centre. Unreachable or
  // invalid at start-up stops the process (docs/OPERATIONS.md, "Config centre"): serving
  // without the registry would refuse every add naming a service.
  std::unique_ptr<config::EtcdSource> centre;
  config::Dynamic dynamic{cfg.services, cfg.topics};
  if (cfg.config_source == "etcd") {
    centre = std::make_unique<config::EtcdSource>(config::EtcdSource::Options{
        cfg.etcd_endpoints, cfg.etcd_prefix, cfg.etcd_poll_interval_ms, cfg.etcd_timeout_ms});
    auto loaded = centre->Load();
    if (!loaded) {
      spdlog::critical("msg=\"cannot read the config centre\" error=\"{}\"",
                       loaded.error().message);
      std::fprintf(stderr, "delayq: config centre: %s\n", loaded.error().message.c_str());
      return loaded.error().code == Errc::kInvalidArgument ? 2 : 1;
    }
    dynamic = std::move(*loaded);
    spdlog::info("msg=\"config centre read\" prefix={} services={} topics={}", cfg.etcd_prefix,
                 dynamic.services.size(), dynamic.topics.size());
  }

  delivery::Registry registry(dynamic.services, cfg.allow_hosts, cfg.callback_timeout_ms);
  api::ApiConfig limits;
  limits.max_payload_bytes = cfg.max_payload_bytes;
  limits.max_delay_ms = cfg.max_delay_ms;
  limits.access_log = cfg.access_log;
  limits.registry = &registry;
  std::vector<api::TokenGrant> grants;
  for (const auto& rule : cfg.auth_tokens) {
    grants.push_back(
        {rule.token, api::Principal{rule.admin, rule.topics, rule.publish, rule.consume}});
  }
  api::Authenticator authenticator(grants);
  limits.auth = &authenticator;

  engine::EngineConfig engine_config;
  engine_config.node_id = *node_id;
  engine_config.retention_ms = cfg.retention_ms;
  engine_config.purge_interval_ms = cfg.purge_interval_ms;
  engine_config.max_queued = static_cast<size_t>(cfg.max_queued);
  engine_config.default_max_attempts = static_cast<uint32_t>(cfg.max_attempts);
  engine_config.metrics_max_topics = static_cast<size_t>(cfg.metrics_max_topics);
  engine_config.retry = RetryPolicy{cfg.retry_initial_ms, cfg.retry_max_ms, cfg.retry_multiplier};
  // A delivering task is due again if no answer was recorded within the longest allowed
  // callback plus a margin (a crash while callbacks were in flight).
  engine_config.callback_lease_ms = cfg.callback_timeout_ms + 5'000;
  engine_config.max_callbacks_in_flight = static_cast<size_t>(cfg.callback_max_in_flight);
  engine_config.default_topic_limits.max_in_flight =
      static_cast<size_t>(cfg.callback_max_in_flight_per_topic);
  auto topics = BuildTopics(dynamic.topics, registry, engine_config.default_topic_limits);
  if (!topics) {
    std::fprintf(stderr, "delayq: configuration error: %s\n", topics.error().message.c_str());
    return 2;
  }
  engine_config.topic_limits = std::move(topics->limits);
  api::TopicDefaultsTable topic_defaults(std::move(topics->defaults));
  limits.live_topics = &topic_defaults;

  delivery::HttpClient http_client(static_cast<size_t>(cfg.callback_max_per_host),
                                   static_cast<size_t>(cfg.callback_max_connections));
  delivery::Dispatcher dispatcher(registry, http_client, cfg.signing_key);
  http_client.Start();
  engine::Engine engine(**store, SystemClock::Instance(), engine_config, &dispatcher);
  if (auto started = engine.Start(); !started) {
    spdlog::critical("msg=\"cannot start engine\" error=\"{}\"", started.error().message);
    return 1;
  }

  api::Router router(engine, limits);

  http::ServerConfig server_config;
  server_config.listen = cfg.listen;
  server_config.io_threads = static_cast<int>(cfg.io_threads);
  server_config.max_body_bytes = cfg.max_body_bytes;
  server_config.max_header_bytes = cfg.max_header_bytes;
  server_config.idle_timeout = std::chrono::milliseconds(cfg.idle_timeout_ms);
  server_config.max_connections = static_cast<size_t>(cfg.max_connections);
  http::Server server(server_config, router);
  auto bound = server.Start();
  if (!bound) {
    spdlog::critical("msg=\"cannot listen\" error=\"{}\"", bound.error().message);
    engine.Stop();
    return 1;
  }
  if (centre) {
    // Runs on the centre's polling thread. Each table is swapped atomically; a change is
    // checked in full (against a registry holding its services) before any table changes.
    centre->Start([&](const config::Dynamic& change) -> Result<void> {
      delivery::Registry candidate(change.services, cfg.allow_hosts, cfg.callback_timeout_ms);
      auto tables = BuildTopics(change.topics, candidate, engine_config.default_topic_limits);
      if (!tables) return std::unexpected(tables.error());
      registry.ReplaceServices(change.services);
      topic_defaults.Replace(std::move(tables->defaults));
      engine.SetTopicLimits(std::move(tables->limits));
      return {};
    });
  }

  spdlog::info("msg=\"serving\" addr={} data_dir={} durability={} node_id={}", *bound, cfg.data_dir,
               cfg.durability, *node_id);
  // Tests and scripts read the bound address (port 0 picks a free one) from stdout.
  std::printf("delayq listening on http://%s\n", bound->c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("msg=\"stopping\" signal={}", signal_number);
  if (centre) centre->Stop();
  engine.Quiesce();  // long polls answer now, so that the grace period is not spent waiting
  // One budget for the whole stop (requests in flight, then callbacks in flight), so that a
  // stop takes at most shutdown_grace however the time splits between them.
  auto stop_deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.shutdown_grace_ms);
  server.Shutdown(std::chrono::milliseconds(cfg.shutdown_grace_ms));
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      stop_deadline - std::chrono::steady_clock::now());
  if (!engine.WaitForCallbacks(std::max(left, std::chrono::milliseconds(0)))) {
    spdlog::warn("msg=\"callbacks still in flight at shutdown; they will be sent again\"");
  }
  engine.Stop();
  http_client.Stop();
  spdlog::info("msg=\"stopped\"");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "delayq: a durable delay-queue service. `delayq serve` runs the server; the other "
      "subcommands are a client of a running server (README.md)."};
  app.set_version_flag("--version", "delayq 0.1.0");
  app.require_subcommand(1);

  CLI::App* serve = app.add_subcommand("serve", "run the server");
  std::string config_file;
  serve->add_option("--config", config_file, "YAML configuration file (env DELAYQ_CONFIG)");
  std::map<std::string, std::string> flag_values;
  std::vector<std::pair<std::string, CLI::Option*>> flag_options;
  for (const auto& setting : config::Settings()) {
    auto* option = serve->add_option("--" + config::FlagName(setting.key), flag_values[setting.key],
                                     setting.help);
    flag_options.emplace_back(setting.key, option);
  }

  cli::Commands client_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One status for every usage error, client or server side (CLI11's own codes vary by
    // error kind), and the message names the option at fault.
    std::cerr << "delayq: " << e.what() << "\nRun 'delayq --help' or 'delayq <command> --help'.\n";
    return cli::kExitUsage;
  }

  if (auto status = client_commands.Run()) return *status;

  if (serve->parsed()) {
    std::map<std::string, std::string> given;
    for (const auto& [key, option] : flag_options) {
      if (option->count() > 0) given[key] = flag_values[key];
    }
    std::optional<std::string> file;
    if (!config_file.empty()) {
      file = config_file;
    } else {
      file = config::GetEnv("DELAYQ_CONFIG");
    }
    auto cfg = config::LoadConfig(file, given, config::GetEnv);
    if (!cfg) {
      std::cerr << "delayq: configuration error: " << cfg.error().message << "\n";
      return 2;
    }
    return Serve(*cfg);
  }
  return 0;
}
