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
#include <expected>
#include <iostream>
#include <memory>
#include <optional>
#include <utility>

#include "api/auth.h"
#include "api/router.h"
#include "cli/commands.h"
#include "cli/listing_commands.h"
#include "cli/schedule_commands.h"
#include "cli/topic_commands.h"
#include "config/config.h"
#include "config/etcd_source.h"
#include "delivery/dispatcher.h"
#include "delivery/http_client.h"
#include "delivery/registry.h"
#include "delivery/sink.h"
#include "engine/engine.h"
#include "http/server.h"
#include "store/store.h"
#include "wiring.h"

namespace {

using namespace delayq;

void SetUpLogging(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("delayq");
  // Structured, one line per event: ts=... level=... msg="..." key=value.
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%e%z level=%l %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

// Blocks the stop signals in every thread (called before any thread starts, so that each
// inherits the mask); the main thread waits for them with sigwait.
sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

// config.source etcd: services and topics come from the config centre (started in *centre).
// Unreachable or invalid at start-up stops the process (docs/OPERATIONS.md, "Config
// centre"): serving without the registry would refuse every add naming a service. Returns
// the exit status on failure.
std::expected<config::Dynamic, int> LoadDynamic(const config::Config& cfg,
                                                std::unique_ptr<config::EtcdSource>* centre) {
  config::Dynamic dynamic{cfg.services, cfg.topics};
  if (cfg.config_source != "etcd") return dynamic;
  *centre = std::make_unique<config::EtcdSource>(config::EtcdSource::Options{
      cfg.etcd_endpoints, cfg.etcd_prefix, cfg.etcd_poll_interval_ms, cfg.etcd_timeout_ms});
  auto loaded = (*centre)->Load();
  if (!loaded) {
    spdlog::critical("msg=\"cannot read the config centre\" error=\"{}\"", loaded.error().message);
    std::fprintf(stderr, "delayq: config centre: %s\n", loaded.error().message.c_str());
    return std::unexpected(loaded.error().code == Errc::kInvalidArgument ? 2 : 1);
  }
  spdlog::info("msg=\"config centre read\" prefix={} services={} topics={}", cfg.etcd_prefix,
               loaded->services.size(), loaded->topics.size());
  return std::move(*loaded);
}

// After a stop signal: answers what is in flight within one shutdown_grace budget (requests
// first, then callbacks), so that a stop takes at most that long however the time splits.
void StopGracefully(const config::Config& cfg, http::Server& server, engine::Engine& engine,
                    delivery::HttpClient& http_client) {
  engine.Quiesce();  // long polls answer now, so that the grace period is not spent waiting
  auto grace = std::chrono::milliseconds(cfg.shutdown_grace_ms);
  auto stop_deadline = std::chrono::steady_clock::now() + grace;
  server.Shutdown(grace);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      stop_deadline - std::chrono::steady_clock::now());
  if (!engine.WaitForCallbacks(std::max(left, std::chrono::milliseconds(0)))) {
    spdlog::warn("msg=\"callbacks still in flight at shutdown; they will be sent again\"");
  }
  engine.Stop();
  http_client.Stop();
}

// Opens the store and gets the node number. With a shared store the node number is leased,
// so that no two live instances mint the same ids; the embedded store keeps the configured
// one. Returns the exit status on failure.
std::expected<std::pair<std::unique_ptr<store::Store>, uint32_t>, int> OpenStoreWithNode(
    const config::Config& cfg) {
  auto store = store::OpenStore(wiring::ToStoreConfig(cfg));
  if (!store) {
    spdlog::critical("msg=\"cannot open store\" error=\"{}\"", store.error().message);
    return std::unexpected(1);
  }
  auto node_id = (*store)->AcquireNodeId(static_cast<uint32_t>(cfg.node_id));
  if (!node_id) {
    spdlog::critical("msg=\"cannot get a node number\" error=\"{}\"", node_id.error().message);
    return std::unexpected(1);
  }
  return std::pair{std::move(*store), *node_id};
}

// The configured sinks. A broker or a Redis that cannot be reached does not stop the start:
// the sink says so in /readyz and /metrics, and due tasks wait in their retry policy
// (docs/OPERATIONS.md). Returns the exit status of a configuration error.
std::optional<int> OpenSinks(const config::Config& cfg,
                             const delivery::SinkAvailability& availability,
                             std::unique_ptr<delivery::KafkaSink>* kafka,
                             std::unique_ptr<delivery::RedisStreamSink>* redis_stream) {
  auto refuse = [](const Error& error) {
    std::fprintf(stderr, "delayq: configuration error: %s\n", error.message.c_str());
    return 2;
  };
  if (availability.kafka) {
    auto sink = delivery::KafkaSink::Create(wiring::ToKafkaSinkConfig(cfg));
    if (!sink) return refuse(sink.error());
    *kafka = std::move(*sink);
  }
  if (availability.redis_stream) {
    auto sink = delivery::RedisStreamSink::Create(wiring::ToRedisStreamSinkConfig(cfg));
    if (!sink) return refuse(sink.error());
    *redis_stream = std::move(*sink);
  }
  return std::nullopt;
}

// The tables the config centre may replace at run time, and what checks a change.
struct LiveTables {
  const config::Config& cfg;
  delivery::Registry& registry;
  api::TopicDefaultsTable& topic_defaults;
  engine::Engine& engine;
  const engine::EngineConfig::TopicLimits& base_limits;
  const delivery::SinkAvailability& sinks;
};

void FollowCentre(config::EtcdSource& centre, LiveTables live) {
  // Runs on the centre's polling thread. Each table is swapped atomically; a change is
  // checked in full (against a registry holding its services) before any table changes.
  centre.Start([live](const config::Dynamic& change) -> Result<void> {
    delivery::Registry candidate(change.services, live.cfg.allow_hosts,
                                 live.cfg.callback_timeout_ms);
    auto tables = wiring::BuildTopics(change.topics, candidate, live.base_limits, live.sinks);
    if (!tables) return std::unexpected(tables.error());
    live.registry.ReplaceServices(change.services);
    live.topic_defaults.Replace(std::move(tables->defaults));
    live.engine.SetTopicLimits(std::move(tables->limits));
    return {};
  });
}

int Serve(const config::Config& cfg) {
  SetUpLogging(cfg.log_level);
  sigset_t stop_signals = BlockStopSignals();

  auto opened = OpenStoreWithNode(cfg);
  if (!opened) return opened.error();
  auto& [store, node_id] = *opened;
  std::unique_ptr<config::EtcdSource> centre;
  auto dynamic = LoadDynamic(cfg, &centre);
  if (!dynamic) return dynamic.error();

  delivery::Registry registry(dynamic->services, cfg.allow_hosts, cfg.callback_timeout_ms);
  api::Authenticator authenticator(wiring::ToTokenGrants(cfg));
  engine::EngineConfig engine_config = wiring::ToEngineConfig(cfg, node_id);
  delivery::SinkAvailability sink_availability = wiring::ToSinkAvailability(cfg);
  auto topics = wiring::BuildTopics(dynamic->topics, registry, engine_config.default_topic_limits,
                                    sink_availability);
  if (!topics) {
    std::fprintf(stderr, "delayq: configuration error: %s\n", topics.error().message.c_str());
    return 2;
  }
  engine_config.topic_limits = std::move(topics->limits);
  api::TopicDefaultsTable topic_defaults(std::move(topics->defaults));
  std::unique_ptr<delivery::KafkaSink> kafka_sink;
  std::unique_ptr<delivery::RedisStreamSink> redis_stream_sink;
  if (auto failed = OpenSinks(cfg, sink_availability, &kafka_sink, &redis_stream_sink)) {
    return *failed;
  }
  delivery::Sinks sinks(kafka_sink.get(), redis_stream_sink.get());
  api::ApiConfig api_config = wiring::ToApiConfig(cfg);
  api_config.registry = &registry;
  api_config.auth = &authenticator;
  api_config.live_topics = &topic_defaults;
  api_config.sinks = &sinks;
  api_config.sink_availability = sink_availability;

  delivery::HttpClient http_client(static_cast<size_t>(cfg.callback_max_per_host),
                                   static_cast<size_t>(cfg.callback_max_connections));
  delivery::Dispatcher dispatcher(registry, http_client, cfg.signing_key, &sinks);
  http_client.Start();
  engine::Engine engine(*store, SystemClock::Instance(), engine_config, &dispatcher);
  if (auto started = engine.Start(); !started) {
    spdlog::critical("msg=\"cannot start engine\" error=\"{}\"", started.error().message);
    return 1;
  }
  api::Router router(engine, api_config);
  http::Server server(wiring::ToServerConfig(cfg), router);
  auto bound = server.Start();
  if (!bound) {
    spdlog::critical("msg=\"cannot listen\" error=\"{}\"", bound.error().message);
    engine.Stop();
    return 1;
  }
  if (centre) {
    FollowCentre(*centre, LiveTables{cfg, registry, topic_defaults, engine,
                                     engine_config.default_topic_limits, sink_availability});
  }

  spdlog::info("msg=\"serving\" addr={} data_dir={} durability={} node_id={}", *bound, cfg.data_dir,
               cfg.durability, node_id);
  // Tests and scripts read the bound address (port 0 picks a free one) from stdout.
  std::printf("delayq listening on http://%s\n", bound->c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("msg=\"stopping\" signal={}", signal_number);
  if (centre) centre->Stop();
  StopGracefully(cfg, server, engine, http_client);
  // Before the engine goes: a sink reports what it still holds as failed, into the engine.
  kafka_sink.reset();
  redis_stream_sink.reset();
  spdlog::info("msg=\"stopped\"");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "delayq: a durable delay-queue service. `delayq serve` runs the server; the other "
      "subcommands are a client of a running server (README.md)."};
  app.set_version_flag("--version", "delayq " DELAYQ_VERSION);
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
  cli::ScheduleCommands schedule_commands(app);
  cli::TopicCommands topic_commands(app);
  cli::ListingCommands listing_commands(app);

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
  if (auto status = schedule_commands.Run()) return *status;
  if (auto status = topic_commands.Run()) return *status;
  if (auto status = listing_commands.Run()) return *status;

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
