//! `keyward`: parse redis-server-style flags, start the server, wait for a
//! signal or SHUTDOWN.

use std::process::ExitCode;

use tracing::{error, info, warn};

// mimalloc: chosen by measurement (mem-per-key.sh); see README "Memory".
// Counted, so INFO's used_memory is the allocator's own figure.
#[global_allocator]
static GLOBAL: keyward::alloc::Counting<mimalloc::MiMalloc> =
    keyward::alloc::Counting(mimalloc::MiMalloc);

const HELP: &str = "keyward — a Redis-compatible server with isolated databases

Usage: keyward [CONFIG.toml | redis.conf] [--option value ...]
       keyward proxy --upstream redis[s]://[user:pass@]host:port [CONFIG.toml] [--option value ...]

Options use redis-server's names, e.g.:
  --port 6379 --bind 127.0.0.1 ::1 --requirepass PASS --databases 16
  --timeout 0 --maxclients 10000 --protected-mode yes --loglevel notice
  --config FILE (TOML or redis.conf; see README)
Unsupported redis-server options are logged and ignored.

  keyward --ping [--host H] [--port N | --unixsocket PATH] [--user U] [--pass P]
               [--tls --cacert FILE [--cert FILE --key FILE] [--sni NAME]]
      health check: exit 0 on PONG, 1 otherwise ($PORT, $REDIS_PASSWORD)
  keyward --check-config FILE [--option value ...]
      validate a configuration and print its databases and users";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // One-shot modes, before redis-server's flag grammar (which would take
    // them for unknown flags and start a server).
    match args.first().map(String::as_str) {
        Some("--ping") => return ExitCode::from(keyward::ops::ping::main(&args[1..])),
        Some("--check-config") => return ExitCode::from(keyward::ops::check::main(&args[1..])),
        _ => {}
    }
    let mut args = args;
    // `keyward proxy --upstream URL …`: the same flags and file as the
    // server, in front of an upstream Redis.
    let proxy_mode = args.first().is_some_and(|a| a == "proxy");
    let mut upstream = None;
    if proxy_mode {
        args.remove(0);
        if let Some(i) = args.iter().position(|a| a == "--upstream") {
            args.remove(i);
            if i >= args.len() || args[i].starts_with("--") {
                eprintln!(
                    "keyward proxy: --upstream needs a redis://host:port or rediss://host:port URL"
                );
                return ExitCode::from(1);
            }
            upstream = Some(args.remove(i));
        }
    }
    let mut cli = match keyward::config::parse_args(args) {
        Ok(c) => c,
        // redis.conf errors in Redis's own layout, as redis-server prints them.
        Err(e @ keyward::config::ConfigError::Fatal(_)) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("keyward: {e}");
            return ExitCode::from(1);
        }
    };
    if proxy_mode {
        // The keyspace is upstream: nothing to load or save here.
        cli.config.persistence = false;
        cli.config.appendonly = false;
        if upstream.is_some() {
            cli.config.proxy.upstream = upstream;
        }
        match cli.config.proxy.upstream.as_deref() {
            None if !cli.help && !cli.version => {
                eprintln!(
                    "keyward proxy: needs --upstream redis[s]://host:port (or [proxy] upstream)"
                );
                return ExitCode::from(1);
            }
            Some(u) => {
                if let Err(e) = keyward::proxy::Upstream::parse(u) {
                    eprintln!("keyward proxy: {e}");
                    return ExitCode::from(1);
                }
            }
            None => {}
        }
    } else {
        // A `[proxy]` table only matters to `keyward proxy`.
        cli.config.proxy.upstream = None;
    }
    if cli.help {
        println!("{HELP}");
        return ExitCode::SUCCESS;
    }
    if cli.version {
        println!(
            "keyward {} (redis_version {})",
            keyward::server::KEYWARD_VERSION,
            keyward::server::REDIS_VERSION
        );
        return ExitCode::SUCCESS;
    }
    // redis-server's check: with no TCP port, TLS port or unix socket it
    // would serve nobody. (Embedding keeps `port 0` = a free port.)
    if cli.config.port == 0 && cli.config.tls.port == 0 && cli.config.unixsocket.is_empty() {
        eprintln!("keyward: Configured to not listen anywhere, exiting.");
        return ExitCode::from(1);
    }
    let level = match cli.config.loglevel.as_str() {
        "debug" => "debug",
        "verbose" => "info",
        "warning" => "warn",
        "nothing" => "off",
        _ => "info",
    };
    if let Err(e) = keyward::ops::log::init(level, &cli.config.logfile, &cli.config.log_format) {
        // Redis refuses the configuration the same way.
        eprintln!("keyward: {e}");
        return ExitCode::from(1);
    }
    for flag in &cli.ignored {
        warn!(flag = %flag, "option not supported by keyward; ignored");
    }
    if cli.config.disable_thp {
        disable_thp();
    }
    // As redis-server: systemd hears "loading" now and READY=1 once the
    // dataset is loaded; the pid file exists from before loading until exit.
    let supervisor = keyward::ops::notify::Supervisor::start(&cli.config.supervised);
    let _pidfile = keyward::ops::PidFile::create(&cli.config.pidfile);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    // Freed memory goes back to the OS while idle: a worker collects its
    // heap as it parks when the cron asked for it (see `keyward::alloc`).
    builder.on_thread_park(keyward::alloc::on_park);
    // `io-threads`: 1 by default, as redis-server. One worker measured best
    // on 2 cores (compare.sh paired geomean 1.105 vs 1.032 with a worker
    // per core; P16 1.4-1.5x; EVALSHA CPU 55 vs 80 us/call): with two, the
    // workers park and wake each other, and scripts contend for the Lua
    // engine. 0 = one worker per core.
    if cli.config.io_threads > 0 {
        builder.worker_threads(cli.config.io_threads);
    }
    let runtime = match builder.build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("keyward: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let mut signals = Signals::install();
        let mut server = match keyward::Server::builder().config(cli.config).start().await {
            Ok(s) => s,
            Err(e) => {
                error!(error = %e, "cannot start");
                return ExitCode::from(1);
            }
        };
        supervisor.ready();
        let shared = server.shared().clone();
        let mut requested = shared.shutdown_rx();
        loop {
            tokio::select! {
                _ = keyward::server::Shared::shutdown_requested(&mut requested) => {
                    supervisor.stopping();
                    server.stopped().await;
                    info!("SHUTDOWN received; bye");
                    break;
                }
                sig = signals.recv() => {
                    // Redis's serverCron on shutdown_asap: SHUTDOWN with the
                    // flags `shutdown-on-<signal>` gives.
                    let flags = {
                        let c = shared.config.read();
                        keyward::server::ShutdownFlags::parse(match sig {
                            Sig::Int => &c.shutdown_on_sigint,
                            Sig::Term => &c.shutdown_on_sigterm,
                        })
                    };
                    warn!("Received {} scheduling shutdown...", sig.name());
                    supervisor.stopping();
                    let done = tokio::select! {
                        r = server.try_shutdown(flags) => r.is_ok(),
                        again = signals.recv() => {
                            if again == Sig::Int {
                                // A second Ctrl+C: quit without persisting.
                                // exit(1) as Redis: not a clean shutdown,
                                // and no waiting for the save under way.
                                warn!("You insist... exiting now.");
                                std::process::exit(1);
                            }
                            // Redis ignores a repeated SIGTERM; finish.
                            server.try_shutdown(flags).await.is_ok()
                        }
                    };
                    if done {
                        break;
                    }
                }
            }
        }
        if shared
            .persist
            .fatal
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            // The AOF failed under `appendfsync always`: exit(1), as Redis.
            return ExitCode::from(1);
        }
        ExitCode::SUCCESS
    })
}

/// `disable-thp yes`: no transparent huge pages for this process (Redis's
/// default, for its fork's sake). keyward's default is no: huge pages are
/// worth 12-20% on pipelined 1 KiB GET/SET (compare.sh), and the one place
/// they hurt, faulting in a whole dataset at load, runs without them anyway.
fn disable_thp() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with integer arguments only; it changes this
        // process's THP setting and touches no memory of ours.
        let r = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if r != 0 {
            warn!(error = %std::io::Error::last_os_error(), "disable-thp: prctl failed");
        }
    }
}

/// SIGTERM and SIGINT, caught from before the server starts: one that
/// arrives while the dataset loads, or just after READY=1, must shut down
/// gracefully rather than kill the process.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next SIGTERM or SIGINT.
    async fn recv(&mut self) -> Sig {
        #[cfg(unix)]
        {
            async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = one(&mut self.term) => Sig::Term,
                _ = one(&mut self.int) => Sig::Int,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Sig::Int
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sig {
    Int,
    Term,
}

impl Sig {
    fn name(self) -> &'static str {
        match self {
            Sig::Int => "SIGINT",
            Sig::Term => "SIGTERM",
        }
    }
}
